import {
  HashRing,
  type HashRingInit,
  type MemberAddress,
  type MemberInfo,
  type MemberState,
  type MemberStatus,
  overrides,
} from '@kvdb/core';

export type { MemberState } from '@kvdb/core';

export type MembershipListener = (change: {
  address: MemberAddress;
  from?: MemberStatus;
  to: MemberStatus;
}) => void;

/**
 * This node's view of the cluster: every member with its status and incarnation. Updates merge by SWIM's rule
 * (`overrides`). The hash ring is built from every member that has not left, so a failure changes who is asked
 * (routing), never who owns a key; only join and leave move data.
 */
export class Membership {
  readonly self: MemberAddress;
  private readonly members = new Map<MemberAddress, MemberState>();
  private readonly ringInit: HashRingInit;
  private readonly listeners = new Set<MembershipListener>();
  private readonly ringListeners = new Set<(ring: HashRing) => void>();
  private cachedRing: HashRing | undefined;

  /**
   * @param incarnation this node's starting incarnation; a start time in ms makes a restarted node's word
   *   override what the cluster remembers of its previous run.
   */
  constructor(
    self: MemberAddress,
    seeds: Iterable<MemberAddress> = [],
    ringInit: HashRingInit = {},
    incarnation = 0,
  ) {
    this.self = self;
    this.ringInit = ringInit;
    this.members.set(self, { address: self, status: 'alive', incarnation });
    for (const seed of seeds) {
      if (!this.members.has(seed)) this.members.set(seed, { address: seed, status: 'alive', incarnation: 0 });
    }
  }

  /** The ring over every member that has not left. */
  get ring(): HashRing {
    this.cachedRing ??= new HashRing(
      [...this.members.values()].filter((m) => m.status !== 'left').map((m) => m.address),
      this.ringInit,
    );
    return this.cachedRing;
  }

  /** This node's own state (always a member of its own list). */
  get own(): MemberState {
    const own = this.members.get(this.self);
    if (own === undefined) throw new Error(`${this.self} is missing from its own member list`);
    return { ...own };
  }

  list(): MemberInfo[] {
    return [...this.members.values()]
      .map(({ address, status }) => ({ address, status }))
      .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  }

  get(address: MemberAddress): MemberState | undefined {
    const state = this.members.get(address);
    return state === undefined ? undefined : { ...state };
  }

  states(): MemberState[] {
    return [...this.members.values()].map((state) => ({ ...state }));
  }

  /** Other members whose status is one of `statuses`. */
  others(...statuses: MemberStatus[]): MemberAddress[] {
    const result: MemberAddress[] = [];
    for (const { address, status } of this.members.values()) {
      if (address !== this.self && statuses.includes(status)) result.push(address);
    }
    return result;
  }

  isAlive(address: MemberAddress): boolean {
    return this.members.get(address)?.status === 'alive';
  }

  /** Merges news of a member by SWIM's rule; resolves whether anything changed. */
  apply(update: MemberState): boolean {
    return this.applyAll([update]).length > 0;
  }

  /**
   * Merges a batch of news (a push-pull's whole member list, a probe's piggybacked updates) by SWIM's rule and
   * returns the updates that changed anything. Status listeners hear of each member; the ring is rebuilt, and
   * ring listeners told, once for the batch: a node joining a cluster of N learns N members at once, and a ring
   * build per member would hold it up for O(N²) token hashes.
   */
  applyAll(updates: Iterable<MemberState>): MemberState[] {
    const changed: MemberState[] = [];
    let ringChanged = false;
    for (const update of updates) {
      const current = this.members.get(update.address);
      if (!overrides(update, current)) continue;
      ringChanged = this.store(update, current) || ringChanged;
      changed.push(update);
    }
    if (ringChanged) this.rebuildRing();
    return changed;
  }

  /**
   * Sets a member's state outright (for this node's own decisions: suspecting, refuting, leaving); returns the
   * state set.
   */
  update(address: MemberAddress, status: MemberStatus, incarnation?: number): MemberState {
    const current = this.members.get(address);
    const next = { address, status, incarnation: incarnation ?? current?.incarnation ?? 0 };
    this.set(next, current);
    return { ...next };
  }

  onChange(listener: MembershipListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called with the new ring whenever a member joins or leaves. */
  onRingChange(listener: (ring: HashRing) => void): () => void {
    this.ringListeners.add(listener);
    return () => this.ringListeners.delete(listener);
  }

  private set(next: MemberState, current: MemberState | undefined): void {
    if (this.store(next, current)) this.rebuildRing();
  }

  /**
   * Records a member's state and tells the status listeners; returns whether the ring's member set changed. The
   * ring itself is left as it was, for the caller to rebuild once.
   */
  private store(next: MemberState, current: MemberState | undefined): boolean {
    this.members.set(next.address, { ...next });
    if (current?.status !== next.status) {
      for (const listener of this.listeners)
        listener({ address: next.address, from: current?.status, to: next.status });
    }
    return current === undefined || (current.status === 'left') !== (next.status === 'left');
  }

  private rebuildRing(): void {
    this.cachedRing = undefined;
    const ring = this.ring;
    for (const listener of this.ringListeners) listener(ring);
  }
}
