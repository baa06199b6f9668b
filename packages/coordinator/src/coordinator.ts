import {
  type CasResult,
  type Consistency,
  compareKeys,
  DEFAULT_REPLICAS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  isLive,
  type JsonText,
  type KeyPage,
  KVDB_VERSION,
  type KVRecord,
  liveRecord,
  MAX_LIST_LIMIT,
  type MemberAddress,
  type MemberInfo,
  type NodeStats,
  NULL_TEXT,
  newerRecord,
  type RingInfo,
  requireFactor,
  type TtlResult,
  timeToLive,
  ttlMs,
  UnavailableError,
  type Version,
} from '@kvdb/core';
import { type Clock, systemClock } from './clock.js';
import { refuseFutureStamp } from './clock-skew.js';
import { DEFAULT_READ_REPAIR_CHANCE, FAILURE_GRACE_MS, READ_HEDGE_MS } from './defaults.js';
import { ParallelExecutor, type QuorumOutcome, quorumFailure } from './executor.js';
import type { HintedHandoff } from './hinted-handoff.js';
import { collectKeys } from './key-listing.js';
import type { LocalReplica } from './local-replica.js';
import { type Logger, silentLogger } from './logger.js';
import type { Membership } from './membership.js';
import type { PeerTransport } from './peer-transport.js';
import { ReadRepair } from './read-repair.js';
import { ReplicaCalls } from './replica-calls.js';
import type {
  CasOptions,
  ConsistencyOptions,
  DefaultOptions,
  ListAllKeysOptions,
  ListKeysOptions,
  SetOptions,
} from './request-options.js';
import { listPage, StaleCursorError } from './ring-listing.js';
import { RunsUnderWay } from './runs-under-way.js';
import { compareAndSet, popValue, readCurrent, setValue } from './serial-operations.js';
import { SerialRounds } from './serial-round.js';

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
  /**
   * Whether this node may coordinate requests: a node joining through seeds has no view of the cluster until one
   * of them answers, and a write planned on that view could be acknowledged by the wrong replicas. @default always
   */
  ready?: () => boolean;
}

export interface CoordinatorInit {
  /**
   * Replication factor: how many distinct members hold each key, capped at the member count. In force until the
   * cluster's agreed factor is known (see `Membership.replication`). @default DEFAULT_REPLICAS
   */
  replicas?: number;
  /**
   * How long a request waits for its quorum before failing, in ms.
   * @default DEFAULT_REQUEST_TIMEOUT_MS
   */
  timeoutMs?: number;
  /**
   * Most calls to other replicas in flight at once (this node's own replica answers directly).
   * @default DEFAULT_CONCURRENCY
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

export type {
  CasOptions,
  ConsistencyOptions,
  DefaultOptions,
  ListAllKeysOptions,
  ListKeysOptions,
  SetOptions,
} from './request-options.js';

/**
 * Runs client requests across a key's replicas: writes succeed at W acks, reads answer at R replies with the
 * newest version and repair the replicas that lag. Any node coordinates any key. It is a client of the replicas,
 * this node's own included, which it asks directly rather than over the network (see `ask`); the replica side of
 * the calls is `LocalReplica`'s.
 */
export class Coordinator {
  readonly self: MemberAddress;
  readonly membership: Membership;
  readonly replica: LocalReplica;
  readonly executor: ParallelExecutor;
  readonly timeoutMs: number;
  private readonly configuredFactor: number;
  private readonly calls: ReplicaCalls;
  private readonly serial: SerialRounds;
  private readonly clock: Clock;
  private readonly startedAt: number;
  private readonly hints: HintedHandoff | undefined;
  private readonly random: () => number;
  /** Whether this node may coordinate requests (see `CoordinatorComponents.ready`); readiness probes ask it too. */
  readonly ready: () => boolean;
  private readonly readRepairChance: number;
  private readonly readRepair: ReadRepair;
  private readonly log: Logger;
  /** What a request does after its answer: read repair and hints, once every replica call has settled. */
  private readonly afterwards = new RunsUnderWay();

  constructor(components: CoordinatorComponents, init: CoordinatorInit = {}) {
    this.membership = components.membership;
    this.self = this.membership.self;
    this.replica = components.replica;
    this.hints = components.hints;
    this.clock = components.clock ?? systemClock;
    this.log = components.logger ?? silentLogger;
    this.configuredFactor = requireFactor(init.replicas ?? DEFAULT_REPLICAS);
    this.timeoutMs = init.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.random = components.random ?? Math.random;
    this.ready = components.ready ?? (() => true);
    this.readRepairChance = init.readRepairChance ?? DEFAULT_READ_REPAIR_CHANCE;
    this.executor = new ParallelExecutor({ clock: this.clock }, { concurrency: init.concurrency });
    this.calls = new ReplicaCalls({
      membership: this.membership,
      replica: this.replica,
      transport: components.transport,
      executor: this.executor,
      timeoutMs: this.timeoutMs,
    });
    this.serial = new SerialRounds({
      calls: this.calls,
      replica: this.replica,
      participants: (key) => {
        const { replicas, pending } = this.membership.placement.place(key, this.replicationFactor);
        const required = this.requiredFor('quorum', replicas.length) + pending.length;
        return { members: pending.length === 0 ? replicas : [...replicas, ...pending], required };
      },
      clock: this.clock,
      random: this.random,
      logger: this.log,
      timeoutMs: this.timeoutMs,
    });
    this.readRepair = new ReadRepair({
      send: (target, key, record) => this.calls.call(target, 'peer.put', { key, record }),
      logger: this.log,
    });
    this.startedAt = this.clock.now();
  }

  /** The cluster's replication factor (`Membership.replication`), or `init.replicas` until this node has heard it. */
  get replicationFactor(): number {
    return this.membership.agreedReplicas ?? this.configuredFactor;
  }

  /** The replication factor in force: the cluster's, capped at the member count. */
  get replicas(): number {
    return Math.min(this.replicationFactor, this.membership.ring.size);
  }

  /**
   * The key's replicas, primary first: the members that serve its reads, the same answer on every node that knows
   * the same members in the same phases. A member still joining is not one of them until it holds the key's data.
   */
  locate(key: string): MemberAddress[] {
    return this.membership.placement.replicas(key, this.replicationFactor);
  }

  /** The ring that serves reads, with what a client needs to compute each key's replicas as `locate` does. */
  ringInfo(): RingInfo {
    const { read } = this.membership.placement;
    const { id, vnodes, hasher } = read;
    return {
      self: this.self,
      id,
      members: [...read.members],
      vnodes,
      hasher: hasher.name,
      replicas: this.replicationFactor,
    };
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

  /** A compare-and-set (see `CasOptions`): always a serial operation. */
  cas(key: string, value: JsonText, options: CasOptions = {}): Promise<CasResult<JsonText>> {
    this.refuseUntilReady();
    const expected = 'expected' in options ? { value: options.expected ?? NULL_TEXT } : undefined;
    return this.serial.run('cas', key, compareAndSet(value, expected, ttlMs(options.ttl)));
  }

  async get(key: string, options: DefaultOptions = {}): Promise<JsonText> {
    const record = await this.read('get', key, options.consistency);
    return isLive(record, this.clock.now()) ? record.value : (options.default ?? NULL_TEXT);
  }

  async has(key: string, options: ConsistencyOptions = {}): Promise<boolean> {
    return isLive(await this.read('has', key, options.consistency), this.clock.now());
  }

  /**
   * Stores the value; with `ttl`, it expires that many seconds after its version's wall time. With `ifAbsent` or
   * `ifPresent`, a serial operation that answers whether it stored.
   */
  async set(key: string, value: JsonText, options: SetOptions = {}): Promise<boolean> {
    const lifetime = ttlMs(options.ttl);
    if (options.consistency === 'serial' || options.ifAbsent === true || options.ifPresent === true) {
      this.refuseUntilReady();
      return this.serial.run('set', key, setValue(value, options, lifetime));
    }
    const { stamp } = options;
    if (stamp !== undefined) this.checkStamp(stamp);
    const record = (version: Version) => liveRecord(value, version, lifetime);
    await this.write('set', key, record, options.consistency, stamp);
    return true;
  }

  /** Refuses a client's stamp too far ahead of this node's clock (see `refuseFutureStamp`). */
  checkStamp(stamp: Version): void {
    refuseFutureStamp(stamp, this.clock.now());
  }

  /** Whether the key holds a value, and the seconds left until it expires (`null`: it does not). */
  async ttl(key: string, options: ConsistencyOptions = {}): Promise<TtlResult> {
    return timeToLive(await this.read('ttl', key, options.consistency), this.clock.now());
  }

  /** Removes the key and returns the value it held (or the default). Writes a tombstone only if there was a value. */
  async pop(key: string, options: DefaultOptions = {}): Promise<JsonText> {
    if (options.consistency === 'serial') {
      this.refuseUntilReady();
      return this.serial.run('pop', key, popValue(options.default ?? NULL_TEXT));
    }
    const current = await this.read('pop', key, options.consistency);
    if (!isLive(current, this.clock.now())) return options.default ?? NULL_TEXT;
    await this.write('pop', key, (version) => ({ deleted: true, version }), options.consistency);
    return current.value;
  }

  /**
   * One page of the live keys in the cluster: on more than one member, in ring order, asking each segment's
   * replicas about that segment only, so a page costs the same however many members there are (see `listPage`).
   */
  async listKeys(options: ListKeysOptions = {}): Promise<KeyPage> {
    const limit = options.limit ?? MAX_LIST_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw new RangeError(
        `Expected \`limit\` to be an integer from 1 to ${MAX_LIST_LIMIT}, got \`${limit}\``,
      );
    }
    this.refuseUntilReady();
    const { read: ring } = this.membership.placement;
    return listPage(
      { ring, replicas: this.replicationFactor, ask: this.calls.askEach },
      { ...options, limit },
    );
  }

  /**
   * Every live key (that starts with `prefix`), in `compareKeys` order, gathered page by page so that the event
   * loop is never held for long; refused with `TooLargeError` beyond `maxKeys`.
   */
  async listAllKeys(options: ListAllKeysOptions = {}): Promise<string[]> {
    const { prefix } = options;
    // A cluster that grows from one member (or shrinks to one) midway changes the listing's order: start again.
    for (let attempt = 1; ; attempt++) {
      try {
        const page = (cursor?: string) => this.listKeys({ prefix, cursor, limit: MAX_LIST_LIMIT });
        return (await collectKeys(page, options)).sort(compareKeys);
      } catch (error) {
        if (!(error instanceof StaleCursorError) || attempt >= 3) throw error;
      }
    }
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

  private refuseUntilReady(): void {
    if (!this.ready()) throw new UnavailableError(`${this.self} has not reached any member named in -C yet`);
  }

  private requiredFor(consistency: Consistency = 'quorum', replicas: number): number {
    if (consistency === 'one') return Math.min(1, replicas);
    return consistency === 'all' ? replicas : Math.floor(replicas / 2) + 1;
  }

  private async read(
    operation: string,
    key: string,
    consistency?: Consistency,
  ): Promise<KVRecord | undefined> {
    this.refuseUntilReady();
    if (consistency === 'serial') return this.serial.run(operation, key, readCurrent);
    const replicas = this.locate(key);
    const required = this.requiredFor(consistency, replicas.length);
    // A quorum of answers is as good as every answer for the result, and asking only that many halves a quorum
    // read's traffic; the local replica answers without a network hop, so it goes first.
    const self = replicas.indexOf(this.self);
    if (self > 0) replicas.unshift(...replicas.splice(self, 1));
    const everyReplica = replicas.length > 1 && this.random() < this.readRepairChance;
    const outcome = await this.calls.read(replicas, key, {
      required,
      graceMs: FAILURE_GRACE_MS,
      fanout: everyReplica ? replicas.length : required,
      hedgeMs: READ_HEDGE_MS,
    });
    if (!outcome.reached) throw quorumFailure(operation, key, replicas, required, outcome);

    let newest: KVRecord | undefined;
    for (const { value } of outcome.succeeded) newest = newerRecord(newest, value ?? undefined);
    if (newest !== undefined) this.replica.observe(newest.version);
    if (ReadRepair.needed(outcome.succeeded, newest, outcome.inFlight)) {
      void this.afterwards.track(outcome.settled.then((answers) => this.readRepair.repair(key, answers)));
    }
    return newest;
  }

  private async write(
    operation: string,
    key: string,
    make: (version: Version) => KVRecord,
    consistency?: Consistency,
    stamp?: Version,
  ): Promise<void> {
    this.refuseUntilReady();
    // A member about to own the key takes the write too, and one more ack is needed for each (Cassandra's
    // CL + pending): if a pending owner does not take the write, the replicas it fetched the key from did, beyond
    // the quorum, so the write is in every quorum of the key's replicas once the move is done.
    const { replicas, pending } = this.membership.placement.place(key, this.replicationFactor);
    const targets = pending.length === 0 ? replicas : [...replicas, ...pending];
    const required = this.requiredFor(consistency, replicas.length) + pending.length;
    // A client's stamp moves the clock past it, as any version this node sees does.
    if (stamp !== undefined) this.replica.observe(stamp);
    const record = make(stamp ?? this.replica.stamp());
    const quorum = { required, graceMs: FAILURE_GRACE_MS };
    const outcome = await this.calls.ask(targets, 'peer.put', { key, record }, quorum);
    this.hintLater(key, record, targets.length, outcome);
    if (!outcome.reached) throw quorumFailure(operation, key, targets, required, outcome);
    // A replica that holds a newer version keeps it: this write was concurrent with that one and lost to it, as
    // last-writer-wins decides. Stamping it again past the newer one would let it overwrite a write that had
    // already seen it (a pop that returned this very value). The clock moves past the newer version, so the next
    // write coordinated here wins over it.
    for (const { value } of outcome.succeeded) if (!value.stored) this.replica.observe(value.newer);
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
}
