import { isDeepStrictEqual } from 'node:util';
import { HashRing, isTombstone, type KVRecord, UnavailableError } from '@kvdb/core';
import { expect } from 'chai';
import { LOCAL_TIMINGS, type Timings } from '../src/defaults.js';
import { defined } from './utils/assertions.js';
import { createSimCluster, type SimCluster } from './utils/sim-cluster.js';
import { live, text } from './utils/values.js';

/** No background rounds: the test runs each comparison itself. */
const QUIET: Timings = { ...LOCAL_TIMINGS, antiEntropyIntervalMs: 1e9 };

/** Writes `count` keys through node 0 at consistency all, in parallel batches. */
async function populate(cluster: SimCluster, count: number, from = 0): Promise<string[]> {
  const keys = Array.from({ length: count }, (_, i) => `key:${from + i}`);
  for (let i = 0; i < keys.length; i += 250) {
    const batch = keys.slice(i, i + 250);
    await cluster.settle(
      Promise.all(
        batch.map((key) => cluster.node(0).coordinator.set(key, text({ key, n: 1 }), { consistency: 'all' })),
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

/** Writes a newer version of `key` into node `index` alone, as if the other replicas had missed it. */
async function writeAlone(cluster: SimCluster, index: number, key: string, value: string): Promise<KVRecord> {
  const current = defined(await cluster.store(index).get(key));
  const record = live({ ...current.version, wall: current.version.wall + 1 }, value);
  await cluster.node(index).replica.handlePeer('peer.put', { key, record });
  return record;
}

/** The repair calls in the traffic since its last reset, leaving out failure detection's probes. */
function repairCalls(cluster: SimCluster): Record<string, number> {
  const repair = ['peer.digest', 'peer.range', 'peer.get_many', 'peer.put_many'];
  return Object.fromEntries(
    Object.entries(cluster.traffic.snapshot()).filter(([method]) => repair.includes(method)),
  );
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

    for (const key of keys.slice(0, 20))
      await cluster.settle(cluster.node(1).coordinator.set(key, text('during')));
    for (const key of keys.slice(20, 40)) await cluster.settle(cluster.node(0).coordinator.pop(key));
    const added = Array.from({ length: 20 }, (_, i) => `added:${i}`);
    for (const key of added) await cluster.settle(cluster.node(0).coordinator.set(key, text(key)));
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
      expect(await cluster.store(2).get(key)).to.include({ value: text('during') });
    expect(cluster.node(0).hints.delivered + cluster.node(1).hints.delivered).to.equal(0);
  });

  it('fills a node restarted empty within 30 s; alone, it then answers every key at consistency one', async () => {
    cluster = await createSimCluster({ n: 3, seed: 42 });
    const keys = await populate(cluster, 200);
    for (const key of keys.slice(0, 30)) await cluster.settle(cluster.node(1).coordinator.pop(key));
    await cluster.tick(1_000);
    await cluster.kill(2);
    for (const key of keys.slice(30, 60))
      await cluster.settle(cluster.node(0).coordinator.set(key, text('latest')));
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
      if (i < 30 || (i >= 60 && i < 70)) expect(value, `${key} was popped`).to.equal(text(null));
      else if (i < 60) expect(value, key).to.equal(text('latest'));
      else expect(value, key).to.equal(text({ key, n: 1 }));
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
    /** One comparison of node 0 with node 1, and one round of node 0, once all replicas agree. */
    async function measure(cluster: SimCluster): Promise<{ pairBytes: number; roundCalls: number }> {
      const peers = cluster.addresses.slice(1);
      await cluster.until(
        async () => {
          const { inSync } = cluster.node(0).antiEntropy.stats;
          await cluster.settle(cluster.node(0).antiEntropy.syncWith(...peers));
          return cluster.node(0).antiEntropy.stats.inSync - inSync === peers.length;
        },
        { withinMs: 10_000, what: 'replicas in agreement' },
      );
      cluster.traffic.reset();
      const differing = await cluster.settle(cluster.node(0).antiEntropy.syncWith(cluster.address(1)));
      expect(differing).to.equal(0);
      expect(cluster.traffic.snapshot(), 'one digest call, nothing else').to.deep.equal({ 'peer.digest': 1 });
      const pairBytes = cluster.traffic.bytes('peer.digest');
      cluster.traffic.reset();
      await cluster.settle(cluster.node(0).antiEntropy.round());
      return { pairBytes, roundCalls: cluster.traffic.calls('peer.digest') };
    }

    it('costs one small digest call a round when replicas agree, the same at 100 and 5,000 keys', async () => {
      cluster = await createSimCluster({ n: 3, seed: 44, timings: QUIET });
      await populate(cluster, 100);
      const small = await measure(cluster);
      await populate(cluster, 4_900, 100);
      expect(await cluster.totalLiveKeys()).to.equal(3 * 5_000);
      const large = await measure(cluster);

      expect(small.roundCalls, 'one digest call a round: one peer in turn').to.equal(1);
      expect(large.roundCalls).to.equal(1);
      expect(small.pairBytes).to.be.below(400);
      expect(large.pairBytes / small.pairBytes, 'bytes do not grow with the key count').to.be.within(
        0.9,
        1.1,
      );
    });

    it('repairs one differing key through its segment alone', async () => {
      cluster = await createSimCluster({ n: 3, seed: 45, timings: QUIET });
      const keys = await populate(cluster, 5_000);
      await cluster.tick(3_000);
      const key = defined(keys[1_234]);
      const newer = await writeAlone(cluster, 1, key, 'changed');

      cluster.traffic.reset();
      const before = { ...cluster.node(0).antiEntropy.stats };
      expect(await cluster.settle(cluster.node(0).antiEntropy.syncWith(cluster.address(1)))).to.equal(1);
      expect(repairCalls(cluster), 'root, segments, segments again after settling').to.deep.equal({
        'peer.digest': 3,
        'peer.range': 1,
        'peer.get_many': 1,
      });
      expect(cluster.node(0).antiEntropy.stats.keysPulled - before.keysPulled).to.equal(1);
      expect(await cluster.store(0).get(key)).to.deep.equal(newer);
      expect(cluster.traffic.bytes('peer.range'), 'one segment of keys, not all 5,000').to.be.below(
        JSON.stringify(keys).length / 20,
      );
    });

    it('leaves alone a difference gone when it looks again: a write that was still on its way', async () => {
      cluster = await createSimCluster({ n: 3, seed: 46, timings: QUIET });
      const keys = await populate(cluster, 500);
      const newer = await writeAlone(cluster, 1, defined(keys[77]), 'in flight');

      cluster.traffic.reset();
      const stats = cluster.node(0).antiEntropy.stats;
      const settled = stats.settled;
      const sync = cluster.node(0).antiEntropy.syncWith(cluster.address(1));
      await cluster.until(() => cluster.traffic.calls('peer.digest') === 2, {
        withinMs: 500,
        stepMs: 1,
        what: 'the first look',
      });
      await cluster.node(0).replica.handlePeer('peer.put', { key: defined(keys[77]), record: newer });

      expect(await cluster.settle(sync)).to.equal(0);
      expect(repairCalls(cluster), 'no key scan asked for').to.deep.equal({ 'peer.digest': 3 });
      expect(stats.settled - settled).to.equal(1);
    });

    it('pushes nothing to a peer whose ring changed since the digests were compared: it refuses the key list', async () => {
      cluster = await createSimCluster({ n: 3, seed: 48, timings: QUIET });
      const keys = await populate(cluster, 500);
      await writeAlone(cluster, 1, defined(keys[30]), 'newer on 1');
      const peer = cluster.node(1);
      const replica = cluster.node(0).replica;
      const scan = replica.heads.bind(replica);
      replica.heads = (segments, options) => {
        // Between node 0's second look and its range call, node 1 hears of a fourth member.
        peer.replica.useRing(new HashRing([...cluster.addresses, '127.0.0.1:9']));
        return scan(segments, options);
      };
      const asked = peer.replica.digests.id;

      cluster.traffic.reset();
      expect(await cluster.settle(cluster.node(0).antiEntropy.syncWith(cluster.address(1)))).to.equal(0);
      expect(peer.replica.digests.id, 'node 1 is on the new ring').to.not.equal(asked);
      expect(repairCalls(cluster), 'the range refused, nothing pulled or pushed').to.deep.equal({
        'peer.digest': 3,
        'peer.range': 1,
      });
      const refused = await peer.antiEntropy.handleRange({ ring: asked, segments: [0] }).catch((e) => e);
      expect(refused).to.be.instanceOf(UnavailableError);
      const current = { ring: peer.replica.digests.id, segments: [0] };
      expect(await peer.antiEntropy.handleRange(current), 'its own id is still taken').to.be.an('array');
    });

    it('never compares with a peer that hashes records otherwise (an older kvdb): no key list, nothing pushed', async () => {
      cluster = await createSimCluster({ n: 3, seed: 50, timings: QUIET });
      const keys = await populate(cluster, 500);
      await writeAlone(cluster, 1, defined(keys[12]), 'newer on 1');
      // An older node names its digests by the bare ring id: its md5 record hashes would differ in every segment.
      const ringId = cluster.node(1).replica.digests.ring.id;
      Object.defineProperty(cluster.node(1).replica.digests, 'id', { value: ringId });

      cluster.traffic.reset();
      expect(await cluster.settle(cluster.node(0).antiEntropy.syncWith(cluster.address(1)))).to.equal(0);
      expect(repairCalls(cluster), 'one digest call, answered with another id').to.deep.equal({
        'peer.digest': 1,
      });
      const answer = cluster
        .node(0)
        .antiEntropy.handleDigest({ from: cluster.address(1), ring: ringId, detail: true });
      expect(answer).to.deep.equal({ ring: cluster.node(0).replica.digests.id, root: [0, 0] });
    });

    it('a peer whose ring changes while it reads its keys refuses the list; an asker whose ring changes drops it', async () => {
      cluster = await createSimCluster({ n: 3, seed: 49, timings: QUIET });
      const keys = await populate(cluster, 500);
      await writeAlone(cluster, 1, defined(keys[30]), 'newer on 1');
      const fourth = () => new HashRing([...cluster.addresses, '127.0.0.1:9']);
      const peer = cluster.node(1);
      const asked = peer.replica.digests.id;
      const scan = peer.replica.keyVersions.bind(peer.replica);
      peer.replica.keyVersions = async (segments) => {
        const found = await scan(segments);
        peer.replica.useRing(fourth()); // heard of a join while reading
        return found;
      };
      const refused = await peer.antiEntropy.handleRange({ ring: asked, segments: [0] }).catch((e) => e);
      expect(refused).to.be.instanceOf(UnavailableError);
      peer.replica.keyVersions = scan;
      peer.replica.useRing(cluster.node(0).replica.digests.ring);

      // Now the asker is the one to hear of it, while its range call is out: it must not act on the answer.
      const answer = peer.antiEntropy.handleRange.bind(peer.antiEntropy);
      peer.antiEntropy.handleRange = async (params) => {
        const found = await answer(params);
        cluster.node(0).replica.useRing(fourth());
        return found;
      };
      cluster.traffic.reset();
      expect(await cluster.settle(cluster.node(0).antiEntropy.syncWith(cluster.address(1)))).to.equal(0);
      expect(repairCalls(cluster), 'the answer dropped: nothing pulled or pushed').to.deep.equal({
        'peer.digest': 3,
        'peer.range': 1,
      });
    });

    it('walks its own keys once for each peer it repairs, and each peer gets only its segments', async () => {
      cluster = await createSimCluster({ n: 3, seed: 47, timings: QUIET });
      const keys = await populate(cluster, 500);
      const ring = cluster.node(0).replica.digests.ring;
      const [one, two] = [defined(keys[10]), defined(keys[20])];
      expect(ring.segmentOf(one), 'two segments').to.not.equal(ring.segmentOf(two));
      await writeAlone(cluster, 1, one, 'newer on 1');
      await writeAlone(cluster, 2, two, 'newer on 2');
      const replica = cluster.node(0).replica;
      const scan = replica.heads.bind(replica);
      let scans = 0;
      replica.heads = (segments, options) => {
        scans += 1;
        return scan(segments, options);
      };

      cluster.traffic.reset();
      await cluster.settle(cluster.node(0).antiEntropy.syncWith(cluster.address(1), cluster.address(2)));
      expect(scans).to.equal(2);
      expect(repairCalls(cluster), 'a range and a pull from each, nothing pushed').to.deep.equal({
        'peer.digest': 6,
        'peer.range': 2,
        'peer.get_many': 2,
      });
      expect(await cluster.store(0).get(one)).to.include({ value: text('newer on 1') });
      expect(await cluster.store(0).get(two)).to.include({ value: text('newer on 2') });
    });

    it('on 5 nodes with R=3, lists for each peer only the segments the two share', async () => {
      cluster = await createSimCluster({ n: 5, seed: 51, timings: QUIET });
      const keys = await populate(cluster, 500);
      const holders = (key: string) =>
        cluster
          .node(0)
          .coordinator.locate(key)
          .map((replica) => cluster.indexOf(replica));
      const held = (by: number, notBy: number) =>
        defined(
          keys.find(
            (key) => holders(key).includes(0) && holders(key).includes(by) && !holders(key).includes(notBy),
          ),
        );
      const [one, two] = [held(1, 2), held(2, 1)];
      await writeAlone(cluster, 1, one, 'newer on 1');
      await writeAlone(cluster, 2, two, 'newer on 2');

      cluster.traffic.reset();
      await cluster.settle(cluster.node(0).antiEntropy.syncWith(...cluster.addresses.slice(1)));
      expect(await cluster.store(0).get(one)).to.include({ value: text('newer on 1') });
      expect(await cluster.store(0).get(two)).to.include({ value: text('newer on 2') });
      expect(
        repairCalls(cluster),
        'nothing pushed to a peer outside the segments it shares',
      ).to.not.have.property('peer.put_many');
    });

    it('passes a record pulled from one peer on to the next in the same comparison', async () => {
      cluster = await createSimCluster({ n: 3, seed: 50, timings: QUIET });
      const keys = await populate(cluster, 500);
      const ring = cluster.node(0).replica.digests.ring;
      const seen = new Map<number, string>();
      let pair: [string, string] | undefined;
      for (const key of keys) {
        const other = seen.get(ring.segmentOf(key));
        if (other !== undefined) {
          pair = [other, key];
          break;
        }
        seen.set(ring.segmentOf(key), key);
      }
      const [one, two] = defined(pair);
      const newer = [
        await writeAlone(cluster, 1, one, 'newer on 1'),
        await writeAlone(cluster, 2, two, 'newer on 2'),
      ];

      await cluster.settle(cluster.node(0).antiEntropy.syncWith(cluster.address(1), cluster.address(2)));
      const holdsBoth = async (index: number) =>
        isDeepStrictEqual(await cluster.store(index).get(one), newer[0]) &&
        isDeepStrictEqual(await cluster.store(index).get(two), newer[1]);
      expect(await holdsBoth(0)).to.equal(true);
      expect([await holdsBoth(1), await holdsBoth(2)], 'the peer reconciled second').to.include(true);
    });

    it('gives up a round stopped while it waits to look again', async () => {
      cluster = await createSimCluster({ n: 3, seed: 49, timings: QUIET });
      const keys = await populate(cluster, 100);
      await writeAlone(cluster, 1, defined(keys[3]), 'newer on 1');
      cluster.traffic.reset();
      const antiEntropy = cluster.node(0).antiEntropy;
      const sync = antiEntropy.syncWith(cluster.address(1));
      await cluster.until(() => cluster.traffic.calls('peer.digest') === 2, {
        withinMs: 500,
        stepMs: 1,
        what: 'the first look',
      });
      antiEntropy.stop();

      expect(await cluster.settle(sync)).to.equal(0);
      expect(repairCalls(cluster)).to.deep.equal({ 'peer.digest': 2 });
    });

    it('pauses after a round at least 20 times as long as its key scan took', async () => {
      cluster = await createSimCluster({ n: 3, seed: 48 });
      const keys = await populate(cluster, 500);
      cluster.node(1).antiEntropy.stop();
      cluster.node(2).antiEntropy.stop();
      const replica = cluster.node(0).replica;
      const scan = replica.heads.bind(replica);
      replica.heads = async function* (segments, options) {
        await new Promise((resolve) => setTimeout(resolve, 400));
        yield* scan(segments, options);
      };
      const stats = cluster.node(0).antiEntropy.stats;
      const pulled = stats.keysPulled;
      await writeAlone(cluster, 1, defined(keys[5]), 'newer on 1');

      await cluster.until(() => stats.keysPulled > pulled, {
        withinMs: 10_000,
        stepMs: 10,
        what: 'the repair',
      });
      expect(stats.scanMs).to.be.within(400, 420);
      const rounds = stats.rounds;
      await cluster.tick(7_000);
      expect(stats.rounds, 'no round within 20 times the scan').to.equal(rounds);
      await cluster.tick(1_500);
      expect(stats.rounds).to.equal(rounds + 1);
    });
  });
});
