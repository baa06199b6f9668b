import {
  type Consistency,
  compareVersions,
  DEFAULT_REPLICAS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  HybridClock,
  isTombstone,
  type JsonValue,
  type KeyPage,
  KVDB_VERSION,
  type KVRecord,
  MAX_LIST_LIMIT,
  type MemberAddress,
  type MemberInfo,
  type MergeResult,
  MethodNotFoundError,
  type NodeStats,
  newerRecord,
  type PeerMethod,
  type PeerParams,
  type PeerResult,
  QuorumNotReachedError,
  reasonOf,
  UnavailableError,
  type Version,
} from '@kvdb/core';
import { type Clock, systemClock } from './clock.js';
import { ParallelExecutor, type QuorumOptions, type QuorumOutcome, type Settled } from './executor.js';
import type { HintedHandoff } from './hinted-handoff.js';
import { type CollectKeysOptions, collectKeys, mergeKeyPages } from './key-listing.js';
import type { LocalReplica } from './local-replica.js';
import { type Logger, silentLogger } from './logger.js';
import type { Membership } from './membership.js';
import type { PeerHandler, PeerTransport } from './peer-transport.js';
import { allSettledOrThrow, RunsUnderWay } from './replica-task.js';

export interface CoordinatorComponents {
  membership: Membership;
  replica: LocalReplica;
  transport: PeerTransport;
  /** Where writes a replica missed are kept for later; without it, anti-entropy alone repairs them. */
  hints?: HintedHandoff;
  clock?: Clock;
  logger?: Logger;
  /** Decides which reads ask every replica (see `readRepairChance`). @default Math.random */
  random?: () => number;
}

export interface CoordinatorInit {
  /**
   * Replication factor: how many distinct members hold each key, capped at the member count.
   * @default DEFAULT_REPLICAS
   */
  replicas?: number;
  /**
   * How long a request waits for its quorum before failing, in ms.
   * @default DEFAULT_REQUEST_TIMEOUT_MS
   */
  timeoutMs?: number;
  /**
   * Most replica calls in flight at once; a call to this node's own replica, when it is a request's only one, is
   * not counted (see `ParallelExecutor.alone`).
   * @default 512
   */
  concurrency?: number;
  /**
   * The share of reads that ask every replica rather than just enough for their consistency level, so that read
   * repair also reaches replicas outside the quorum (Cassandra's read_repair_chance); anti-entropy repairs the
   * rest. 1 asks every replica on every read.
   * @default DEFAULT_READ_REPAIR_CHANCE
   */
  readRepairChance?: number;
}

/**
 * No read asks more replicas than it needs, by default: a read repairs the replicas it asked, hints and
 * anti-entropy bring the others up to date, and asking every replica on one read in ten cost a 3-node cluster
 * 7% of its quorum gets. Cassandra dropped its read_repair_chance in 4.0 for the same trade.
 */
export const DEFAULT_READ_REPAIR_CHANCE = 0;

export interface ConsistencyOptions {
  /** How many replicas must answer: one, a majority of the key's replicas (the default), or all of them. */
  consistency?: Consistency;
}

export interface DefaultOptions extends ConsistencyOptions {
  /** Returned when the key holds no value. */
  default?: JsonValue;
}

export interface ListKeysOptions {
  /** Only keys that start with this. */
  prefix?: string;
  /**
   * Most keys in the page, and how many entries each member is asked for: 1 to `MAX_LIST_LIMIT`.
   * @default MAX_LIST_LIMIT
   */
  limit?: number;
  /** The `cursor` of the previous page; leave out for the first. */
  cursor?: string;
}

export interface ListAllKeysOptions extends CollectKeysOptions {
  /** Only keys that start with this. */
  prefix?: string;
}

/** A write that finds a newer version on a replica stamps past it and tries again, at most this often. */
const MAX_RESTAMPS = 3;

/** How long a failed quorum waits for answers still in flight, so its error counts every replica that acked. */
const FAILURE_GRACE_MS = 50;

/**
 * A read asks only as many replicas as its consistency needs (this node first, when it is one); if they have not
 * settled it within this long, it asks the rest too, so one slow replica costs a read this much, not a timeout.
 */
const READ_HEDGE_MS = 50;

/** The replica methods the coordinator answers; membership and anti-entropy methods are answered elsewhere. */
export type DataMethod =
  | 'peer.get'
  | 'peer.put'
  | 'peer.get_many'
  | 'peer.put_many'
  | 'peer.keys'
  | 'peer.purge';
type DataHandlers = { [M in DataMethod]: (params: PeerParams<M>) => Promise<PeerResult<M>> };

/**
 * Runs client requests across a key's replicas: writes succeed at W acks, reads answer at R replies with the
 * newest version and repair the replicas that lag. Any node coordinates any key. It is also the peer handler that
 * answers other coordinators' replica calls from the local store.
 */
export class Coordinator implements PeerHandler {
  readonly self: MemberAddress;
  readonly membership: Membership;
  readonly replica: LocalReplica;
  readonly executor: ParallelExecutor;
  readonly hlc: HybridClock;
  readonly timeoutMs: number;
  private readonly replicationFactor: number;
  private readonly transport: PeerTransport;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly startedAt: number;
  private readonly hints: HintedHandoff | undefined;
  private readonly dataHandlers: DataHandlers;
  private readonly random: () => number;
  private readonly readRepairChance: number;
  /** What a request does after its answer: read repair and hints, once every replica call has settled. */
  private readonly afterwards = new RunsUnderWay();

  constructor(components: CoordinatorComponents, init: CoordinatorInit = {}) {
    this.membership = components.membership;
    this.self = this.membership.self;
    this.replica = components.replica;
    this.hints = components.hints;
    this.transport = components.transport;
    this.clock = components.clock ?? systemClock;
    this.log = components.logger ?? silentLogger;
    this.replicationFactor = init.replicas ?? DEFAULT_REPLICAS;
    this.timeoutMs = init.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.random = components.random ?? Math.random;
    this.readRepairChance = init.readRepairChance ?? DEFAULT_READ_REPAIR_CHANCE;
    if (!Number.isInteger(this.replicationFactor) || this.replicationFactor < 1) {
      throw new TypeError(
        `Expected \`replicas\` to be an integer from 1 and up, got \`${this.replicationFactor}\``,
      );
    }
    this.executor = new ParallelExecutor({ clock: this.clock }, { concurrency: init.concurrency });
    this.hlc = new HybridClock(this.self, () => this.clock.now());
    this.startedAt = this.clock.now();
    this.dataHandlers = {
      // A store that answers at once answers a whole batch at once, without a promise a record.
      'peer.get': async ({ key }) =>
        (this.replica.synchronous ? this.replica.getNow(key) : await this.replica.get(key)) ?? null,
      'peer.put': async ({ key, record }) => this.storeLocally(key, record),
      'peer.get_many': async ({ keys }) =>
        this.replica.synchronous
          ? keys.map((key) => this.replica.getNow(key) ?? null)
          : Promise.all(keys.map(async (key) => (await this.replica.get(key)) ?? null)),
      'peer.put_many': async ({ entries }) =>
        this.replica.synchronous
          ? entries.map(([key, record]) => this.storeNow(key, record))
          : Promise.all(entries.map(([key, record]) => this.storeLocally(key, record))),
      'peer.keys': async ({ prefix, after, limit }) =>
        this.replica.scanKeys({ prefix, after, limit: limit ?? MAX_LIST_LIMIT }),
      // The removals go out together: a durable store commits them as one transaction rather than one each.
      'peer.purge': async ({ entries }) => {
        const removed = await allSettledOrThrow(
          entries.map(async ([key, version]) => {
            const record = await this.replica.get(key);
            return record !== undefined && isTombstone(record) && this.replica.remove(key, version);
          }),
        );
        return removed.filter(Boolean).length;
      },
    };
  }

  /** The replication factor in force: the configured one, capped at the member count. */
  get replicas(): number {
    return Math.min(this.replicationFactor, this.membership.ring.size);
  }

  /** The key's replicas, primary first: the same answer on every node that has the same members. */
  locate(key: string): MemberAddress[] {
    return this.membership.ring.preferenceList(key, this.replicationFactor);
  }

  /**
   * Resolves once the requests already answered have sent their read repairs and kept their hints, which they do
   * when every replica call has settled (calls fail at once after the transport closes).
   */
  idle(): Promise<void> {
    return this.afterwards.idle();
  }

  listMembers(): MemberInfo[] {
    return this.membership.list();
  }

  async get(key: string, options: DefaultOptions = {}): Promise<JsonValue> {
    const record = await this.read('get', key, options.consistency);
    return record === undefined || isTombstone(record) ? (options.default ?? null) : record.value;
  }

  async has(key: string, options: ConsistencyOptions = {}): Promise<boolean> {
    const record = await this.read('has', key, options.consistency);
    return record !== undefined && !isTombstone(record);
  }

  async set(key: string, value: JsonValue, options: ConsistencyOptions = {}): Promise<true> {
    await this.write('set', key, (version) => ({ value, version }), options.consistency);
    return true;
  }

  /** Removes the key and returns the value it held (or the default). Writes a tombstone only if there was a value. */
  async pop(key: string, options: DefaultOptions = {}): Promise<JsonValue> {
    const current = await this.read('pop', key, options.consistency);
    if (current === undefined || isTombstone(current)) return options.default ?? null;
    await this.write('pop', key, (version) => ({ deleted: true, version }), options.consistency);
    return current.value;
  }

  /**
   * One page of the live keys in the cluster, in `compareKeys` order. Asks every member for its next `limit` keys
   * after the cursor, tombstones included, and keeps each key's newest version, so a stale replica cannot list a
   * popped key (see `mergeKeyPages`). Needs answers from enough members that every key has a replica among them.
   */
  async listKeys(options: ListKeysOptions = {}): Promise<KeyPage> {
    const limit = options.limit ?? MAX_LIST_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw new RangeError(
        `Expected \`limit\` to be an integer from 1 to ${MAX_LIST_LIMIT}, got \`${limit}\``,
      );
    }
    const scan = { prefix: options.prefix, after: options.cursor, limit };
    const members = this.membership.ring.members;
    const required = Math.max(1, members.length - (this.replicas - 1));
    const outcome = await this.quorum(members, (member) => this.callReplica(member, 'peer.keys', scan), {
      required,
      timeoutMs: this.timeoutMs,
      waitForAll: true,
    });
    if (!outcome.reached) throw this.quorumError('list_keys', undefined, members, required, outcome);
    return mergeKeyPages(
      outcome.succeeded.map(({ value }) => value),
      limit,
    );
  }

  /**
   * Every live key (that starts with `prefix`), in `compareKeys` order, gathered page by page so that the event
   * loop is never held for long; refused with `TooLargeError` beyond `maxKeys`.
   */
  listAllKeys(options: ListAllKeysOptions = {}): Promise<string[]> {
    const { prefix } = options;
    return collectKeys((cursor) => this.listKeys({ prefix, cursor, limit: MAX_LIST_LIMIT }), options);
  }

  async stats(): Promise<NodeStats> {
    const counts = await this.replica.counts();
    return {
      address: this.self,
      keys: counts.live,
      tombstones: counts.tombstones,
      hints: this.hints?.count() ?? 0,
      members: this.membership.ring.size,
      replicas: this.replicas,
      uptimeMs: this.clock.now() - this.startedAt,
      version: KVDB_VERSION,
    };
  }

  /** Answers another coordinator's replica call from the local replica. */
  handlePeer<M extends PeerMethod>(method: M, params: PeerParams<M>): Promise<PeerResult<M>> {
    const handler = Object.hasOwn(this.dataHandlers, method)
      ? (this.dataHandlers[method as DataMethod] as unknown as (p: PeerParams<M>) => Promise<PeerResult<M>>)
      : undefined;
    if (handler === undefined) {
      return Promise.reject(new MethodNotFoundError(`Unknown peer method \`${method}\``));
    }
    return handler(params);
  }

  private requiredFor(consistency: Consistency = 'quorum', replicas: number): number {
    if (consistency === 'one') return Math.min(1, replicas);
    if (consistency === 'all') return replicas;
    return Math.floor(replicas / 2) + 1;
  }

  /**
   * Runs the calls through the executor; when this node is the only target (every request to a single node, or
   * a key this node alone replicates), it calls itself without the executor's queue, within the same deadline.
   */
  private quorum<T>(
    targets: readonly MemberAddress[],
    call: (target: MemberAddress) => Promise<T>,
    options: QuorumOptions<T>,
  ): Promise<QuorumOutcome<T>> {
    if (targets.length === 1 && targets[0] === this.self && options.required === 1) {
      return this.executor.alone(this.self, () => call(this.self), options.timeoutMs);
    }
    return this.executor.quorum(targets, call, options);
  }

  private callReplica<M extends PeerMethod>(
    target: MemberAddress,
    method: M,
    params: PeerParams<M>,
  ): Promise<PeerResult<M>> {
    if (target === this.self) return this.callSelf(method, params);
    if (this.membership.get(target)?.status === 'dead') {
      return Promise.reject(new UnavailableError(`${target} is down (the failure detector marked it dead)`));
    }
    return this.transport.call(target, method, params, { timeoutMs: this.timeoutMs });
  }

  /** The local replica, with record values copied so that it never shares an object with the caller. */
  private async callSelf<M extends PeerMethod>(method: M, params: PeerParams<M>): Promise<PeerResult<M>> {
    if (method === 'peer.put') {
      const { key, record } = params as PeerParams<'peer.put'>;
      return this.handlePeer('peer.put', { key, record: detached(record) }) as Promise<PeerResult<M>>;
    }
    const result = await this.handlePeer(method, params);
    return (method === 'peer.get' ? detached(result as PeerResult<'peer.get'>) : result) as PeerResult<M>;
  }

  private async read(
    operation: string,
    key: string,
    consistency?: Consistency,
  ): Promise<KVRecord | undefined> {
    const replicas = this.locate(key);
    if (this.aloneOn(replicas)) return this.readHere(operation, key, replicas);
    const required = this.requiredFor(consistency, replicas.length);
    // A quorum of answers is as good as every answer for the result, and asking only that many halves a quorum
    // read's traffic; the local replica answers without a network hop, so it goes first.
    const self = replicas.indexOf(this.self);
    if (self > 0) replicas.unshift(...replicas.splice(self, 1));
    const fanout = this.random() < this.readRepairChance ? replicas.length : required;
    const outcome = await this.quorum(replicas, (replica) => this.callReplica(replica, 'peer.get', { key }), {
      required,
      timeoutMs: this.timeoutMs,
      graceMs: FAILURE_GRACE_MS,
      fanout,
      hedgeMs: READ_HEDGE_MS,
      answered: this.answerHere(replicas, () => detached(this.replica.getNow(key) ?? null)),
    });
    if (!outcome.reached) throw this.quorumError(operation, key, replicas, required, outcome);

    let newest: KVRecord | undefined;
    for (const { value } of outcome.succeeded) newest = newerRecord(newest, value ?? undefined);
    if (newest !== undefined) this.hlc.observe(newest.version);
    // With every call answered and none behind, there is nothing to repair (most reads): no need to wait.
    if (outcome.inFlight > 0 || outcome.succeeded.some(({ value }) => isBehind(value, newest))) {
      void this.afterwards.track(outcome.settled.then((answers) => this.repair(key, answers)));
    }
    return newest;
  }

  /**
   * This node's answer to a replica call, made inline when it is one of `replicas` and its store answers at once
   * (see `QuorumOptions.answered`): the executor then calls only the others. Undefined otherwise.
   */
  private answerHere<T>(replicas: readonly MemberAddress[], answer: () => T): Settled<T> | undefined {
    if (!this.replica.synchronous || !replicas.includes(this.self)) return undefined;
    try {
      return { target: this.self, ok: true, value: answer() };
    } catch (error) {
      return { target: this.self, ok: false, error };
    }
  }

  /**
   * Whether this node alone holds the keys of `replicas` (every key of a single node) and its store answers at once:
   * then a request reads or writes the store directly, without the executor, its deadline or a promise a layer.
   */
  private aloneOn(replicas: readonly MemberAddress[]): boolean {
    return replicas.length === 1 && replicas[0] === this.self && this.replica.synchronous;
  }

  /** A read of a key this node alone holds (see `aloneOn`): one answer, so nothing to repair. */
  private readHere(operation: string, key: string, replicas: readonly MemberAddress[]): KVRecord | undefined {
    let record: KVRecord | undefined;
    try {
      record = this.replica.getNow(key);
    } catch (error) {
      throw this.localFailure(operation, key, replicas, error);
    }
    if (record === undefined) return undefined;
    this.hlc.observe(record.version);
    return detached(record);
  }

  /** Read repair: once every replica has answered, send the newest record to those that answered with less. */
  private async repair(
    key: string,
    answers: Array<{ target: string; ok: boolean; value?: KVRecord | null }>,
  ): Promise<void> {
    let newest: KVRecord | undefined;
    for (const answer of answers) if (answer.ok) newest = newerRecord(newest, answer.value ?? undefined);
    if (newest === undefined) return;
    const record = newest;
    const stale = answers.filter((answer) => answer.ok && isBehind(answer.value, record));
    if (stale.length === 0) return;
    // Awaited, so that `idle` covers a repair of this node's own replica too.
    await Promise.all(
      stale.map(({ target }) => {
        this.log.debug(`read repair: ${JSON.stringify(key)} to ${target}`);
        return this.callReplica(target, 'peer.put', { key, record }).catch((error: unknown) => {
          this.log.debug(`read repair of ${JSON.stringify(key)} on ${target} failed: ${reasonOf(error)}`);
        });
      }),
    );
  }

  private async write(
    operation: string,
    key: string,
    make: (version: Version) => KVRecord,
    consistency?: Consistency,
  ): Promise<void> {
    const replicas = this.locate(key);
    const required = this.requiredFor(consistency, replicas.length);
    const here = this.aloneOn(replicas);
    for (let attempt = 0; ; attempt++) {
      const record = make(this.hlc.now());
      if (here) {
        const newer = this.writeHere(operation, key, record, replicas);
        if (newer === undefined || attempt >= MAX_RESTAMPS) return;
        this.hlc.observe(newer);
        continue;
      }
      const outcome = await this.quorum(
        replicas,
        (replica) => this.callReplica(replica, 'peer.put', { key, record }),
        {
          required,
          timeoutMs: this.timeoutMs,
          graceMs: FAILURE_GRACE_MS,
          answered: this.answerHere(replicas, () => this.storeNow(key, detached(record))),
        },
      );
      this.hintLater(key, record, replicas.length, outcome);
      if (!outcome.reached) throw this.quorumError(operation, key, replicas, required, outcome);

      let newer: Version | undefined;
      for (const { value } of outcome.succeeded) {
        if (!value.stored && (newer === undefined || compareVersions(value.newer, newer) > 0))
          newer = value.newer;
      }
      if (newer === undefined || attempt >= MAX_RESTAMPS) return;
      this.log.debug(
        `${operation} ${JSON.stringify(key)}: a replica holds a newer version, stamping past it`,
      );
      this.hlc.observe(newer);
    }
  }

  /**
   * A write of a key this node alone holds (see `aloneOn`); returns the newer version the store holds instead, if
   * it does. A failure is reported as a write that reached none of its replicas would be.
   */
  private writeHere(
    operation: string,
    key: string,
    record: KVRecord,
    replicas: readonly MemberAddress[],
  ): Version | undefined {
    let result: PeerResult<'peer.put'>;
    try {
      result = this.storeNow(key, detached(record));
    } catch (error) {
      throw this.localFailure(operation, key, replicas, error);
    }
    return result.stored ? undefined : result.newer;
  }

  private localFailure(
    operation: string,
    key: string,
    replicas: readonly MemberAddress[],
    error: unknown,
  ): QuorumNotReachedError {
    return this.quorumError(operation, key, replicas, 1, {
      succeeded: [],
      failed: [{ target: this.self, error }],
      timedOut: false,
    });
  }

  /** Once every call has settled, keeps a hint for each replica that did not take the write. */
  private hintLater(key: string, record: KVRecord, called: number, outcome: QuorumOutcome<unknown>): void {
    const hints = this.hints;
    // Every replica has taken it already (a single node's every write): nothing to wait for.
    if (hints === undefined || outcome.succeeded.length === called) return;
    void this.afterwards.track(
      outcome.settled.then((answers) => {
        for (const answer of answers)
          if (!answer.ok && answer.target !== this.self) hints.add(answer.target, key, record);
      }),
    );
  }

  /** Applies a replica write to the local store; the HLC moves past it so later local writes order after it. */
  private async storeLocally(key: string, record: KVRecord): Promise<PeerResult<'peer.put'>> {
    if (this.replica.synchronous) return this.storeNow(key, record);
    this.hlc.observe(record.version);
    return putResult(record, await this.replica.merge(key, record));
  }

  /** `storeLocally` at once, into a synchronous store. */
  private storeNow(key: string, record: KVRecord): PeerResult<'peer.put'> {
    this.hlc.observe(record.version);
    return putResult(record, this.replica.mergeNow(key, record));
  }

  private quorumError(
    operation: string,
    key: string | undefined,
    replicas: readonly string[],
    required: number,
    outcome: Pick<QuorumOutcome<unknown>, 'succeeded' | 'failed' | 'timedOut'>,
  ): QuorumNotReachedError {
    return QuorumNotReachedError.fromFailure({
      operation,
      key,
      required,
      acked: outcome.succeeded.length,
      replicas: [...replicas],
      failed: outcome.failed.map(({ target, error }) => ({ replica: target, reason: reasonOf(error) })),
      timedOut: outcome.timedOut,
    });
  }
}

/** A replica's answer to a write: stored, or not because it holds a newer version (which it names). */
function putResult(record: KVRecord, { applied, previous }: MergeResult): PeerResult<'peer.put'> {
  if (!applied && previous !== undefined && compareVersions(previous.version, record.version) > 0) {
    return { stored: false, newer: previous.version };
  }
  return { stored: true };
}

/** Whether a replica's answer lags `newest`: it holds no record of the key, or an older version. */
function isBehind(answer: KVRecord | null | undefined, newest: KVRecord | undefined): boolean {
  if (newest === undefined) return false;
  return answer == null || compareVersions(answer.version, newest.version) < 0;
}

/**
 * The record with its value copied if the value is an object: over the network the wire copies values, and on the
 * local path this does, so a stored value never aliases one the caller holds. Primitive values pass as they are.
 */
function detached<R extends KVRecord | null>(record: R): R {
  if (record === null || isTombstone(record) || typeof record.value !== 'object' || record.value === null) {
    return record;
  }
  return { version: record.version, value: structuredClone(record.value) } as R;
}
