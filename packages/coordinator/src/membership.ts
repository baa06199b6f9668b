import {
  type HashRing,
  type HashRingInit,
  type MemberAddress,
  type MemberInfo,
  type MemberPhase,
  type MemberState,
  type MemberStatus,
  mergeState,
  overrides,
  type ReplicationSetting,
  replacesSetting,
} from '@kvdb/core';
import { Placement } from './placement.js';

export type { MemberState } from '@kvdb/core';

export type MembershipListener = (change: {
  address: MemberAddress;
  from?: MemberStatus;
  to: MemberStatus;
}) => void;

/**
 * This node's view of the cluster: every member with its status, phase and incarnation. Updates merge by SWIM's
 * rule (`overrides`, then `mergeState`). Who holds which key follows from the members that have not left and their
 * phases (see `Placement`), so a failure changes who is asked (routing), never who owns a key; only joins and
 * leaves move data.
 */
export class Membership {
  readonly self: MemberAddress;
  private readonly members = new Map<MemberAddress, MemberState>();
  private readonly ringInit: HashRingInit;
  private readonly listeners = new Set<MembershipListener>();
  private readonly ringListeners = new Set<(placement: Placement) => void>();
  private readonly replicationListeners = new Set<(setting: ReplicationSetting) => void>();
  private cachedPlacement: Placement | undefined;
  private previousPlacement: Placement | undefined;
  private replicationSetting: ReplicationSetting | undefined;
  private conflict: ReplicationSetting | undefined;

  /**
   * @param incarnation this node's starting incarnation; a start time in ms makes a restarted node's word
   *   override what the cluster remembers of its previous run.
   * @param phase this node's starting phase: `joining` for a node that must fetch its ranges' data before it
   *   serves them, `normal` for a founding member.
   */
  constructor(
    self: MemberAddress,
    seeds: Iterable<MemberAddress> = [],
    ringInit: HashRingInit = {},
    incarnation = 0,
    phase: MemberPhase = 'normal',
  ) {
    this.self = self;
    this.ringInit = ringInit;
    this.members.set(self, { address: self, status: 'alive', incarnation, phase });
    for (const seed of seeds) {
      if (!this.members.has(seed)) this.members.set(seed, { address: seed, status: 'alive', incarnation: 0 });
    }
  }

  /** Which members hold which keys, from the members' phases. */
  get placement(): Placement {
    if (this.cachedPlacement === undefined) {
      this.cachedPlacement = new Placement(
        this.members.values(),
        this.ringInit,
        this.previousPlacement,
        this.replicationSetting,
      );
      this.previousPlacement = this.cachedPlacement;
    }
    return this.cachedPlacement;
  }

  /** The ring of the members that serve reads: the placement's `read` ring. */
  get ring(): HashRing {
    return this.placement.read;
  }

  /** This node's own state (always a member of its own list). */
  get own(): MemberState {
    const own = this.members.get(this.self);
    if (own === undefined) throw new Error(`${this.self} is missing from its own member list`);
    return { ...own };
  }

  /** Every member, sorted by address; another name of a member (`aliasOf`) is not one. */
  list(): MemberInfo[] {
    return [...this.members.values()]
      .filter((state) => state.aliasOf === undefined)
      .map(
        ({ address, status, phase }): MemberInfo =>
          phase === undefined ? { address, status, answered: false } : { address, status, phase },
      )
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
      ringChanged = this.store(mergeState(current, update), current) || ringChanged;
      changed.push(update);
    }
    if (ringChanged) this.rebuildRing();
    return changed;
  }

  /**
   * Sets a member's status outright (for this node's own decisions: suspecting, refuting, leaving), keeping its
   * phase; returns the state set.
   */
  update(address: MemberAddress, status: MemberStatus, incarnation?: number): MemberState {
    const current = this.members.get(address);
    const next = { ...current, address, status, incarnation: incarnation ?? current?.incarnation ?? 0 };
    this.set(next, current);
    return { ...next };
  }

  /**
   * Changes this node's own phase or `filled` mark at a raised incarnation, so that it overrides what every other
   * member holds of it; returns the state set, for the caller to spread.
   */
  restate(change: Pick<MemberState, 'phase' | 'filled'>): MemberState {
    const current = this.own;
    const next = { ...current, ...change, incarnation: current.incarnation + 1 };
    this.set(next, current);
    return { ...next };
  }

  /** The cluster's replication factor as this node knows it, without a copy of the setting: read per request. */
  get agreedReplicas(): number | undefined {
    return this.replicationSetting?.replicas;
  }

  /** The cluster's replication setting as this node knows it; none before it has heard of one. */
  get replication(): ReplicationSetting | undefined {
    return this.replicationSetting === undefined ? undefined : { ...this.replicationSetting };
  }

  /** Merges news of the replication setting (last writer wins, see `replacesSetting`); returns whether it changed. */
  applyReplication(update: ReplicationSetting): boolean {
    const current = this.replicationSetting;
    if (!replacesSetting(update, current)) {
      if (update.stamp === 0 && current?.stamp === 0 && update.replicas !== current.replicas) {
        this.conflict = { ...update };
      }
      return false;
    }
    this.replicationSetting = { ...update };
    for (const listener of this.replicationListeners) listener({ ...update });
    this.rebuildRing();
    return true;
  }

  /** A founding member's setting that disagrees with this node's, both never changed since (see `stamp`). */
  get replicationConflict(): ReplicationSetting | undefined {
    return this.conflict;
  }

  /** Called with the new setting whenever the replication setting changes. */
  onReplicationChange(listener: (setting: ReplicationSetting) => void): () => void {
    this.replicationListeners.add(listener);
    return () => this.replicationListeners.delete(listener);
  }

  onChange(listener: MembershipListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called with the new placement whenever a member joins or leaves, or moves to another phase. */
  onRingChange(listener: (placement: Placement) => void): () => void {
    this.ringListeners.add(listener);
    return () => this.ringListeners.delete(listener);
  }

  private set(next: MemberState, current: MemberState | undefined): void {
    if (this.store(next, current)) this.rebuildRing();
  }

  /**
   * Records a member's state and tells the status listeners; returns whether the placement changed (a member
   * joined or left, or moved to another phase). The placement is left as it was, for the caller to rebuild once.
   */
  private store(next: MemberState, current: MemberState | undefined): boolean {
    this.members.set(next.address, { ...next });
    if (current?.status !== next.status) {
      for (const listener of this.listeners)
        listener({ address: next.address, from: current?.status, to: next.status });
    }
    return (
      current === undefined ||
      (current.status === 'left') !== (next.status === 'left') ||
      (current.phase ?? 'normal') !== (next.phase ?? 'normal')
    );
  }

  private rebuildRing(): void {
    this.cachedPlacement = undefined;
    const placement = this.placement;
    for (const listener of this.ringListeners) listener(placement);
  }
}
