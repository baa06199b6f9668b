import {
  HashRing,
  type HashRingInit,
  type MemberAddress,
  type MemberInfo,
  type MemberStatus,
} from '@kvdb/core';

export interface MemberState {
  address: MemberAddress;
  status: MemberStatus;
  /** Raised by a member to refute suspicion of itself; higher wins. */
  incarnation: number;
}

export type MembershipListener = (change: {
  address: MemberAddress;
  from?: MemberStatus;
  to: MemberStatus;
}) => void;

/**
 * This node's view of the cluster: who is a member and how each one seems to be doing. The hash ring is built
 * from every member that has not left, so a failure changes who is asked (routing), never who owns a key.
 */
export class Membership {
  readonly self: MemberAddress;
  private readonly members = new Map<MemberAddress, MemberState>();
  private readonly ringInit: HashRingInit;
  private readonly listeners = new Set<MembershipListener>();
  private cachedRing: HashRing | undefined;

  constructor(self: MemberAddress, seeds: Iterable<MemberAddress> = [], ringInit: HashRingInit = {}) {
    this.self = self;
    this.ringInit = ringInit;
    this.members.set(self, { address: self, status: 'alive', incarnation: 0 });
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

  isAlive(address: MemberAddress): boolean {
    return this.members.get(address)?.status === 'alive';
  }

  /** Adds a member or updates one; listeners hear of every status change. */
  update(address: MemberAddress, status: MemberStatus, incarnation?: number): void {
    const current = this.members.get(address);
    const next: MemberState = { address, status, incarnation: incarnation ?? current?.incarnation ?? 0 };
    this.members.set(address, next);
    const ringChanged = current === undefined || (current.status === 'left') !== (status === 'left');
    if (ringChanged) this.cachedRing = undefined;
    if (current?.status !== status) {
      for (const listener of this.listeners) listener({ address, from: current?.status, to: status });
    }
  }

  onChange(listener: MembershipListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
