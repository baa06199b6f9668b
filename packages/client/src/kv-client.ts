import { EventEmitter, setMaxListeners } from 'node:events';
import {
  type CasResult,
  type ClusterStatus,
  compareKeys,
  DEFAULT_HOST,
  DEFAULT_PORT,
  formatAddress,
  type JsonValue,
  type KeyPage,
  KVError,
  type LeaveResult,
  MAX_LIST_LIMIT,
  type MemberInfo,
  MethodNotFoundError,
  type NodeStats,
  type PublicMethod,
  type PublicMethods,
  type RingInfo,
  type SetReplicasResult,
  type TtlResult,
} from '@kvdb/core';
import {
  type CallOptions,
  type CasOptions,
  checkOptions,
  compact,
  type KeysOptions,
  type KVClientComponents,
  type KVClientEvents,
  type KVClientOptions,
  type ListKeysOptions,
  type ListKeysPageOptions,
  type RequestOptions,
  refusedCallOptions,
  type SetOptions,
} from './client-options.js';
import { ClusterMap } from './cluster-map.js';
import { DEFAULT_CLIENT_TIMEOUT_MS, DEFAULT_MAX_SOCKETS, DEFAULT_REFRESH_MS } from './constants.js';
import { type FailoverCall, type FailoverContext, runWithFailover } from './failover.js';
import { keysOfPages } from './key-pages.js';
import { HttpTransport, type NodeTransport, splitAddress } from './node-transport.js';
import { NodeWatch } from './node-watch.js';
import { type RetryPolicy, resolveRetryPolicy } from './retry-policy.js';
import { SessionClock } from './session-clock.js';

export type {
  CallOptions,
  CasOptions,
  KeysOptions,
  KVClientComponents,
  KVClientEvents,
  KVClientOptions,
  KVClientTls,
  ListKeysOptions,
  ListKeysPageOptions,
  RequestOptions,
  SetOptions,
} from './client-options.js';

/**
 * A typed client for a kvdb cluster. Given several `nodes`, it learns the members and the ring, sends each key's
 * calls to one of its replicas, and moves a call that gets no answer to another node (reads and plain sets always,
 * see `stampWrites`; other writes only when the node never got them). Failures reject with `KVError` subclasses (`ConnectionError`,
 * `TimeoutError`, `InvalidParamsError`, `QuorumNotReachedError`, `OutcomeUnknownError`, …), whose `data.tried`
 * names the nodes tried.
 *
 * @example
 * ```ts
 * const kv = new KVClient({ nodes: ['10.0.0.1:5878', '10.0.0.2:5878', '10.0.0.3:5878'] })
 * kv.on('nodeDown', (address, error) => console.warn(`${address} is down: ${error.message}`))
 * await kv.set('user:42', { name: 'Ada' })
 * await kv.get<{ name: string }>('user:42') // { name: 'Ada' }
 * await kv.close()
 * ```
 */
export class KVClient extends EventEmitter<KVClientEvents> {
  /** Host of the first node given. */
  readonly host: string;
  /** Port of the first node given. */
  readonly port: number;
  readonly timeoutMs: number;
  readonly deadlineMs: number;
  readonly retry: Readonly<Required<RetryPolicy>>;
  private readonly map: ClusterMap;
  private readonly transport: NodeTransport;
  private readonly failover: FailoverContext;
  private readonly seeds: readonly string[];
  private readonly routeByKey: boolean;
  private readonly watch: NodeWatch;
  private refreshTimer: NodeJS.Timeout | undefined;
  private readonly time: SessionClock;
  private closed = false;
  /** Aborted by `close`: calls under way end, rather than retry on a closed transport. */
  private readonly closing = new AbortController();

  constructor(options: KVClientOptions = {}, components: KVClientComponents = {}) {
    super();
    // Every call in flight listens on it: any number of calls at once is no leak.
    setMaxListeners(0, this.closing.signal);
    const nodes = checkOptions(options, splitAddress);
    this.host = nodes.length > 0 ? splitAddress(nodes[0] ?? '')[0] : (options.host ?? DEFAULT_HOST);
    this.port = nodes.length > 0 ? splitAddress(nodes[0] ?? '')[1] : (options.port ?? DEFAULT_PORT);
    this.seeds = nodes.length > 0 ? nodes : [formatAddress(this.host, this.port)];
    this.timeoutMs = options.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
    this.deadlineMs = options.deadlineMs ?? 2 * this.timeoutMs;
    this.retry = resolveRetryPolicy(options.retry);
    this.routeByKey = options.routeByKey ?? true;
    this.map = new ClusterMap(this.seeds);
    const { maxSockets = DEFAULT_MAX_SOCKETS, authToken, tls } = options;
    this.transport = components.transport ?? new HttpTransport({ maxSockets, authToken, tls });
    const random = components.random ?? Math.random;
    const now = components.now ?? Date.now;
    this.time = new SessionClock(now, options.stampWrites ?? true, options.session);
    this.watch = new NodeWatch({
      map: this.map,
      transport: this.transport,
      policy: this.retry,
      random,
      timeoutMs: this.timeoutMs,
      emit: (event: keyof KVClientEvents, ...args: unknown[]) => this.emit(event, ...(args as never)),
    });
    this.failover = {
      transport: this.transport,
      map: this.map,
      policy: this.retry,
      random,
      now,
      session: () => this.time.session,
      answered: (address, reply) => {
        this.time.join(reply?.session);
        this.watch.answered(address);
      },
      failed: (address, error) => this.watch.failed(address, error),
    };
    if (options.discover ?? nodes.length > 0) {
      const refreshMs = options.refreshMs ?? DEFAULT_REFRESH_MS;
      this.refreshTimer = setInterval(() => void this.refresh(), refreshMs).unref();
      void this.refresh();
    }
  }

  /**
   * The highest session token the nodes have sent this client: at least the version of every value it has read
   * or written. Each call sends it, and the node that coordinates the call stamps its writes above it, so a write
   * through this client wins over everything it has seen, through any node, whatever the clocks' skew.
   */
  get session(): string | undefined {
    return this.time.session;
  }

  /** `host:port` of the first node given. */
  get address(): string {
    return this.seeds[0] ?? '';
  }

  /** Every node the client may call: the ones given, then the members it learned. */
  get nodes(): readonly string[] {
    return this.map.nodes;
  }

  /** The nodes the client skips until they answer a probe again. */
  get downNodes(): string[] {
    return this.map.downNodes;
  }

  /**
   * Asks a node for the members and the ring now (the client does so every `refreshMs`): resolves with whether it
   * learned them; a failure on every node is emitted as `error`.
   */
  async refresh(options: RequestOptions = {}): Promise<boolean> {
    try {
      const info = (await this.send({ method: 'ring', params: {}, ...options })) as RingInfo;
      this.learned(this.map.learnRing(info));
      return true;
    } catch (error) {
      if (error instanceof MethodNotFoundError) return this.refreshMembers(options);
      if (!this.closed && this.listenerCount('error') > 0) this.emit('error', error as Error);
      return false;
    }
  }

  ping(options: RequestOptions = {}): Promise<'pong'> {
    return this.call('ping', {}, options);
  }

  /** The key's value, or `defaultValue` (else `null`) when it has none. */
  get<T extends JsonValue = JsonValue>(
    key: string,
    defaultValue?: T,
    options: CallOptions = {},
  ): Promise<T | null> {
    const params = compact({ key, default: defaultValue, consistency: options.consistency });
    return this.call('get', params, options) as Promise<T | null>;
  }

  /**
   * Stores the value: `true`; with `ifAbsent` or `ifPresent`, whether it stored. A plain set is stamped (see
   * `stampWrites`), so it is retried like a read.
   */
  set(key: string, value: JsonValue, options: SetOptions = {}): Promise<boolean> {
    const { consistency, ttl, ifAbsent, ifPresent } = options;
    const serial = consistency === 'serial' || ifAbsent === true || ifPresent === true;
    const stamp = serial ? undefined : this.time.stamp();
    return this.call('set', compact({ key, value, consistency, ttl, ifAbsent, ifPresent, stamp }), options);
  }

  /**
   * A compare-and-set, linearizable with every serial call on the key: stores `value` if the key's value
   * deep-equals `options.expected`, or, without `expected`, if the key holds no value.
   */
  cas(key: string, value: JsonValue, options: CasOptions = {}): Promise<CasResult> {
    const { ttl } = options;
    const params =
      'expected' in options ? { key, value, expected: options.expected ?? null, ttl } : { key, value, ttl };
    return this.call('cas', compact(params), options);
  }

  has(key: string, options: CallOptions = {}): Promise<boolean> {
    return this.call('has', compact({ key, consistency: options.consistency }), options);
  }

  /** Removes the key; resolves with the value it held, or `defaultValue` (else `null`). */
  pop<T extends JsonValue = JsonValue>(
    key: string,
    defaultValue?: T,
    options: CallOptions = {},
  ): Promise<T | null> {
    const params = compact({ key, default: defaultValue, consistency: options.consistency });
    return this.call('pop', params, options) as Promise<T | null>;
  }

  /**
   * The keys' values in the order given, `null` for a key that holds none: each key read as `get` reads it, all in
   * parallel on the node, at most the node's `--max-batch` (1,000) keys a call. When any key fails it rejects with
   * the first failed key's error class, and `data` (a `MultiKeyFailure`) names every key that failed.
   */
  mget<T extends JsonValue = JsonValue>(
    keys: readonly string[],
    options: CallOptions = {},
  ): Promise<(T | null)[]> {
    const params = compact({ keys: [...keys], consistency: options.consistency });
    return this.call('mget', params, options) as Promise<(T | null)[]>;
  }

  /**
   * Writes every `[key, value]` (an array of pairs, a `Map`, `Object.entries(…)`), each key once, each as `set`
   * writes it, all in parallel on the node, at most `--max-batch` (1,000) a call; resolves once every key is
   * acknowledged. Not atomic: when some keys fail it rejects with the first failed key's error class, `data` (a
   * `MultiKeyFailure`) names them, and the other keys stay written.
   */
  mset(entries: Iterable<readonly [string, JsonValue]>, options: CallOptions = {}): Promise<true> {
    const pairs = Array.from(entries, ([key, value]): [string, JsonValue] => [key, value]);
    const { consistency } = options;
    const stamp = consistency === 'serial' ? undefined : this.time.stamp();
    return this.call('mset', compact({ entries: pairs, consistency, stamp }), options);
  }

  /**
   * Whether the key holds a value, and the seconds (ms precision) until it expires: `{exists: true, ttl: 1.5}`;
   * `ttl` is `null` for a value without one, and for a key that holds no value (`exists: false`).
   */
  ttl(key: string, options: CallOptions = {}): Promise<TtlResult> {
    return this.call('ttl', compact({ key, consistency: options.consistency }), options);
  }

  /**
   * Every live key in the cluster (that starts with `prefix`), in code point order. Fetched a page at a time, so
   * it works whatever the number of keys, as long as they fit in memory; `keys()` iterates without holding them.
   */
  async listKeys(options: ListKeysOptions = {}): Promise<string[]> {
    const keys: string[] = [];
    for await (const key of this.keys(options)) keys.push(key);
    return keys.sort(compareKeys);
  }

  /**
   * One page of keys: pass back the `cursor` it returns for the next, until it is `null`. A page may be shorter
   * than `limit` (empty, even) without being the last. A single node lists in code point order; a cluster lists in
   * ring order (by each key's place on the ring), so that each page asks only the replicas of the ring segments
   * it covers.
   */
  async listKeysPage(options: ListKeysPageOptions = {}): Promise<KeyPage> {
    const { prefix, limit = MAX_LIST_LIMIT, cursor } = options;
    return (await this.call('list_keys', compact({ prefix, limit, cursor }), options)) as KeyPage;
  }

  /** Every live key (that starts with `prefix`), in the order of `listKeysPage`, fetched `pageSize` keys at a time. */
  async *keys(options: KeysOptions = {}): AsyncGenerator<string, void, undefined> {
    const { prefix, pageSize: limit, signal, deadlineMs } = options;
    yield* keysOfPages((cursor) => this.listKeysPage({ prefix, limit, cursor, signal, deadlineMs }));
  }

  listMembers(options: RequestOptions = {}): Promise<MemberInfo[]> {
    return this.call('list_members', {}, options);
  }

  /** The key's replicas, primary first. */
  locate(key: string, options: RequestOptions = {}): Promise<string[]> {
    return this.call('locate', { key }, options);
  }

  /** The counters of the first node given that is up. */
  stats(options: RequestOptions = {}): Promise<NodeStats> {
    return this.call('stats', {}, options);
  }

  /** The node's view of the whole cluster: members with their counters and ring shares, and recent events. */
  clusterStatus(options: RequestOptions = {}): Promise<ClusterStatus> {
    return this.call('cluster_status', {}, options);
  }

  /**
   * Takes a member out of the cluster for good. Without `address`, the node this client was given (only one may
   * be) hands its data to the new owners, answers, and shuts down: that call goes to no other node. With the
   * address of a member that is down, that member is removed and the others re-replicate its keys.
   */
  leave(address?: string, options: RequestOptions = {}): Promise<LeaveResult> {
    if (address !== undefined) return this.call('leave', { address }, options);
    const refused = refusedCallOptions(options);
    if (refused !== undefined) return Promise.reject(refused);
    if (this.seeds.length > 1) {
      throw new TypeError(
        `Expected the address of the member to leave: this client was given ${this.seeds.length} nodes`,
      );
    }
    return this.send({ method: 'leave', params: {}, only: this.address, ...options }) as Promise<LeaveResult>;
  }

  /**
   * Changes the cluster's replication factor; resolves once every new replica holds its data (a large store may
   * take longer than `timeoutMs`: `stats` shows the change under way, and the node sees it through anyway).
   */
  setReplicas(replicas: number, options: RequestOptions = {}): Promise<SetReplicasResult> {
    return this.call('set_replicas', { replicas }, options);
  }

  /**
   * Calls any method by name: the typed methods above are shorthands for this. A call whose params name a `key`
   * goes to one of that key's replicas; `stats`, `cluster_status` and `set_replicas` to the first node given that
   * is up. A `set` or `mset` whose params carry a `stamp` is retried like a read (other methods ignore one).
   */
  call<M extends PublicMethod>(
    method: M,
    params: PublicMethods[M][0],
    options?: RequestOptions,
  ): Promise<PublicMethods[M][1]>;
  call(method: string, params?: object | unknown[], options?: RequestOptions): Promise<unknown>;
  call(method: string, params: object | unknown[] = {}, options: RequestOptions = {}): Promise<unknown> {
    const refused = refusedCallOptions(options);
    if (refused !== undefined) return Promise.reject(refused);
    const { key, stamp } = params as { key?: unknown; stamp?: unknown };
    return this.send({
      method,
      params,
      stamped: (method === 'set' || method === 'mset') && typeof stamp === 'string',
      key: typeof key === 'string' && this.routeByKey ? key : undefined,
      pinned: PINNED.has(method),
      signal: options.signal,
      deadlineMs: options.deadlineMs,
    });
  }

  /** Stops following the cluster and closes the keep-alive sockets; the client cannot be used afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort(new KVError('the client is closed'));
    clearInterval(this.refreshTimer);
    this.watch.close();
    await this.transport.close();
  }

  private send(
    call: Omit<FailoverCall, 'timeoutMs' | 'deadlineMs'> & { deadlineMs?: number },
  ): Promise<unknown> {
    if (this.closed) return Promise.reject(new KVError(`${call.method}: the client is closed`));
    const deadlineMs = call.deadlineMs ?? this.deadlineMs;
    const closing = this.closing.signal;
    const signal = call.signal === undefined ? closing : AbortSignal.any([call.signal, closing]);
    return runWithFailover(this.failover, { ...call, signal, timeoutMs: this.timeoutMs, deadlineMs });
  }

  private async refreshMembers(options: RequestOptions): Promise<boolean> {
    try {
      const members = (await this.send({ method: 'list_members', params: {}, ...options })) as MemberInfo[];
      this.learned(this.map.learnMembers(members.filter((m) => m.status !== 'left').map((m) => m.address)));
      return true;
    } catch (error) {
      if (!this.closed && this.listenerCount('error') > 0) this.emit('error', error as Error);
      return false;
    }
  }

  private learned(changed: boolean): void {
    if (changed) this.emit('members', this.map.nodes);
  }
}

/** Methods whose answer depends on the node that gives it, or that an operator means for one node. */
const PINNED: ReadonlySet<string> = new Set(['stats', 'cluster_status', 'set_replicas']);
