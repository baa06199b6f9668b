import { type HintLog, type KVRecord, type MemberAddress, newerRecord, reasonOf } from '@kvdb/core';
import { type Clock, type Repeating, repeat, systemClock } from './clock.js';
import {
  DEFAULT_BATCH_BYTES,
  DEFAULT_BATCH_SIZE,
  DEFAULT_MAX_HINTS_PER_MEMBER,
  DEFAULT_TASK_TIMEOUT_MS,
  DEFAULT_TIMINGS,
  TIMING_PRESETS,
} from './defaults.js';
import { type Logger, silentLogger } from './logger.js';
import type { Membership } from './membership.js';
import type { PeerTransport } from './peer-transport.js';
import { RunsUnderWay } from './runs-under-way.js';
import { type Throttle, unthrottled } from './throttle.js';
import { type BatchLimits, entryBatches } from './transfer.js';

/** Where hints are kept durably: defined beside `Store` in @kvdb/core, so a store need not depend on this package. */
export type { HintLog };

export interface HintedHandoffInit {
  /** How often hints for reachable members are replayed. @default the `DEFAULT_TIMINGS` preset's */
  replayIntervalMs?: number;
  /** Most hints kept per member; past it the oldest go, and anti-entropy repairs those keys. @default DEFAULT_MAX_HINTS_PER_MEMBER */
  maxHintsPerMember?: number;
  /** Records per replay call. @default DEFAULT_BATCH_SIZE */
  batchSize?: number;
  /** Bytes of records per replay call (see `entryBatches`). @default DEFAULT_BATCH_BYTES */
  batchBytes?: number;
  /** Timeout of one replay call. @default DEFAULT_TASK_TIMEOUT_MS */
  timeoutMs?: number;
  /**
   * Hints older than this are dropped rather than replayed, so that a late replay cannot revive a key whose
   * tombstone has since been collected; anti-entropy repairs those keys instead. Keep it at most the tombstone
   * grace period. @default Infinity
   */
  maxAgeMs?: number;
}

/**
 * Writes a replica missed, kept by the coordinator that made them and replayed when the failure detector sees the
 * replica alive again (or on a timer). Only the newest record per key is kept. A hint is dropped once the replica
 * stored it or holds something newer.
 */
export class HintedHandoff {
  private readonly hints = new Map<MemberAddress, Map<string, KVRecord>>();
  private readonly membership: Membership;
  private readonly transport: PeerTransport;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly replayIntervalMs: number;
  private readonly maxHintsPerMember: number;
  private readonly limits: BatchLimits;
  private readonly throttle: Throttle;
  private readonly timeoutMs: number;
  private readonly maxAgeMs: number;
  private readonly replaying = new Set<MemberAddress>();
  private readonly runs = new RunsUnderWay();
  private readonly hintLog: HintLog | undefined;
  private loop: Repeating | undefined;
  private unsubscribe: (() => void) | undefined;
  /** Hints delivered since start. */
  delivered = 0;

  constructor(
    components: {
      membership: Membership;
      transport: PeerTransport;
      clock?: Clock;
      logger?: Logger;
      hintLog?: HintLog;
      /** The node's throttle, shared by all its background transfers. @default none: unthrottled */
      throttle?: Throttle;
    },
    init: HintedHandoffInit = {},
  ) {
    this.hintLog = components.hintLog;
    this.membership = components.membership;
    this.transport = components.transport;
    this.clock = components.clock ?? systemClock;
    this.log = components.logger ?? silentLogger;
    this.replayIntervalMs = init.replayIntervalMs ?? TIMING_PRESETS[DEFAULT_TIMINGS].hintReplayIntervalMs;
    this.maxHintsPerMember = init.maxHintsPerMember ?? DEFAULT_MAX_HINTS_PER_MEMBER;
    this.limits = {
      maxCount: init.batchSize ?? DEFAULT_BATCH_SIZE,
      maxBytes: init.batchBytes ?? DEFAULT_BATCH_BYTES,
    };
    this.throttle = components.throttle ?? unthrottled(this.clock);
    this.timeoutMs = init.timeoutMs ?? DEFAULT_TASK_TIMEOUT_MS;
    this.maxAgeMs = init.maxAgeMs ?? Number.POSITIVE_INFINITY;
  }

  /** Hints held, for one member or all. */
  count(member?: MemberAddress): number {
    if (member !== undefined) return this.hints.get(member)?.size ?? 0;
    let total = 0;
    for (const forMember of this.hints.values()) total += forMember.size;
    return total;
  }

  add(member: MemberAddress, key: string, record: KVRecord): void {
    const forMember = this.hintsFor(member);
    const kept = newerRecord(forMember.get(key), record);
    forMember.delete(key);
    forMember.set(key, kept);
    if (kept === record) this.persist(this.hintLog?.put(member, key, record));
    if (forMember.size > this.maxHintsPerMember) {
      const oldest = forMember.keys().next().value as string;
      forMember.delete(oldest);
      this.persist(this.hintLog?.delete(member, oldest));
    }
  }

  start(): void {
    if (this.hintLog !== undefined && this.hints.size === 0) {
      for (const [member, key, record] of this.hintLog.load()) this.remember(member, key, record);
      if (this.count() > 0)
        this.log.info(`hinted handoff: ${this.count()} hint(s) kept from before the restart`);
    }
    this.unsubscribe = this.membership.onChange(({ address, to }) => {
      if (to === 'alive' && this.count(address) > 0) void this.replay(address);
    });
    const replayReachable = (): void => {
      for (const member of this.hints.keys()) if (this.membership.isAlive(member)) void this.replay(member);
    };
    this.loop = repeat(this.clock, this.replayIntervalMs, replayReachable, (error) =>
      this.log.warn(`hint replay failed: ${reasonOf(error)}`),
    );
  }

  stop(): void {
    this.loop?.stop();
    this.unsubscribe?.();
  }

  /** Resolves once the replays and hint writes under way have ended (a replay ends when its calls fail, at the latest). */
  idle(): Promise<void> {
    return this.runs.idle();
  }

  private remember(member: MemberAddress, key: string, record: KVRecord): void {
    const forMember = this.hintsFor(member);
    forMember.set(key, newerRecord(forMember.get(key), record));
  }

  /** The hints kept for `member`, in the order they were last written (oldest first). */
  private hintsFor(member: MemberAddress): Map<string, KVRecord> {
    let forMember = this.hints.get(member);
    if (forMember === undefined) {
      forMember = new Map();
      this.hints.set(member, forMember);
    }
    return forMember;
  }

  private persist(write: Promise<void> | undefined): void {
    if (write === undefined) return;
    void this.runs.track(
      write.catch((error: unknown) => this.log.warn(`could not keep a hint on disk: ${reasonOf(error)}`)),
    );
  }

  /** Sends every hint for `member`; resolves with how many it delivered. One replay per member at a time. */
  replay(member: MemberAddress): Promise<number> {
    return this.runs.track(this.replayNow(member));
  }

  private async replayNow(member: MemberAddress): Promise<number> {
    const forMember = this.hints.get(member);
    if (forMember === undefined || this.replaying.has(member)) return 0;
    this.replaying.add(member);
    let sent = 0;
    let replayed = 0;
    try {
      const oldest = this.clock.now() - this.maxAgeMs;
      for (const [key, record] of forMember) {
        if (record.version.wall < oldest) {
          forMember.delete(key);
          this.persist(this.hintLog?.delete(member, key));
        }
      }
      // Each pass walks the live queue, without copying it: a hint rewritten meanwhile moves to its end and is
      // reached in the same pass. Another pass retries what a replica did not confirm, while any is confirmed.
      for (let confirmed = 1; forMember.size > 0 && confirmed > 0; ) {
        confirmed = 0;
        for await (const { entries, bytes } of entryBatches(forMember, this.limits)) {
          await this.throttle.take(bytes);
          const results = await this.transport.call(
            member,
            'peer.put_many',
            { entries },
            { timeoutMs: this.timeoutMs },
          );
          entries.forEach(([key, record], index) => {
            if (results[index] !== undefined && forMember.get(key) === record) {
              forMember.delete(key);
              this.persist(this.hintLog?.delete(member, key));
              confirmed += 1;
              replayed += 1;
            }
          });
          sent += entries.length;
        }
      }
      if (forMember.size === 0) this.hints.delete(member);
      const fields = { member, replayed, left: forMember.size };
      if (replayed > 0) this.log.info(`hinted handoff: replayed ${replayed} write(s) to ${member}`, fields);
    } catch (error) {
      this.log.debug(`hinted handoff to ${member} paused: ${reasonOf(error)}`);
    } finally {
      this.replaying.delete(member);
      this.delivered += sent;
    }
    return sent;
  }
}
