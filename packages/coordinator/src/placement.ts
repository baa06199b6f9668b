import {
  HashRing,
  type HashRingInit,
  type MemberAddress,
  type MemberState,
  type ReplicationSetting,
} from '@kvdb/core';

const NONE: readonly MemberAddress[] = Object.freeze([]);

/** A key's replicas while members join or leave: who serves it now, and who is about to. */
export interface KeyPlacement {
  /** The replicas that serve reads and count in every quorum, primary first. */
  replicas: MemberAddress[];
  /** Owners-to-be still receiving the key's data: they take its writes but count in no quorum. */
  pending: readonly MemberAddress[];
}

/** One segment of `Placement.all` that a member is about to own, with the replicas that serve it now. */
export interface PendingSegment {
  segment: number;
  replicas: MemberAddress[];
}

/**
 * Who holds which key, from the members' states, as Cassandra's pending ranges and Riak's handoff have it: a
 * member that joins owns nothing until it holds the data of its ranges, and a member that leaves owns its ranges
 * until their new owners hold them. Three rings say so:
 *
 * - `read`: the members past joining (normal or leaving; a seed not heard from yet counts as normal). A key's
 *   replicas on it serve its reads and make its quorums.
 * - `future`: the members not leaving, as the ring will be once every move is done. A key's replicas there that
 *   are not replicas on `read` are its pending owners: writes go to them too, so that the data they fetch is not
 *   outdated by the time they serve it.
 * - `all`: every member that has not left. Its tokens include both rings', so every one of its segments has a
 *   single replica list on each: the unit in which pending owners fetch and count what they hold.
 *
 * The factor `n` each method takes is the one in force, for the read lists; while the replication factor changes
 * (`ReplicationSetting.target`), future lists have the target's length, so a raised factor makes each key's new
 * replicas pending owners, and a lowered one has the replicas that stay fetch each segment again (see `fillers`).
 *
 * Immutable: a membership change builds a new placement, reusing the rings whose members did not change.
 */
export class Placement {
  readonly read: HashRing;
  readonly future: HashRing;
  readonly all: HashRing;
  /** The replication factor a change under way moves to, if one is. */
  readonly target: number | undefined;
  /** Equal on nodes whose members stand in the same phases and that agree on the replication. */
  readonly id: string;
  /**
   * What a pending owner says it holds its ranges for (`MemberState.filled`): the ring of every member that has
   * not left, the ring it moves to, and the replication change under way, if any.
   */
  readonly fillId: string;
  private readonly pendingByFactor = new Map<number, Set<MemberAddress>>();

  constructor(
    states: Iterable<MemberState>,
    init: HashRingInit,
    previous?: Placement,
    replication?: ReplicationSetting,
  ) {
    const read: MemberAddress[] = [];
    const future: MemberAddress[] = [];
    const all: MemberAddress[] = [];
    for (const { address, status, phase } of states) {
      if (status === 'left') continue;
      all.push(address);
      if (phase !== 'joining') read.push(address);
      if (phase !== 'leaving') future.push(address);
    }
    const known = previous === undefined ? [] : [previous.read, previous.future, previous.all];
    const ring = (members: MemberAddress[]): HashRing => {
      const wanted = [...new Set(members)].sort().join(',');
      const reused = known.find((candidate) => candidate.members.join(',') === wanted);
      if (reused !== undefined) return reused;
      const built = new HashRing(members, init);
      known.push(built);
      return built;
    };
    this.all = ring(all);
    this.read = ring(read);
    this.future = ring(future);
    this.target = replication?.target;
    const change = replication?.target === undefined ? '' : `#${replication.stamp}>${replication.target}`;
    this.id = `${this.read.id}>${this.future.id}${change}`;
    // The future ring too: a member turning `leaving` changes no ring of members that have not left, but it is a
    // move of its own, and a `filled` mark from an earlier join must not count for it.
    this.fillId = `${this.all.id}>${this.future.id}${change}`;
  }

  /** Whether any member is joining or leaving, or the replication factor changing: then some keys move. */
  get moving(): boolean {
    return this.read !== this.future || this.target !== undefined;
  }

  /** The key's first `n` replicas on the read ring (the ones `locate` names), primary first. */
  replicas(key: string, n: number): MemberAddress[] {
    return this.read.preferenceList(key, n);
  }

  /** The key's replicas and its pending owners. */
  place(key: string, n: number): KeyPlacement {
    const replicas = this.read.preferenceList(key, n);
    if (!this.moving) return { replicas, pending: NONE };
    const pending = this.future
      .preferenceList(key, this.target ?? n)
      .filter((member) => !replicas.includes(member));
    return { replicas, pending };
  }

  /** Every member that should hold the key now: its replicas and pending owners. */
  holders(key: string, n: number): MemberAddress[] {
    const { replicas, pending } = this.place(key, n);
    return pending.length === 0 ? replicas : [...replicas, ...pending];
  }

  /**
   * Every member that is a pending owner of some key. Worked out once per factor: a leave asks it every few hundred
   * ms while it waits, and it walks every segment.
   */
  pendingMembers(n: number): ReadonlySet<MemberAddress> {
    let result = this.pendingByFactor.get(n);
    if (result !== undefined) return result;
    result = new Set<MemberAddress>();
    if (this.moving) {
      for (let segment = 0; segment < this.all.segmentCount; segment++) {
        for (const member of this.fillers(segment, n).fillers) result.add(member);
      }
    }
    this.pendingByFactor.set(n, result);
    return result;
  }

  /** The segments of `all` in which `member` is a pending owner, each with its replicas on the read ring. */
  pendingSegments(member: MemberAddress, n: number): PendingSegment[] {
    const result: PendingSegment[] = [];
    if (!this.moving || !this.future.has(member)) return result;
    for (let segment = 0; segment < this.all.segmentCount; segment++) {
      const { replicas, fillers } = this.fillers(segment, n);
      if (fillers.includes(member)) result.push({ segment, replicas });
    }
    return result;
  }

  /**
   * A segment's replicas on the read ring, and the members that must fetch it from a quorum of them before the
   * move is done: its pending owners; and while the factor is lowered, every replica that stays. Those already
   * meet each write acknowledged at the old quorum in any new quorum when the factor drops by one (a write reached
   * ⌊R/2⌋+1 of the R replicas, so at least ⌊R/2⌋ of the R−1 that stay, and ⌊R/2⌋ + ⌊(R−1)/2⌋ + 1 > R−1), which is
   * why a change lowers the factor one step at a time; but a write that a previous drop left on fewer replicas than
   * a quorum may be missed after this one. The fetch puts every earlier write on every replica that stays.
   */
  private fillers(segment: number, n: number): { replicas: MemberAddress[]; fillers: MemberAddress[] } {
    const position = this.all.segmentEnd(segment);
    const replicas = this.read.replicasAt(position, n);
    const future = this.future.replicasAt(position, this.target ?? n);
    if (this.target !== undefined && this.target < n) return { replicas, fillers: future };
    return { replicas, fillers: future.filter((member) => !replicas.includes(member)) };
  }
}
