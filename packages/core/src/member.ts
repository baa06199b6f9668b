/** A member is named by the address it listens on, `host:port`; that string is its identity on the ring. */
export type MemberAddress = string;

export type MemberStatus = 'alive' | 'suspect' | 'dead' | 'left';

/**
 * Where a member stands in owning data, apart from whether it is up. A `joining` member receives the writes of the
 * ranges it will own but serves no reads until it holds their data, and then turns `normal`; a `leaving` member
 * still serves its ranges until their new owners hold them, and then leaves (status `left`).
 */
export type MemberPhase = 'joining' | 'normal' | 'leaving';

export interface MemberInfo {
  address: MemberAddress;
  status: MemberStatus;
  /** Left out for a member this node knows only as a seed it was given. */
  phase?: MemberPhase;
  /**
   * `false` for a member known only as an address in some node's `-C`: nothing it said has reached this node,
   * directly or by gossip, so the address may be wrong. Left out once it has.
   */
  answered?: false;
}

/** A member as gossip carries it: its status plus the incarnation that status was stated at. */
export interface MemberState extends MemberInfo {
  /** Raised only by the member itself, to refute suspicion; a higher incarnation wins. */
  incarnation: number;
  /**
   * The id of the ring (every member that has not left) for which this member holds all the data of the ranges it
   * is about to own: a leaving member leaves once every new owner has said so for the ring of its leave.
   */
  filled?: string;
  /**
   * Set on a `left` entry whose address turned out to be another name of a member (a second address, a DNS name,
   * `localhost`): the address that member advertises. Such an entry is on no ring and in no member list; gossip
   * carries it so that every node drops the other name too.
   */
  aliasOf?: MemberAddress;
}

const PHASE_RANK: Readonly<Record<MemberPhase, number>> = { joining: 0, normal: 1, leaving: 2 };

/**
 * The state to keep when `update` overrides `current` (see `overrides`). A member's phase only moves forward
 * (joining, normal, leaving) within one life, so a restarted member that says `joining` before it has heard that
 * the cluster counts it `normal` cannot take its ranges back; a member that left starts a new life.
 */
export function mergeState(current: MemberState | undefined, update: MemberState): MemberState {
  if (current === undefined || current.status === 'left') return { ...update };
  const next = { ...update };
  if (
    current.phase !== undefined &&
    (next.phase === undefined || PHASE_RANK[current.phase] > PHASE_RANK[next.phase])
  ) {
    next.phase = current.phase;
  }
  if (next.filled === undefined && current.filled !== undefined) next.filled = current.filled;
  return next;
}

/** Whether `phase` is later in a member's life than `than`. */
export function isLaterPhase(phase: MemberPhase | undefined, than: MemberPhase | undefined): boolean {
  return phase !== undefined && (than === undefined || PHASE_RANK[phase] > PHASE_RANK[than]);
}

const STATUS_RANK: Readonly<Record<MemberStatus, number>> = { alive: 0, suspect: 1, dead: 2, left: 3 };

/**
 * Whether `update` should replace `current`: a higher incarnation wins; at the same incarnation the graver status
 * wins (left > dead > suspect > alive), so a member can clear suspicion only by raising its incarnation; at the
 * same status, the later phase (an operator moving a dead member to `leaving` on its behalf).
 */
export function overrides(update: MemberState, current: MemberState | undefined): boolean {
  if (current === undefined) return true;
  if (update.incarnation !== current.incarnation) return update.incarnation > current.incarnation;
  if (update.status !== current.status) return STATUS_RANK[update.status] > STATUS_RANK[current.status];
  return isLaterPhase(update.phase, current.phase);
}

export const MEMBER_STATUSES: readonly MemberStatus[] = ['alive', 'suspect', 'dead', 'left'];
export const MEMBER_PHASES: readonly MemberPhase[] = ['joining', 'normal', 'leaving'];

export function isMemberState(input: unknown): input is MemberState {
  if (typeof input !== 'object' || input === null) return false;
  const { address, status, incarnation, phase, filled, aliasOf } = input as Record<string, unknown>;
  return (
    typeof address === 'string' &&
    address.length > 0 &&
    address.length <= 300 &&
    MEMBER_STATUSES.includes(status as MemberStatus) &&
    Number.isSafeInteger(incarnation) &&
    (incarnation as number) >= 0 &&
    (phase === undefined || MEMBER_PHASES.includes(phase as MemberPhase)) &&
    (filled === undefined || (typeof filled === 'string' && filled.length <= 300)) &&
    (aliasOf === undefined || (typeof aliasOf === 'string' && aliasOf.length > 0 && aliasOf.length <= 300))
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
