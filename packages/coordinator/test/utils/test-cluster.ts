import { isTombstone, type KVRecord, type MemberAddress, MemoryStore } from '@kvdb/core';
import { type Clock, systemClock } from '../../src/clock.js';
import { Coordinator } from '../../src/coordinator.js';
import { LocalReplica } from '../../src/local-replica.js';
import { Membership } from '../../src/membership.js';
import { type FailureMode, MemoryNetwork } from './memory-network.js';

export interface TestClusterOptions {
  /**
   * Members in the cluster.
   * @default 3
   */
  n?: number;
  /**
   * Replication factor of every coordinator.
   * @default 3
   */
  replicas?: number;
  /**
   * Request timeout of every coordinator, and so of every peer call, in ms.
   * @default 500
   */
  timeoutMs?: number;
  /**
   * Clock of the network and of every coordinator that `clockFor` does not name.
   * @default systemClock
   */
  clock?: Clock;
  /**
   * Seed of the network's drop decisions.
   * @default 1
   */
  seed?: number;
  /** Share of reads that ask every replica. @default 1 (every read repairs every replica it can) */
  readRepairChance?: number;
  /** A clock of its own for some coordinators (a skewed one, say); `undefined` keeps `clock`. */
  clockFor?: (index: number, address: MemberAddress) => Clock | undefined;
}

export interface TestNode {
  address: MemberAddress;
  membership: Membership;
  store: MemoryStore;
  /** The node's replica: what the network delivers the other coordinators' calls to. */
  replica: LocalReplica;
  coordinator: Coordinator;
}

/** The address of the i-th test node: only a name, nothing is dialled. */
export function testAddress(index: number): MemberAddress {
  return `10.0.0.${index + 1}:5878`;
}

/**
 * N coordinators on one in-memory network, each with a `MemoryStore` of its own and the same member list; each
 * node's replica is the network's handler for its address.
 */
export class TestCluster {
  readonly nodes: readonly TestNode[];
  readonly network: MemoryNetwork;
  readonly addresses: readonly MemberAddress[];

  constructor(options: TestClusterOptions = {}) {
    const { n = 3, replicas = 3, timeoutMs = 500, clock = systemClock, seed = 1 } = options;
    this.network = new MemoryNetwork({ clock }, { seed });
    this.addresses = Array.from({ length: n }, (_, index) => testAddress(index));
    this.nodes = this.addresses.map((address, index) => {
      const membership = new Membership(address, this.addresses);
      const store = new MemoryStore();
      const nodeClock = options.clockFor?.(index, address) ?? clock;
      const replica = new LocalReplica({ store, ring: membership.ring, self: address, clock: nodeClock });
      const coordinator = new Coordinator(
        { membership, replica, transport: this.network.transport(address), clock: nodeClock },
        { replicas, timeoutMs, readRepairChance: options.readRepairChance ?? 1 },
      );
      this.network.register(address, replica);
      return { address, membership, store, replica, coordinator };
    });
  }

  node(index: number): TestNode {
    const node = this.nodes[index];
    if (node === undefined) throw new RangeError(`No node ${index} in a cluster of ${this.nodes.length}`);
    return node;
  }

  coordinator(index: number): Coordinator {
    return this.node(index).coordinator;
  }

  store(index: number): MemoryStore {
    return this.node(index).store;
  }

  address(index: number): MemberAddress {
    return this.node(index).address;
  }

  /** Takes node `index` off the network (see `MemoryNetwork.stop`). */
  stop(index: number, mode: FailureMode = 'refuse'): void {
    this.network.stop(this.address(index), mode);
  }

  start(index: number): void {
    this.network.start(this.address(index));
  }

  /** The record each node's store holds for the key, in node order. */
  records(key: string): Promise<Array<KVRecord | undefined>> {
    return Promise.all(this.nodes.map(({ store }) => store.get(key)));
  }

  /** On how many stores the key holds a value (not a tombstone). */
  async liveCount(key: string): Promise<number> {
    const records = await this.records(key);
    return records.filter((record) => record !== undefined && !isTombstone(record)).length;
  }

  /** Live keys and tombstones summed over every store. */
  async totalCounts(): Promise<{ live: number; tombstones: number }> {
    const counts = await Promise.all(this.nodes.map(({ store }) => store.counts()));
    return counts.reduce(
      (sum, c) => ({ live: sum.live + c.live, tombstones: sum.tombstones + c.tombstones }),
      {
        live: 0,
        tombstones: 0,
      },
    );
  }
}

export function createTestCluster(options: TestClusterOptions = {}): TestCluster {
  return new TestCluster(options);
}
