import { cryptoHasher, HashRing, type RingInfo } from '@kvdb/core';

/**
 * A client's picture of the cluster: the nodes it may call, which of them are down, and (once a node has told it)
 * the ring that serves reads, from which it names each key's replicas exactly as the nodes' `locate` does. The
 * picture may be stale: any node coordinates any key, so a stale ring costs a hop, never a wrong answer.
 */
export class ClusterMap {
  private addresses: string[];
  private ring: HashRing | undefined;
  private replicas = 0;
  private readonly down = new Set<string>();
  private turn = 0;

  constructor(private readonly seeds: readonly string[]) {
    this.addresses = [...seeds];
  }

  /** Every node the client may call: the seeds until a node names the members, then the members. */
  get nodes(): readonly string[] {
    return this.addresses;
  }

  /** Whether the client knows the ring, and so routes each key to its replicas. */
  get routing(): boolean {
    return this.ring !== undefined;
  }

  /**
   * Takes the ring a node advertised. A ring this client cannot rebuild to the same id (a hasher node:crypto here
   * does not have) is used for the member list only. Returns whether the member list changed.
   */
  learnRing(info: RingInfo): boolean {
    let ring: HashRing | undefined;
    try {
      ring = new HashRing(info.members, { vnodes: info.vnodes, hasher: cryptoHasher(info.hasher) });
    } catch {}
    this.ring = ring?.id === info.id ? ring : undefined;
    this.replicas = info.replicas;
    return this.learnMembers(info.members);
  }

  /** Takes a member list (`list_members` of a node that has no `ring` method); returns whether it changed. */
  learnMembers(members: readonly string[]): boolean {
    if (members.length === 0) return false;
    const next = [...new Set(members)].sort();
    const changed = next.join(',') !== [...this.addresses].sort().join(',');
    this.addresses = next;
    for (const address of this.down) if (!next.includes(address)) this.down.delete(address);
    return changed;
  }

  isDown(address: string): boolean {
    return this.down.has(address);
  }

  /** Marks a node down; returns whether it was up. */
  markDown(address: string): boolean {
    if (this.down.has(address)) return false;
    this.down.add(address);
    return true;
  }

  /** Marks a node up; returns whether it was down. */
  markUp(address: string): boolean {
    return this.down.delete(address);
  }

  /** The nodes marked down. */
  get downNodes(): string[] {
    return [...this.down];
  }

  /**
   * The nodes to try for a call, best first: the key's replicas that are up (taking turns, so that replicas share
   * the coordinating), then the other nodes that are up, then the nodes marked down, as a last resort. `pinned`
   * keeps the seeds' order instead of taking turns: calls whose answer depends on the node (`stats`) go to the
   * first node given that is up.
   */
  candidates(key: string | undefined, pinned = false): string[] {
    const turn = this.turn++;
    const all = pinned ? this.pinnedOrder() : rotated(this.addresses, turn);
    const up = all.filter((address) => !this.down.has(address));
    const down = all.filter((address) => this.down.has(address));
    if (key === undefined || this.ring === undefined || pinned) return [...up, ...down];
    const replicas = this.ring.preferenceList(key, this.replicas).filter((address) => up.includes(address));
    const first = rotated(replicas, turn);
    return [...first, ...up.filter((address) => !replicas.includes(address)), ...down];
  }

  private pinnedOrder(): string[] {
    const seeds = this.seeds.filter((address) => this.addresses.includes(address));
    return [...seeds, ...this.addresses.filter((address) => !seeds.includes(address))];
  }
}

function rotated(list: readonly string[], turn: number): string[] {
  const start = list.length === 0 ? 0 : turn % list.length;
  return [...list.slice(start), ...list.slice(0, start)];
}
