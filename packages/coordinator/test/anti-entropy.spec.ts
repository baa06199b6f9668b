import { isDeepStrictEqual } from 'node:util';
import { isTombstone, type KVRecord } from '@kvdb/core';
import { expect } from 'chai';
import { createSimCluster, type SimCluster } from './utils/sim-cluster.js';

/** Writes `count` keys through node 0 at consistency all, in parallel batches. */
async function populate(cluster: SimCluster, count: number, from = 0): Promise<string[]> {
  const keys = Array.from({ length: count }, (_, i) => `key:${from + i}`);
  for (let i = 0; i < keys.length; i += 250) {
    const batch = keys.slice(i, i + 250);
    await cluster.settle(
      Promise.all(
        batch.map((key) => cluster.node(0).coordinator.set(key, { key, n: 1 }, { consistency: 'all' })),
      ),
    );
  }
  return keys;
}

/** Whether, for every key, node `index` holds exactly what the key's other live replicas hold. */
async function converged(cluster: SimCluster, index: number, keys: readonly string[]): Promise<boolean> {
  for (const key of keys) {
    const replicas = cluster
      .node(0)
      .coordinator.locate(key)
      .map((replica) => cluster.indexOf(replica));
    const mine = await cluster.store(index).get(key);
    if (!replicas.includes(index)) {
      if (mine !== undefined) return false;
      continue;
    }
    for (const other of replicas) {
      if (other === index || !cluster.isUp(other)) continue;
      if (!isDeepStrictEqual(await cluster.store(other).get(key), mine)) return false;
    }
  }
  return true;
}

/** Stops every node's hint replay, so that anti-entropy alone has to repair. */
function disableHints(cluster: SimCluster): void {
  for (const index of cluster.upIndices()) cluster.node(index).hints.stop();
}

// Anti-entropy repairs replicas in the background, without client reads: digests of shared ring segments,
// then only the segments that differ. Hint replay is disabled in these tests.
describe('Anti-entropy (simulated cluster)', () => {
  let cluster: SimCluster;

  afterEach(async () => {
    await cluster?.teardown();
  });

  it('converges a node partitioned away while the majority wrote and popped, within 30 s of the heal', async () => {
    cluster = await createSimCluster({ n: 3, seed: 41 });
    const keys = await populate(cluster, 100);
    await cluster.tick(1_000);
    const minority = cluster.address(2);
    cluster.network.partition([minority], [cluster.address(0), cluster.address(1)]);
    await cluster.until(() => cluster.statusOf(0, minority) === 'dead', {
      withinMs: 5_000,
      what: 'partitioned',
    });
    disableHints(cluster);

    for (const key of keys.slice(0, 20)) await cluster.settle(cluster.node(1).coordinator.set(key, 'during'));
    for (const key of keys.slice(20, 40)) await cluster.settle(cluster.node(0).coordinator.pop(key));
    const added = Array.from({ length: 20 }, (_, i) => `added:${i}`);
    for (const key of added) await cluster.settle(cluster.node(0).coordinator.set(key, key));
    expect(cluster.node(0).hints.count(minority), 'hints kept but never replayed').to.be.above(0);
    expect(await converged(cluster, 2, [...keys, ...added])).to.equal(false);

    cluster.network.heal();
    const all = [...keys, ...added];
    await cluster.until(() => converged(cluster, 2, all), {
      withinMs: 30_000,
      stepMs: 500,
      what: 'convergence',
    });
    for (const key of keys.slice(20, 40)) {
      const record = await cluster.store(2).get(key);
      expect(record !== undefined && isTombstone(record), `${key} is a tombstone`).to.equal(true);
    }
    for (const key of keys.slice(0, 20))
      expect(await cluster.store(2).get(key)).to.include({ value: 'during' });
    expect(cluster.node(0).hints.delivered + cluster.node(1).hints.delivered).to.equal(0);
  });

  it('fills a node restarted empty within 30 s; alone, it then answers every key at consistency one', async () => {
    cluster = await createSimCluster({ n: 3, seed: 42 });
    const keys = await populate(cluster, 200);
    for (const key of keys.slice(0, 30)) await cluster.settle(cluster.node(1).coordinator.pop(key));
    await cluster.tick(1_000);
    await cluster.kill(2);
    for (const key of keys.slice(30, 60))
      await cluster.settle(cluster.node(0).coordinator.set(key, 'latest'));
    for (const key of keys.slice(60, 70)) await cluster.settle(cluster.node(1).coordinator.pop(key));
    disableHints(cluster);

    await cluster.restart(2, { empty: true });
    expect((await cluster.store(2).counts()).live).to.equal(0);
    await cluster.until(() => converged(cluster, 2, keys), {
      withinMs: 30_000,
      stepMs: 500,
      what: 'convergence',
    });
    expect(await cluster.store(2).counts()).to.deep.equal({ live: 160, tombstones: 40 });
    expect(
      cluster.node(2).antiEntropy.stats.keysPulled + cluster.node(0).antiEntropy.stats.keysPushed,
    ).to.be.above(0);

    await cluster.kill(0);
    await cluster.kill(1);
    const alone = cluster.node(2).coordinator;
    for (const [i, key] of keys.entries()) {
      const value = await cluster.settle(alone.get(key, { consistency: 'one' }));
      if (i < 30 || (i >= 60 && i < 70)) expect(value, `${key} was popped`).to.equal(null);
      else if (i < 60) expect(value, key).to.equal('latest');
      else expect(value, key).to.deep.equal({ key, n: 1 });
    }
  });

  it('on 5 nodes, fills a node restarted empty with exactly the keys it replicates', async () => {
    cluster = await createSimCluster({ n: 5, seed: 43 });
    const keys = await populate(cluster, 300);
    await cluster.tick(1_000);
    await cluster.kill(3);
    disableHints(cluster);
    await cluster.restart(3, { empty: true });
    await cluster.until(() => converged(cluster, 3, keys), {
      withinMs: 30_000,
      stepMs: 500,
      what: 'convergence',
    });
    const owned = keys.filter((key) => cluster.node(0).coordinator.locate(key).includes(cluster.address(3)));
    expect((await cluster.store(3).counts()).live).to.equal(owned.length);
    expect(await cluster.totalLiveKeys()).to.equal(3 * keys.length);
  });

  describe('traffic', () => {
    /** One comparison of node 0 with node 1, and one full round of node 0, once all replicas agree. */
    async function measure(cluster: SimCluster): Promise<{ pairBytes: number; roundCalls: number }> {
      await cluster.until(
        async () => {
          const { inSync } = cluster.node(0).antiEntropy.stats;
          await cluster.node(0).antiEntropy.round();
          return cluster.node(0).antiEntropy.stats.inSync - inSync === cluster.size - 1;
        },
        { withinMs: 10_000, what: 'replicas in agreement' },
      );
      cluster.traffic.reset();
      const differing = await cluster.node(0).antiEntropy.syncWith(cluster.address(1));
      expect(differing).to.equal(0);
      expect(cluster.traffic.snapshot(), 'one digest call, nothing else').to.deep.equal({ 'peer.digest': 1 });
      const pairBytes = cluster.traffic.bytes('peer.digest');
      cluster.traffic.reset();
      await cluster.node(0).antiEntropy.round();
      return { pairBytes, roundCalls: cluster.traffic.calls('peer.digest') };
    }

    it('costs one small digest call per peer when replicas agree, the same at 100 and 5,000 keys', async () => {
      cluster = await createSimCluster({ n: 3, seed: 44 });
      await populate(cluster, 100);
      const small = await measure(cluster);
      await populate(cluster, 4_900, 100);
      expect(await cluster.totalLiveKeys()).to.equal(3 * 5_000);
      const large = await measure(cluster);

      expect(small.roundCalls, 'one digest call per peer per round').to.equal(cluster.size - 1);
      expect(large.roundCalls).to.equal(cluster.size - 1);
      expect(small.pairBytes).to.be.below(400);
      expect(large.pairBytes / small.pairBytes, 'bytes do not grow with the key count').to.be.within(
        0.9,
        1.1,
      );
    });

    it('repairs one differing key through its segment alone', async () => {
      cluster = await createSimCluster({ n: 3, seed: 45 });
      const keys = await populate(cluster, 5_000);
      await cluster.tick(3_000);
      const key = keys[1_234]!;
      const current = (await cluster.store(1).get(key))!;
      const newer: KVRecord = {
        value: 'changed',
        version: { ...current.version, wall: current.version.wall + 1 },
      };
      await cluster.node(1).coordinator.handlePeer('peer.put', { key, record: newer });

      cluster.traffic.reset();
      const before = { ...cluster.node(0).antiEntropy.stats };
      expect(await cluster.node(0).antiEntropy.syncWith(cluster.address(1))).to.equal(1);
      expect(cluster.traffic.snapshot()).to.deep.equal({
        'peer.digest': 2,
        'peer.range': 1,
        'peer.get_many': 1,
      });
      expect(cluster.node(0).antiEntropy.stats.keysPulled - before.keysPulled).to.equal(1);
      expect(await cluster.store(0).get(key)).to.deep.equal(newer);
      expect(cluster.traffic.bytes('peer.range'), 'one segment of keys, not all 5,000').to.be.below(
        JSON.stringify(keys).length / 20,
      );
    });
  });
});
