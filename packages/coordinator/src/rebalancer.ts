import { type MemberAddress, reasonOf } from '@kvdb/core';
import { sleep } from './clock.js';
import {
  ReplicaGroups,
  ReplicaTask,
  type ReplicaTaskComponents,
  type ReplicaTaskInit,
} from './replica-task.js';
import { allSettledOrThrow } from './runs-under-way.js';
import type { EntryBatch } from './transfer.js';

/**
 * `intervalMs`: how often keys not yet handed over are offered again; `batchSize` and `batchBytes`: records and
 * their bytes per put_many call.
 */
export type RebalancerInit = ReplicaTaskInit;

export interface HandoffResult {
  handedOff: number;
  remaining: number;
}

/**
 * Moves data off this node when the ring changes (a join or a leave is done): every record this node holds but
 * neither replicates nor is about to (see `Placement.holders`) is sent to all of the key's replicas and pending
 * owners, and dropped here only once every one of them has confirmed it (stored, or holds something newer). A
 * replica that is down keeps the record here until a later pass. Owners to be fetch their ranges' data themselves
 * (see `RangeFill`); this is what ends a move, on the members that gave ranges up.
 */
export class Rebalancer extends ReplicaTask {
  private pending = true;
  private active: Promise<HandoffResult> | undefined;
  /** Records handed to their new owners since start. */
  handedOff = 0;

  constructor(components: ReplicaTaskComponents, init: RebalancerInit) {
    super(components, init, 'rebalance');
  }

  protected tick(): Promise<HandoffResult> | undefined {
    return this.pending ? this.pass() : undefined;
  }

  /** Asks for a pass at the next tick (the ring changed). */
  schedule(): void {
    this.pending = true;
  }

  /** One pass over the local records; concurrent callers share the pass in progress. */
  pass(): Promise<HandoffResult> {
    this.active ??= this.runs.track(
      this.runPass().finally(() => {
        this.active = undefined;
      }),
    );
    return this.active;
  }

  /** Passes until nothing is left to hand over, the time is up, or the task is stopped (a node leaving). */
  async drain(timeoutMs: number): Promise<HandoffResult> {
    const deadline = this.clock.now() + timeoutMs;
    const signal = this.signal;
    let total = 0;
    for (;;) {
      const { handedOff, remaining } = await this.pass();
      total += handedOff;
      // A ring change during the pass left part of the store unvisited: `pending` says another pass is due.
      const done = remaining === 0 && !this.pending;
      if (done || this.clock.now() >= deadline || signal.aborted) return { handedOff: total, remaining };
      await sleep(this.clock, Math.min(500, this.intervalMs), signal);
      // Stopped while waiting (the node is shutting down, its store about to close): no further pass.
      if (signal.aborted) return { handedOff: total, remaining };
    }
  }

  private async runPass(): Promise<HandoffResult> {
    this.pending = false;
    const placement = this.membership.placement;
    const signal = this.signal;
    // Stopped (the node is shutting down): the rest waits for a start.
    const stopped = () => {
      if (signal.aborted) this.pending = true;
      return signal.aborted;
    };
    const n = this.replicas();
    const self = this.membership.self;
    let handedOff = 0;
    let remaining = 0;
    // Keys and versions a page at a time, so a large node neither stalls nor holds every moving record at once;
    // a record is read when its batch leaves.
    pages: for await (const page of this.replica.pages()) {
      if (stopped()) break;
      const groups = new ReplicaGroups<string>();
      for (const [key] of page) {
        const targets = placement.holders(key, n);
        if (targets.includes(self) || targets.length === 0) continue;
        groups.add(targets, key);
      }
      for (const [targets, keys] of groups.batches(this.batchSize)) {
        // The ring changed under this pass (which scheduled the next): that one works from the new ring.
        if (this.membership.placement.id !== placement.id || stopped()) break pages;
        const moved = await this.handOff(placement.id, targets, keys);
        handedOff += moved.handedOff;
        remaining += moved.remaining;
      }
    }
    if (remaining > 0) this.pending = true;
    this.handedOff += handedOff;
    if (handedOff > 0) {
      const fields = { handedOff, remaining };
      this.log.info(`rebalance: handed ${handedOff} record(s) to their new owners`, fields);
    }
    return { handedOff, remaining };
  }

  /**
   * Sends the keys' current records to every target, in batches within the byte and count limits; drops each
   * here once all of them have confirmed it, unless the ring changed meanwhile (this node may replicate the key
   * again).
   */
  private async handOff(placement: string, targets: MemberAddress[], keys: string[]): Promise<HandoffResult> {
    const result = { handedOff: 0, remaining: 0 };
    for await (const batch of this.recordBatches(keys)) {
      if (this.membership.placement.id !== placement || this.signal.aborted) break; // the next pass takes the rest
      const moved = await this.handOffBatch(placement, targets, batch);
      result.handedOff += moved.handedOff;
      result.remaining += moved.remaining;
    }
    return result;
  }

  private async handOffBatch(
    placement: string,
    targets: MemberAddress[],
    batch: EntryBatch,
  ): Promise<HandoffResult> {
    const { entries } = batch;
    const confirmed = await Promise.all(
      targets.map((target) =>
        this.putMany(target, batch).then(
          (results) => results.length === entries.length,
          (error: unknown) => {
            this.log.debug(`handoff to ${target} failed: ${reasonOf(error)}`);
            return false;
          },
        ),
      ),
    );
    if (!confirmed.every(Boolean) || this.membership.placement.id !== placement) {
      return { handedOff: 0, remaining: entries.length };
    }
    // A record rewritten here since it was read stays, and the next pass hands over the newer one. The removals
    // go out together, so that a durable store commits them as one transaction rather than one each.
    const removed = await allSettledOrThrow(
      entries.map(([key, record]) => this.replica.remove(key, record.version)),
    );
    const handedOff = removed.filter(Boolean).length;
    return { handedOff, remaining: entries.length - handedOff };
  }
}
