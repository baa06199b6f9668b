/** A member is named by the address it listens on, `host:port`; that string is its identity on the ring. */
export type MemberAddress = string;

export type MemberStatus = 'alive' | 'suspect' | 'dead' | 'left';

export interface MemberInfo {
  address: MemberAddress;
  status: MemberStatus;
}

/** A member as gossip carries it: its status plus the incarnation that status was stated at. */
export interface MemberState extends MemberInfo {
  /** Raised only by the member itself, to refute suspicion; a higher incarnation wins. */
  incarnation: number;
}

const STATUS_RANK: Readonly<Record<MemberStatus, number>> = { alive: 0, suspect: 1, dead: 2, left: 3 };

/**
 * Whether `update` should replace `current`: a higher incarnation wins; at the same incarnation the graver status
 * wins (left > dead > suspect > alive), so a member can clear suspicion only by raising its incarnation.
 */
export function overrides(update: MemberState, current: MemberState | undefined): boolean {
  if (current === undefined) return true;
  if (update.incarnation !== current.incarnation) return update.incarnation > current.incarnation;
  return STATUS_RANK[update.status] > STATUS_RANK[current.status];
}

export const MEMBER_STATUSES: readonly MemberStatus[] = ['alive', 'suspect', 'dead', 'left'];

export function isMemberState(input: unknown): input is MemberState {
  if (typeof input !== 'object' || input === null) return false;
  const { address, status, incarnation } = input as Record<string, unknown>;
  return (
    typeof address === 'string' &&
    address.length > 0 &&
    address.length <= 300 &&
    MEMBER_STATUSES.includes(status as MemberStatus) &&
    Number.isSafeInteger(incarnation) &&
    (incarnation as number) >= 0
  );
}

const ADDRESS = /^(?<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(?<port>\d{1,5})$/;

/** Validates and normalises `host:port`; `localhost` stays as written, since the address is an identity. */
export function parseAddress(input: string): { host: string; port: number; address: MemberAddress } {
  const match = ADDRESS.exec(input.trim());
  const port = Number(match?.groups?.port);
  if (!match?.groups?.host || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new TypeError(
      `Expected a member address as \`host:port\` with a port from 1 to 65535, got \`${input}\``,
    );
  }
  const host = match.groups.host.replace(/^\[|\]$/g, '');
  return { host, port, address: formatAddress(host, port) };
}

export function formatAddress(host: string, port: number): MemberAddress {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Parses a comma-separated member list, dropping blanks and duplicates. */
export function parseMemberList(input: string | readonly string[] | undefined): MemberAddress[] {
  const parts =
    typeof input === 'string' ? input.split(',') : (input ?? []).flatMap((part) => part.split(','));
  const seen = new Set<MemberAddress>();
  for (const part of parts) {
    if (part.trim() === '') continue;
    seen.add(parseAddress(part).address);
  }
  return [...seen];
}
