import { isTombstone } from '@kvdb/core';
import { expect } from 'chai';
import { createSimCluster, type SimCluster } from './utils/sim-cluster.js';
import { TestCluster } from './utils/test-cluster.js';
import { live, text } from './utils/values.js';

const GRACE = 10_000;

describe('tombstone collection', () => {
  let cluster: SimCluster | undefined;

  afterEach(async () => {
    await cluster?.teardown();
    cluster = undefined;
  });

  async function start(): Promise<SimCluster> {
    cluster = await createSimCluster({ n: 3, tombstoneGraceMs: GRACE });
    return cluster;
  }

  /** What each store holds for `key`: 'value', 'tombstone' or 'none'. */
  async function held(c: SimCluster, key: string, indices = [0, 1, 2]): Promise<string[]> {
    return Promise.all(
      indices.map(async (index) => {
        const record = await c.store(index).get(key);
        if (record === undefined) return 'none';
        return isTombstone(record) ? 'tombstone' : 'value';
      }),
    );
  }

  it('keeps a tombstone through the grace period, then collects it once every replica holds it', async () => {
    const c = await start();
    await c.settle(c.node(0).coordinator.set('k', text('v'), { consistency: 'all' }));
    await c.settle(c.node(1).coordinator.pop('k', { consistency: 'all' }));
    expect(await held(c, 'k')).to.deep.equal(['tombstone', 'tombstone', 'tombstone']);

    await c.tick(GRACE / 2);
    expect(await held(c, 'k'), 'still inside the grace period').to.deep.equal([
      'tombstone',
      'tombstone',
      'tombstone',
    ]);

    await c.until(async () => (await held(c, 'k')).every((h) => h === 'none'), {
      withinMs: GRACE * 3,
      what: 'the tombstone to be collected on every replica',
    });
    expect(await c.settle(c.node(2).coordinator.get('k', { consistency: 'all' }))).to.equal(text(null));
  });

  it('collects tombstones from a store read over several pages, and nothing else', async () => {
    const c = await start();
    const now = c.now();
    const node = '10.0.0.1:5878';
    for (let i = 0; i < 5_000; i++) {
      const version = { wall: now, counter: i, node };
      const record = i % 10 === 0 ? { version, deleted: true as const } : live(version, i);
      for (const index of [0, 1, 2]) await c.store(index).merge(`key:${i}`, record);
    }
    await c.until(async () => (await c.store(0).counts()).tombstones === 0, {
      withinMs: GRACE * 4,
      what: 'every tombstone to be collected',
    });
    for (const index of [0, 1, 2]) {
      expect(await c.store(index).counts(), `store ${index}`).to.deep.equal({ live: 4_500, tombstones: 0 });
    }
    expect(await held(c, 'key:10')).to.deep.equal(['none', 'none', 'none']);
    expect(await held(c, 'key:11')).to.deep.equal(['value', 'value', 'value']);
  });

  it('never lets a replica that was down during the pop and the collection bring the key back', async () => {
    const c = await start();
    await c.settle(c.node(0).coordinator.set('k', text('old'), { consistency: 'all' }));
    await c.kill(2);
    await c.settle(c.node(0).coordinator.pop('k'));
    await c.tick(GRACE * 4);
    expect(await held(c, 'k'), 'collection waits for the missing replica').to.deep.equal([
      'tombstone',
      'tombstone',
      'value',
    ]);

    await c.restart(2);
    await c.until(async () => (await held(c, 'k')).every((h) => h === 'none'), {
      withinMs: GRACE * 6,
      what: 'the returning replica to get the tombstone, and then everyone to collect it',
    });
    await c.tick(GRACE * 3);
    expect(await held(c, 'k'), 'nothing came back').to.deep.equal(['none', 'none', 'none']);
    for (const index of [0, 1, 2]) {
      expect(await c.settle(c.node(index).coordinator.get('k', { consistency: 'one' }))).to.equal(text(null));
    }
  });

  it('peer.purge removes only tombstones still at the version asked, and counts them', async () => {
    const node = new TestCluster({ n: 1, replicas: 1 });
    const store = node.store(0);
    const v = (wall: number) => ({ wall, counter: 0, node: 'n' });
    await store.merge('purged', { version: v(1), deleted: true });
    await store.merge('popped again', { version: v(2), deleted: true });
    await store.merge('written again', { version: v(1), deleted: true });
    await store.merge('written again', live(v(2), 'back'));
    await store.merge('live', live(v(1), 'kept'));
    const removed = await node.coordinator(0).replica.handlePeer('peer.purge', {
      entries: [
        ['purged', v(1)],
        ['popped again', v(1)],
        ['written again', v(1)],
        ['live', v(1)],
        ['missing', v(1)],
      ],
    });
    expect(removed).to.equal(1);
    expect(await store.get('purged')).to.equal(undefined);
    expect(await store.get('popped again')).to.deep.equal({ version: v(2), deleted: true });
    expect(await store.get('written again')).to.deep.equal(live(v(2), 'back'));
    expect(await store.get('live')).to.deep.equal(live(v(1), 'kept'));
  });

  it('drops hints older than the grace period instead of replaying them', async () => {
    const c = await start();
    await c.kill(2);
    await c.settle(c.node(0).coordinator.set('late', text('value')));
    expect(c.node(0).hints.count(c.address(2))).to.equal(1);
    await c.tick(GRACE + 1_000);
    await c.node(0).hints.replay(c.address(2));
    expect(c.node(0).hints.count(c.address(2))).to.equal(0);
  });
});
