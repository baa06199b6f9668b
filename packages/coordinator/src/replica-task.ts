import { type MemberAddress, type PutResult, reasonOf, UnavailableError } from '@kvdb/core';
import { type Clock, type Repeating, repeat, systemClock } from './clock.js';
import {
  DEFAULT_BATCH_BYTES,
  DEFAULT_BATCH_SIZE,
  DEFAULT_TASK_INTERVAL_MS,
  DEFAULT_TASK_TIMEOUT_MS,
} from './defaults.js';
import type { LocalReplica } from './local-replica.js';
import { type Logger, silentLogger } from './logger.js';
import type { Membership } from './membership.js';
import type { PeerTransport } from './peer-transport.js';
import { RunsUnderWay } from './runs-under-way.js';
import { type Throttle, unthrottled } from './throttle.js';
import { type BatchLimits, type EntryBatch, entryBatches, readEntries } from './transfer.js';

export interface ReplicaTaskComponents {
  membership: Membership;
  replica: LocalReplica;
  transport: PeerTransport;
  clock?: Clock;
  logger?: Logger;
  /** The node's throttle, shared by all its background transfers. @default none: unthrottled */
  throttle?: Throttle;
}

export interface ReplicaTaskInit {
  /** How often the task runs. @default DEFAULT_TASK_INTERVAL_MS, unless the task says otherwise */
  intervalMs?: number;
  /** The replication factor in force (it changes with the member count). */
  replicas: () => number;
  /** Timeout of each call. @default DEFAULT_TASK_TIMEOUT_MS */
  timeoutMs?: number;
  /** Records or keys per batched call. @default DEFAULT_BATCH_SIZE */
  batchSize?: number;
  /** Bytes of records per batched call (see `entryBatches`). @default DEFAULT_BATCH_BYTES */
  batchBytes?: number;
}

/**
 * A repair job that runs over this node's replica on a timer: anti-entropy, rebalancing and tombstone collection
 * share their parts (membership, replica, transport, clock, logger, limits) and their start/stop lifecycle here.
 */
export abstract class ReplicaTask {
  protected readonly membership: Membership;
  protected readonly replica: LocalReplica;
  protected readonly transport: PeerTransport;
  protected readonly clock: Clock;
  protected readonly log: Logger;
  protected readonly intervalMs: number;
  protected readonly replicas: () => number;
  protected readonly timeoutMs: number;
  protected readonly batchSize: number;
  protected readonly batchBytes: number;
  protected readonly throttle: Throttle;
  private loop: Repeating | undefined;
  /** Runs of the timer, and runs asked for directly (a leave's drain), until they end. */
  protected readonly runs = new RunsUnderWay();
  /** Aborted, and replaced, at every start and stop: see `signal`. */
  private stopping = new AbortController();

  /** `what` names the task in the warning logged when a run fails. */
  constructor(
    components: ReplicaTaskComponents,
    init: ReplicaTaskInit,
    private readonly what: string,
    defaultIntervalMs = DEFAULT_TASK_INTERVAL_MS,
  ) {
    this.membership = components.membership;
    this.replica = components.replica;
    this.transport = components.transport;
    this.clock = components.clock ?? systemClock;
    this.log = components.logger ?? silentLogger;
    this.intervalMs = init.intervalMs ?? defaultIntervalMs;
    this.replicas = init.replicas;
    this.timeoutMs = init.timeoutMs ?? DEFAULT_TASK_TIMEOUT_MS;
    this.batchSize = init.batchSize ?? DEFAULT_BATCH_SIZE;
    this.batchBytes = init.batchBytes ?? DEFAULT_BATCH_BYTES;
    this.throttle = components.throttle ?? unthrottled(this.clock);
  }

  protected get batchLimits(): BatchLimits {
    return { maxCount: this.batchSize, maxBytes: this.batchBytes };
  }

  /** The current records of `keys`, in batches within the limits, each read when its batch is made. */
  protected recordBatches(keys: Iterable<string>): AsyncIterable<EntryBatch> {
    return entryBatches(
      readEntries((key) => this.replica.get(key), keys),
      this.batchLimits,
    );
  }

  /** Sends a batch to `peer` once the node's throttle lets it. */
  protected async putMany(peer: MemberAddress, batch: EntryBatch): Promise<PutResult[]> {
    const signal = this.signal;
    await this.throttle.take(batch.bytes, signal);
    signal.throwIfAborted();
    return this.transport.call(
      peer,
      'peer.put_many',
      { entries: batch.entries },
      { timeoutMs: this.timeoutMs },
    );
  }

  start(): void {
    const signal = this.restart('restarted');
    this.loop = repeat(
      this.clock,
      () => this.pauseMs(),
      () => this.runs.track(Promise.resolve(this.tick())),
      (error) => {
        // A run cut short by the stop (its scan ended, or its store closed) is not a failure to report.
        const byStop = signal.aborted && (error === signal.reason || error instanceof UnavailableError);
        if (byStop) this.log.debug(`${this.what} ended by the stop: ${reasonOf(error)}`);
        else this.log.warn(`${this.what} failed: ${reasonOf(error)}`);
      },
    );
  }

  stop(): void {
    this.loop?.stop();
    this.restart('stopped: the node is stopping');
  }

  /**
   * Aborts at the next start or stop. A run takes it when it begins, gives up once it has aborted, and passes it
   * to its waits (`sleep`) and scans (`scanPages`), which then end at once.
   */
  protected get signal(): AbortSignal {
    return this.stopping.signal;
  }

  /** Aborts the runs under way with `why` and gives the signal of the runs to come. */
  private restart(why: string): AbortSignal {
    this.stopping.abort(new Error(`${this.what} ${why}`));
    this.stopping = new AbortController();
    return this.stopping.signal;
  }

  /**
   * Resolves once the runs under way have ended. A stopped task starts none; one under way ends at its next
   * page, batch or wait, and its peer calls fail once the transport is closed.
   */
  idle(): Promise<void> {
    return this.runs.idle();
  }

  /** The pause before the next run: `intervalMs`, unless the task spaces its runs by their cost. */
  protected pauseMs(): number {
    return this.intervalMs;
  }

  /** One run on the timer. */
  protected abstract tick(): unknown;
}

/**
 * Entries grouped by the replica list they go to, so that each batched call carries entries for one set of
 * replicas: how rebalancing and tombstone collection send what they found in a pass.
 */
export class ReplicaGroups<T> {
  private readonly groups = new Map<string, { replicas: MemberAddress[]; entries: T[] }>();

  add(replicas: MemberAddress[], entry: T): void {
    const id = replicas.join(',');
    let group = this.groups.get(id);
    if (group === undefined) {
      group = { replicas, entries: [] };
      this.groups.set(id, group);
    }
    group.entries.push(entry);
  }

  /** Each group's replicas with its entries, cut into batches of at most `size`. */
  *batches(size: number): Iterable<[MemberAddress[], T[]]> {
    for (const { replicas, entries } of this.groups.values()) {
      for (let i = 0; i < entries.length; i += size) yield [replicas, entries.slice(i, i + size)];
    }
  }
}
