import { type Consistency, isTombstone, type KVRecord, parseJsonText } from '@kvdb/core';
import { expect } from 'chai';
import { type Clock, systemClock } from '../src/clock.js';
import { defined, rejection } from './utils/assertions.js';
import { createSimCluster, type SimCluster } from './utils/sim-cluster.js';
import { TestCluster } from './utils/test-cluster.js';
import { live, text } from './utils/values.js';

const LEVELS: readonly Consistency[] = ['one', 'quorum', 'all'];
const START = 1_700_000_000_000;

/** Wall time that only moves when a test moves it; timers stay real (the network's timeouts). */
class ManualClock implements Clock {
  time = START;
  readonly setTimeout = systemClock.setTimeout;
  readonly clearTimeout = systemClock.clearTimeout;

  now(): number {
    return this.time;
  }
}

/** What a store holds for a key, briefly: 'none', 'tombstone', the value, or the value and `(expiring)`. */
function describeRecord(record: KVRecord | undefined): string {
  if (record === undefined) return 'none';
  if (isTombstone(record)) return 'tombstone';
  const value = String(parseJsonText(record.value));
  return record.expires === undefined ? value : `${value} (expiring)`;
}

describe('expiry', () => {
  describe('reads and listings, on a clock the test moves', () => {
    let clock: ManualClock;
    let cluster: TestCluster;

    beforeEach(() => {
      clock = new ManualClock();
      cluster = new TestCluster({ n: 3, replicas: 3, clock });
    });

    it('reads a key as absent on every node at every level from its expiry on, and not a ms before', async () => {
      await cluster.coordinator(0).set('k', text('v'), { ttl: 2, consistency: 'all' });
      const stored = await cluster.records('k');
      expect(stored.map((record) => record?.expires)).to.deep.equal([
        START + 2_000,
        START + 2_000,
        START + 2_000,
      ]);

      clock.time = START + 1_999;
      for (const [node, coordinator] of cluster.nodes.map((n) => n.coordinator).entries()) {
        for (const consistency of LEVELS) {
          const at = `node ${node} at ${consistency}`;
          expect(await coordinator.get('k', { consistency }), at).to.equal(text('v'));
          expect(await coordinator.has('k', { consistency }), at).to.equal(true);
          expect(await coordinator.ttl('k', { consistency }), at).to.deep.equal({ exists: true, ttl: 0.001 });
        }
      }

      clock.time = START + 2_000;
      for (const [node, coordinator] of cluster.nodes.map((n) => n.coordinator).entries()) {
        for (const consistency of LEVELS) {
          const at = `node ${node} at ${consistency}`;
          expect(await coordinator.get('k', { consistency, default: text('gone') }), at).to.equal(
            text('gone'),
          );
          expect(await coordinator.has('k', { consistency }), at).to.equal(false);
          expect(await coordinator.ttl('k', { consistency }), at).to.deep.equal({ exists: false, ttl: null });
          expect(await coordinator.pop('k', { consistency, default: text('none') }), at).to.equal(
            text('none'),
          );
        }
      }
      expect(await cluster.records('k'), 'pop wrote no tombstone over the expired record').to.deep.equal(
        stored,
      );
    });

    it('answers ttl with the seconds left, and null for a value without one', async () => {
      await cluster.coordinator(1).set('short', text(1), { ttl: 0.25 });
      await cluster.coordinator(1).set('forever', text(1));
      clock.time += 100;
      expect(await cluster.coordinator(2).ttl('short')).to.deep.equal({ exists: true, ttl: 0.15 });
      expect(await cluster.coordinator(2).ttl('forever')).to.deep.equal({ exists: true, ttl: null });
      expect(await cluster.coordinator(2).ttl('missing')).to.deep.equal({ exists: false, ttl: null });
    });

    it('drops the expiry when the key is written again without one', async () => {
      await cluster.coordinator(0).set('k', text('expiring'), { ttl: 1 });
      clock.time += 1;
      await cluster.coordinator(1).set('k', text('kept'));
      clock.time += 5_000;
      expect(await cluster.coordinator(2).get('k')).to.equal(text('kept'));
      expect(await cluster.coordinator(2).ttl('k')).to.deep.equal({ exists: true, ttl: null });
    });

    it('refuses a bad ttl before it writes anything', async () => {
      for (const ttl of [0, -1, Number.NaN, 315_360_001]) {
        const error = await rejection(cluster.coordinator(0).set('k', text('v'), { ttl }));
        expect(error, String(ttl)).to.be.instanceOf(RangeError);
        expect((error as Error).message).to.match(/`ttl`/);
      }
      expect(await cluster.records('k')).to.deep.equal([undefined, undefined, undefined]);
    });

    it('keeps the key absent when a replica that missed the expiring write comes back with an older value', async () => {
      await cluster.coordinator(0).set('k', text('old'), { consistency: 'all' });
      cluster.stop(2);
      clock.time += 10;
      await cluster.coordinator(0).set('k', text('new'), { ttl: 1 });
      clock.time += 1_000;
      cluster.start(2);
      expect((await cluster.records('k')).map(describeRecord)).to.deep.equal([
        'new (expiring)',
        'new (expiring)',
        'old',
      ]);

      for (const [node, coordinator] of cluster.nodes.map((n) => n.coordinator).entries()) {
        for (const consistency of ['quorum', 'all'] as const) {
          expect(await coordinator.get('k', { consistency }), `node ${node} at ${consistency}`).to.equal(
            text(null),
          );
          expect(await coordinator.has('k', { consistency }), `node ${node} at ${consistency}`).to.equal(
            false,
          );
        }
        expect(await coordinator.listAllKeys(), `listed by node ${node}`).to.deep.equal([]);
      }
      await Promise.all(cluster.nodes.map(({ coordinator }) => coordinator.idle()));
      expect(
        (await cluster.records('k')).map(describeRecord),
        'read repair sent the expired record',
      ).to.deep.equal(['new (expiring)', 'new (expiring)', 'new (expiring)']);
      for (const [node, coordinator] of cluster.nodes.map((n) => n.coordinator).entries()) {
        expect(await coordinator.get('k', { consistency: 'one' }), `node ${node} at one`).to.equal(
          text(null),
        );
      }
    });

    it('leaves expired keys out of list_keys, walking the ring and on a single node', async () => {
      const single = new TestCluster({ n: 1, replicas: 1, clock });
      for (const target of [cluster, single]) {
        const writer = target.coordinator(0);
        await writer.set('a', text(1));
        await writer.set('b', text(1), { ttl: 1 });
        await writer.set('c', text(1), { ttl: 5 });
        await writer.set('d', text(1), { ttl: 1 });
      }
      clock.time += 1_000;
      for (const [what, target] of [
        ['cluster', cluster],
        ['single node', single],
      ] as const) {
        for (const { coordinator } of target.nodes) {
          expect(await coordinator.listAllKeys(), what).to.deep.equal(['a', 'c']);
          const page = await coordinator.listKeys({ limit: 10 });
          expect([...page.keys].sort(), what).to.deep.equal(['a', 'c']);
          expect(await coordinator.listAllKeys({ prefix: 'b' }), what).to.deep.equal([]);
        }
      }
      clock.time += 4_000;
      expect(await cluster.coordinator(1).listAllKeys()).to.deep.equal(['a']);
      expect(await single.coordinator(0).listAllKeys()).to.deep.equal(['a']);
    });
  });

  describe('repair and collection (simulated cluster)', () => {
    const GRACE = 10_000;
    let c: SimCluster | undefined;

    afterEach(async () => {
      await c?.teardown();
      c = undefined;
    });

    async function held(cluster: SimCluster, key: string): Promise<string[]> {
      return Promise.all([0, 1, 2].map(async (index) => describeRecord(await cluster.store(index).get(key))));
    }

    it('collects an expired record once every replica holds it and it expired a grace period ago, not before', async () => {
      c = await createSimCluster({ n: 3, tombstoneGraceMs: GRACE });
      const cluster = c;
      await cluster.settle(cluster.node(0).coordinator.set('k', text('v'), { ttl: 5, consistency: 'all' }));
      const expires = defined(await cluster.store(0).get('k')).expires ?? 0;

      await cluster.tick(GRACE + 2_000);
      expect(cluster.now()).to.be.below(expires + GRACE);
      expect(
        await held(cluster, 'k'),
        'a tombstone this old would go; the grace counts from the expiry',
      ).to.deep.equal(['v (expiring)', 'v (expiring)', 'v (expiring)']);
      expect(await cluster.settle(cluster.node(1).coordinator.get('k', { consistency: 'all' }))).to.equal(
        text(null),
      );

      const waited = await cluster.until(async () => (await held(cluster, 'k')).every((h) => h === 'none'), {
        withinMs: GRACE * 3,
        what: 'the expired record to be collected on every replica',
      });
      expect(cluster.now() - waited).to.be.below(expires + GRACE);
      expect(cluster.now()).to.be.at.least(expires + GRACE);
      await cluster.settle(cluster.node(2).coordinator.set('k', text('again')));
      expect(await cluster.settle(cluster.node(0).coordinator.get('k'))).to.equal(text('again'));
    });

    it('brings a replica that was down through the expiry the expired record, and nothing comes back', async () => {
      c = await createSimCluster({ n: 3, tombstoneGraceMs: GRACE });
      const cluster = c;
      await cluster.settle(cluster.node(0).coordinator.set('k', text('old'), { consistency: 'all' }));
      await cluster.kill(2);
      await cluster.settle(cluster.node(0).coordinator.set('k', text('new'), { ttl: 1 }));
      await cluster.tick(GRACE * 4);
      expect(await held(cluster, 'k'), 'collection waits for the missing replica').to.deep.equal([
        'new (expiring)',
        'new (expiring)',
        'old',
      ]);
      expect(await cluster.settle(cluster.node(0).coordinator.listAllKeys())).to.deep.equal([]);

      await cluster.restart(2);
      await cluster.until(async () => (await held(cluster, 'k')).every((h) => h === 'none'), {
        withinMs: GRACE * 6,
        what: 'the returning replica to get the expired record, and then everyone to collect it',
      });
      await cluster.tick(GRACE * 3);
      expect(await held(cluster, 'k'), 'nothing came back').to.deep.equal(['none', 'none', 'none']);
      for (const index of [0, 1, 2]) {
        const { coordinator } = cluster.node(index);
        expect(await cluster.settle(coordinator.get('k', { consistency: 'one' }))).to.equal(text(null));
        expect(await cluster.settle(coordinator.listAllKeys())).to.deep.equal([]);
      }
    });

    it('has anti-entropy carry an expired record over an older value, as it carries a tombstone', async () => {
      c = await createSimCluster({ n: 3, tombstoneGraceMs: GRACE * 100 });
      const cluster = c;
      const now = cluster.now();
      const old = live({ wall: now - 5_000, counter: 0, node: 'w' }, 'old');
      const expired = live({ wall: now - 2_000, counter: 0, node: 'w' }, 'new', now - 1_000);
      await cluster.node(0).replica.merge('k', expired);
      await cluster.node(1).replica.merge('k', expired);
      await cluster.node(2).replica.merge('k', old);
      await cluster.until(async () => (await held(cluster, 'k'))[2] === 'new (expiring)', {
        withinMs: 30_000,
        what: 'anti-entropy to give the stale replica the expired record',
      });
      expect(await held(cluster, 'k')).to.deep.equal(['new (expiring)', 'new (expiring)', 'new (expiring)']);
      expect(await cluster.settle(cluster.node(2).coordinator.get('k', { consistency: 'one' }))).to.equal(
        text(null),
      );
    });
  });
});
