import {
  isTombstone,
  type KVRecord,
  type MemberAddress,
  type MemberStatus,
  MemoryStore,
  type MergeResult,
  type PeerMethod,
  type ReplicationLog,
  type ReplicationSetting,
  type Version,
} from '@kvdb/core';
import sinon from 'sinon';
import { systemClock } from '../../src/clock.js';
import { ClusterNode } from '../../src/cluster-node.js';
import { LOCAL_TIMINGS, type Timings } from '../../src/defaults.js';
import type { Logger } from '../../src/logger.js';
import type { PeerTransport } from '../../src/peer-transport.js';
import { defined } from './assertions.js';
import { DelegatingStore } from './delegating-store.js';
import { type FailureMode, MemoryNetwork, seededRandom } from './memory-network.js';
import { testAddress } from './test-cluster.js';

/** Fake time a simulated cluster starts at; every node reads it through `systemClock`. */
export const SIM_EPOCH = 1_700_000_000_000;

export interface SimClusterOptions {
  /** Members started together, each seeded with every address. @default 3 */
  n?: number;
  /** Replication factor of every node. @default 3 */
  replicas?: number;
  /** Probe, gossip and repair intervals of every node. @default LOCAL_TIMINGS */
  timings?: Timings;
  /** Request timeout of every coordinator, in ms. @default 1000 */
  timeoutMs?: number;
  /** Seed of the network's drops and of every node's gossip choices. @default 1 */
  seed?: number;
  /** One-way delay of every call, in ms. @default 0 */
  delayMs?: number;
  /** Virtual nodes per member. @default DEFAULT_VNODES */
  vnodes?: number;
  /** Tombstone grace period of every node, in ms. @default 3600000 */
  tombstoneGraceMs?: number;
  /** The members node `index` names in its -C at the start. @default every address */
  seedsOf?: (index: number, addresses: MemberAddress[]) => readonly MemberAddress[];
  /** Where node `address` logs. @default silentLogger */
  logger?: (address: MemberAddress) => Logger;
  /** Other names of nodes, by index, that reach them from the start (see `MemoryNetwork.alias`). @default none */
  aliases?: ReadonlyArray<[name: MemberAddress, index: number]>;
}

/** Calls and JSON bytes (request plus reply) per peer method, counted at the senders. */
export class Traffic {
  private readonly counts = new Map<string, { calls: number; bytes: number }>();

  record(method: string, bytes: number, call: boolean): void {
    const entry = this.counts.get(method) ?? { calls: 0, bytes: 0 };
    if (call) entry.calls += 1;
    entry.bytes += bytes;
    this.counts.set(method, entry);
  }

  calls(method: PeerMethod): number {
    return this.counts.get(method)?.calls ?? 0;
  }

  bytes(method: PeerMethod): number {
    return this.counts.get(method)?.bytes ?? 0;
  }

  /** Calls of every method, by method. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts].map(([method, { calls }]) => [method, calls]));
  }

  reset(): void {
    this.counts.clear();
  }
}

/**
 * A memory store, answering at once as a node's does, that stops accepting writes once its process is killed: a
 * stopped node's in-flight work (an anti-entropy pull, a peer write) must not reach the data its successor reuses,
 * as it could not after a crash.
 */
class FencedStore extends DelegatingStore {
  fenced = false;

  getSync(key: string): KVRecord | undefined {
    return this.inner.getSync(key);
  }

  mergeSync(key: string, record: KVRecord): MergeResult {
    if (this.fenced) throw new Error('the process was killed');
    return this.inner.mergeSync(key, record);
  }

  override merge(key: string, record: KVRecord): Promise<MergeResult> {
    if (this.fenced) return Promise.reject(new Error('the process was killed'));
    return super.merge(key, record);
  }

  override remove(key: string, version: Version): Promise<boolean> {
    if (this.fenced) return Promise.reject(new Error('the process was killed'));
    return super.remove(key, version);
  }

  override close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A replication log in memory, kept with a node's store across the restarts that keep the store. */
class KeptReplication implements ReplicationLog {
  setting: ReplicationSetting | undefined;

  loadReplication(): ReplicationSetting | undefined {
    return this.setting;
  }

  async saveReplication(setting: ReplicationSetting): Promise<void> {
    this.setting = setting;
  }
}

interface Slot {
  address: MemberAddress;
  node: ClusterNode;
  /** The node's `start()`: it rejects when the node refuses to take part. */
  started: Promise<number>;
  store: MemoryStore;
  replication: KeptReplication;
  fence: { killed: boolean; store: FencedStore };
  up: boolean;
}

export interface StartNodeOptions {
  /** Members to join through. @default every address of the cluster */
  seeds?: readonly MemberAddress[];
  /** Start with an empty store (and no stored replication setting) instead of the address's. @default false */
  empty?: boolean;
  /** The node's replication factor (its `-R`); null: none, it takes the cluster's. @default the `replicas` option */
  replicas?: number | null;
}

/**
 * N `ClusterNode`s on one `MemoryNetwork`, the whole cluster on sinon's fake clock: every timer of every node,
 * the network's delays and timeouts, and the versions' wall time. Advance it with `tick`; poll eventually-true
 * state with `until`. Always `teardown()`, which restores the real timers.
 */
export class SimCluster {
  readonly clock: sinon.SinonFakeTimers;
  readonly network: MemoryNetwork;
  readonly traffic = new Traffic();
  readonly options: Required<
    Omit<SimClusterOptions, 'vnodes' | 'tombstoneGraceMs' | 'seedsOf' | 'logger' | 'aliases'>
  > &
    Pick<SimClusterOptions, 'vnodes' | 'tombstoneGraceMs' | 'seedsOf' | 'logger' | 'aliases'>;
  private readonly slots: Slot[] = [];
  private starts = 0;
  private tornDown = false;

  private constructor(options: SimClusterOptions) {
    this.options = {
      n: options.n ?? 3,
      replicas: options.replicas ?? 3,
      timings: options.timings ?? LOCAL_TIMINGS,
      timeoutMs: options.timeoutMs ?? 1_000,
      seed: options.seed ?? 1,
      delayMs: options.delayMs ?? 0,
      vnodes: options.vnodes,
      tombstoneGraceMs: options.tombstoneGraceMs,
      seedsOf: options.seedsOf,
      logger: options.logger,
      aliases: options.aliases,
    };
    this.clock = sinon.useFakeTimers({
      now: SIM_EPOCH,
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
    });
    this.network = new MemoryNetwork(
      { clock: systemClock },
      { seed: this.options.seed, delayMs: this.options.delayMs },
    );
  }

  /** Builds and starts the cluster, and lets the first joins finish. */
  static async create(options: SimClusterOptions = {}): Promise<SimCluster> {
    const cluster = new SimCluster(options);
    const addresses = Array.from({ length: cluster.options.n }, (_, index) => testAddress(index));
    for (const [name, index] of cluster.options.aliases ?? []) {
      cluster.network.alias(name, defined(addresses[index], `node ${index}`));
    }
    addresses.forEach((address, index) => {
      const seeds = cluster.options.seedsOf?.(index, addresses) ?? addresses;
      cluster.slots.push(cluster.build(address, seeds));
    });
    for (const slot of cluster.slots) SimCluster.start(slot);
    await cluster.tick(10);
    return cluster;
  }

  get size(): number {
    return this.slots.length;
  }

  get addresses(): MemberAddress[] {
    return this.slots.map((slot) => slot.address);
  }

  address(index: number): MemberAddress {
    return this.slot(index).address;
  }

  node(index: number): ClusterNode {
    return this.slot(index).node;
  }

  /** The store of whichever process now runs at the address (shared across restarts that keep it). */
  store(index: number): MemoryStore {
    return this.slot(index).store;
  }

  /** The `start()` of the node now at `index`: it rejects when the node refused to take part. */
  started(index: number): Promise<number> {
    return this.slot(index).started;
  }

  isUp(index: number): boolean {
    return this.slot(index).up;
  }

  /** Indices of the nodes whose process is running. */
  upIndices(): number[] {
    return this.slots.flatMap((slot, index) => (slot.up ? [index] : []));
  }

  now(): number {
    return Date.now();
  }

  /** Advances fake time, running every timer and the promise chains they start. */
  async tick(ms: number): Promise<void> {
    await this.clock.tickAsync(ms);
  }

  /**
   * Ticks until `condition` holds and resolves with the fake ms that took; fails once `withinMs` of fake time
   * has passed without it.
   */
  async until(
    condition: () => boolean | Promise<boolean>,
    { withinMs, stepMs = 100, what = 'the condition' }: { withinMs: number; stepMs?: number; what?: string },
  ): Promise<number> {
    const start = this.now();
    for (;;) {
      if (await condition()) return this.now() - start;
      if (this.now() - start >= withinMs) {
        throw new Error(`${what} did not hold within ${withinMs} ms of fake time`);
      }
      await this.tick(Math.min(stepMs, start + withinMs - this.now()));
    }
  }

  /** Ticks until the promise settles (at most `withinMs`), then hands it back: for requests that may wait on timers. */
  async settle<T>(promise: Promise<T>, withinMs = 30_000, stepMs = 10): Promise<T> {
    let settled = false;
    promise.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    await this.until(() => settled, { withinMs, stepMs, what: 'the request to settle' });
    return promise;
  }

  /** How `observer` sees `address`. */
  statusOf(observer: number, address: MemberAddress): MemberStatus | undefined {
    return this.node(observer).membership.get(address)?.status;
  }

  /** Whether every running node other than `address` itself sees it with this status. */
  seenAs(address: MemberAddress, status: MemberStatus, observers = this.upIndices()): boolean {
    return observers
      .filter((index) => this.address(index) !== address)
      .every((index) => this.statusOf(index, address) === status);
  }

  /** On how many of the given stores (the running nodes' by default) the key holds a value, not a tombstone. */
  async liveCopies(key: string, indices = this.upIndices()): Promise<number> {
    let copies = 0;
    for (const index of indices) {
      const record = await this.store(index).get(key);
      if (record !== undefined && !isTombstone(record)) copies += 1;
    }
    return copies;
  }

  /** Live keys summed over the given stores (the running nodes' by default). */
  async totalLiveKeys(indices = this.upIndices()): Promise<number> {
    let total = 0;
    for (const index of indices) total += (await this.store(index).counts()).live;
    return total;
  }

  /** The indices of the stores that hold any record (value or tombstone) for the key. */
  async holders(key: string, indices = this.upIndices()): Promise<number[]> {
    const held: number[] = [];
    for (const index of indices) if ((await this.store(index).get(key)) !== undefined) held.push(index);
    return held;
  }

  /**
   * Whether every key is held (value or tombstone) by exactly its replicas among `indices`, as every one of them
   * locates it: where a finished join or leave leaves the data.
   */
  async placedExactly(keys: readonly string[], indices: readonly number[]): Promise<boolean> {
    const first = this.node(indices[0] ?? 0).coordinator;
    for (const key of keys) {
      const replicas = first.locate(key);
      const named = replicas.join();
      if (indices.some((index) => this.node(index).coordinator.locate(key).join() !== named)) return false;
      const holders = await this.holders(key, [...indices]);
      const wanted = replicas.map((address) => this.indexOf(address));
      if (holders.length !== wanted.length || !wanted.every((index) => holders.includes(index))) return false;
    }
    return true;
  }

  indexOf(address: MemberAddress): number {
    const index = this.slots.findIndex((slot) => slot.address === address);
    if (index < 0) throw new RangeError(`No node at ${address}`);
    return index;
  }

  /**
   * Kills a node: the network stops answering for it (`refuse`: connection refused, `hang`: calls time out) and
   * its loops stop without telling anyone, as after `kill -9`.
   */
  async kill(index: number, mode: FailureMode = 'refuse'): Promise<void> {
    const slot = this.slot(index);
    this.network.stop(slot.address, mode);
    slot.fence.killed = true;
    slot.fence.store.fenced = true;
    slot.up = false;
    await slot.node.stop({ announce: false });
  }

  /**
   * Starts a new process at a killed node's address: a new `ClusterNode` with a later incarnation, over the
   * store the address had (or an empty one), joining through `seeds`.
   */
  async restart(
    index: number,
    { seeds, empty = false, replicas }: StartNodeOptions = {},
  ): Promise<ClusterNode> {
    const slot = this.slot(index);
    if (slot.up) await this.kill(index);
    await this.tick(1);
    const kept = empty ? {} : { store: slot.store, replication: slot.replication };
    const next = this.build(slot.address, seeds ?? this.addresses, { ...kept, replicas });
    this.slots[index] = next;
    SimCluster.start(next);
    await this.tick(0);
    return next.node;
  }

  /** Adds a new member that joins through `seeds` (the first node by default); resolves with its index. */
  async add({ seeds, replicas }: StartNodeOptions = {}): Promise<number> {
    const index = this.slots.length;
    const slot = this.build(testAddress(index), seeds ?? [this.address(0)], { replicas });
    this.slots.push(slot);
    SimCluster.start(slot);
    await this.tick(0);
    return index;
  }

  /** Every record of a store, sorted by key, for comparing whole stores. */
  static dump(store: MemoryStore): Array<[string, KVRecord]> {
    return [...store.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Stops every node, drops every fake timer and restores the real ones. */
  async teardown(): Promise<void> {
    if (this.tornDown) return;
    this.tornDown = true;
    for (const slot of this.slots) {
      slot.fence.killed = true;
      slot.fence.store.fenced = true;
      slot.up = false;
      await slot.node.stop({ announce: false });
    }
    this.clock.reset();
    this.clock.restore();
  }

  private slot(index: number): Slot {
    const slot = this.slots[index];
    if (slot === undefined) throw new RangeError(`No node ${index} in a cluster of ${this.slots.length}`);
    return slot;
  }

  private static start(slot: Slot): void {
    slot.started = slot.node.start();
    slot.started.catch(() => {});
  }

  /** Builds a node, over the store and replication log given (new ones by default). */
  private build(
    address: MemberAddress,
    seeds: readonly MemberAddress[],
    {
      store = new MemoryStore(),
      replication = new KeptReplication(),
      replicas = this.options.replicas,
    }: { store?: MemoryStore; replication?: KeptReplication; replicas?: number | null } = {},
  ): Slot {
    this.starts += 1;
    const fence = { killed: false, store: new FencedStore(store) };
    const node = new ClusterNode(
      {
        store: fence.store,
        transport: this.transport(address, fence),
        clock: systemClock,
        logger: this.options.logger?.(address),
        random: seededRandom(this.options.seed * 7_919 + this.starts * 104_729),
        replicationLog: replication,
      },
      {
        self: address,
        seeds,
        replicas: replicas ?? undefined,
        timeoutMs: this.options.timeoutMs,
        timings: this.options.timings,
        vnodes: this.options.vnodes,
        tombstoneGraceMs: this.options.tombstoneGraceMs,
      },
    );
    this.network.register(address, node);
    return { address, node, started: Promise.resolve(0), store, replication, fence, up: true };
  }

  /** The network's transport for one process, counting traffic and dead once the process is killed. */
  private transport(from: MemberAddress, fence: { killed: boolean }): PeerTransport {
    const inner = this.network.transport(from);
    const traffic = this.traffic;
    return {
      async call(to, method, params, options) {
        if (fence.killed) throw new Error(`${from} was killed`);
        traffic.record(method, JSON.stringify(params ?? {}).length, true);
        const result = await inner.call(to, method, params, options);
        traffic.record(method, JSON.stringify(result ?? null).length, false);
        return result;
      },
    };
  }
}

/** Builds and starts a simulated cluster on fake time; `teardown()` it in `afterEach`. */
export function createSimCluster(options: SimClusterOptions = {}): Promise<SimCluster> {
  return SimCluster.create(options);
}
