import { isDeepStrictEqual } from 'node:util';
import { isTombstone, type PeerParams, type PutResult } from '@kvdb/core';
import { expect } from 'chai';
import { LOCAL_TIMINGS, type Timings } from '../src/defaults.js';
import { HintedHandoff } from '../src/hinted-handoff.js';
import { Membership } from '../src/membership.js';
import { defined } from './utils/assertions.js';
import { createSimCluster, type SimCluster } from './utils/sim-cluster.js';
import { deferred, eventually, track } from './utils/timing.js';
import { live, text } from './utils/values.js';

/** LOCAL_TIMINGS with anti-entropy out of the way, so only hinted handoff can repair the replica. */
const HINTS_ONLY: Timings = { ...LOCAL_TIMINGS, antiEntropyIntervalMs: 1e9 };
const timeoutMs = 1_000;

/** Whether the store of node `index` holds exactly the record node 0 holds, for every key. */
async function sameAsNode0(cluster: SimCluster, index: number, keys: readonly string[]): Promise<boolean> {
  for (const key of keys) {
    const [expected, actual] = [await cluster.store(0).get(key), await cluster.store(index).get(key)];
    if (!isDeepStrictEqual(actual, expected)) return false;
  }
  return true;
}

// Writes a replica misses while it is down are kept by the coordinator that made them and replayed once the
// failure detector sees the replica alive; anti-entropy is disabled here, and no client reads touch the keys.
describe('Hinted handoff (simulated cluster)', () => {
  let cluster: SimCluster;
  const before = Array.from({ length: 10 }, (_, i) => `before:${i}`);

  beforeEach(async () => {
    cluster = await createSimCluster({ n: 3, seed: 31, timeoutMs, timings: HINTS_ONLY });
    for (const key of before) await cluster.settle(cluster.node(0).coordinator.set(key, text('old')));
    await cluster.tick(1_000);
  });

  afterEach(async () => {
    await cluster?.teardown();
  });

  for (const mode of ['refuse', 'hang'] as const) {
    it(`replays writes and pops a killed replica (${mode}) missed once it is back, then drops the hints`, async () => {
      const down = cluster.address(2);
      await cluster.kill(2, mode);
      const during = Array.from({ length: 10 }, (_, i) => `during:${i}`);
      for (const [i, key] of during.entries()) {
        await cluster.settle(cluster.node(i % 2).coordinator.set(key, text(`new:${i}`)), 5_000);
      }
      for (const key of before.slice(0, 5))
        await cluster.settle(cluster.node(1).coordinator.set(key, text('updated')));
      for (const key of before.slice(5, 8)) await cluster.settle(cluster.node(0).coordinator.pop(key));
      await cluster.tick(timeoutMs + 100);

      expect(cluster.node(0).hints.count(down), 'hints on node 0').to.be.above(0);
      expect(cluster.node(1).hints.count(down), 'hints on node 1').to.be.above(0);
      const held = cluster.node(0).hints.count(down) + cluster.node(1).hints.count(down);
      expect(held, 'one hint per key the replica missed').to.equal(during.length + 8);
      await cluster.tick(5_000);
      expect(
        cluster.node(0).hints.count(down) + cluster.node(1).hints.count(down),
        'kept while down',
      ).to.equal(held);

      await cluster.restart(2);
      await cluster.until(() => cluster.seenAs(down, 'alive'), { withinMs: 5_000, what: `${down} alive` });
      const all = [...before, ...during];
      await cluster.until(() => sameAsNode0(cluster, 2, all), {
        withinMs: 3_000,
        what: 'the restarted replica holding the latest records',
      });

      for (const key of before.slice(5, 8))
        expect(isTombstone(defined(await cluster.store(2).get(key))), key).to.equal(true);
      for (const key of before.slice(0, 5))
        expect(await cluster.store(2).get(key), key).to.include({ value: text('updated') });
      expect(cluster.node(0).hints.count(), 'node 0 dropped its hints').to.equal(0);
      expect(cluster.node(1).hints.count(), 'node 1 dropped its hints').to.equal(0);
      expect(cluster.node(0).hints.delivered + cluster.node(1).hints.delivered).to.equal(held);
      expect(cluster.node(2).antiEntropy.stats.keysPulled, 'anti-entropy did not do it').to.equal(0);
    });
  }

  it('replays to a frozen replica that thaws without restarting', async () => {
    const frozen = cluster.address(1);
    cluster.network.stop(frozen, 'hang');
    await cluster.until(() => cluster.statusOf(0, frozen) === 'dead', {
      withinMs: 5_000,
      what: 'frozen dead',
    });
    await cluster.settle(cluster.node(0).coordinator.set('thaw', text(1)));
    await cluster.settle(cluster.node(0).coordinator.set('thaw', text(2)));
    expect(cluster.node(0).hints.count(frozen), 'only the newest record per key').to.equal(1);

    cluster.network.start(frozen);
    await cluster.until(async () => (await cluster.store(1).get('thaw')) !== undefined, {
      withinMs: 5_000,
      what: 'the hint delivered',
    });
    expect(await cluster.store(1).get('thaw')).to.deep.equal(await cluster.store(0).get('thaw'));
    expect(await cluster.store(1).get('thaw')).to.include({ value: text(2) });
    expect(cluster.node(0).hints.count()).to.equal(0);
  });

  it('sends nothing more once the hints are delivered', async () => {
    const down = cluster.address(2);
    await cluster.kill(2);
    for (let i = 0; i < 5; i++) await cluster.settle(cluster.node(0).coordinator.set(`k:${i}`, text(i)));
    expect(cluster.node(0).hints.count(down)).to.equal(5);
    await cluster.restart(2);
    await cluster.until(() => cluster.node(0).hints.count() === 0, {
      withinMs: 5_000,
      what: 'hints delivered',
    });

    cluster.traffic.reset();
    await cluster.tick(10 * HINTS_ONLY.hintReplayIntervalMs);
    expect(cluster.traffic.calls('peer.put_many'), 'no replays after delivery').to.equal(0);
    expect(cluster.node(0).hints.delivered).to.equal(5);
  });

  it('does not hint writes every replica acknowledged', async () => {
    for (let i = 0; i < 5; i++) await cluster.settle(cluster.node(i % 3).coordinator.set(`ok:${i}`, text(i)));
    await cluster.tick(timeoutMs);
    for (const index of [0, 1, 2]) expect(cluster.node(index).hints.count(), `node ${index}`).to.equal(0);
  });
});

describe('HintedHandoff.idle', () => {
  it('resolves only once a replay under way has ended, its hints dropped', async () => {
    const [self, peer] = ['10.0.0.1:5878', '10.0.0.2:5878'];
    const held = deferred<void>();
    let calls = 0;
    const hints = new HintedHandoff({
      membership: new Membership(self, [peer]),
      transport: {
        call: async (_to, _method, params) => {
          calls += 1;
          await held.promise;
          const { entries } = params as PeerParams<'peer.put_many'>;
          return entries.map((): PutResult => ({ stored: true })) as never;
        },
      },
    });
    hints.add(peer, 'missed', live({ wall: 1_000, counter: 0, node: self }, 1));
    const replay = hints.replay(peer);
    await eventually(() => calls === 1, { what: 'the replay to be out' });
    hints.stop();

    const idle = track(hints.idle().then(() => hints.count(peer)));
    for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(idle.settled, 'idle while the replay is out').to.equal(false);
    held.resolve();
    expect(await idle.promise, 'hints left when idle resolved').to.equal(0);
    expect(await replay).to.equal(1);
  });
});
