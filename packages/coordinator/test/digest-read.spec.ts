import { expect } from 'chai';
import { LOCAL_TIMINGS } from '../src/defaults.js';
import { createSimCluster, type SimCluster } from './utils/sim-cluster.js';
import { live, text } from './utils/values.js';

/** Values large enough for digest reads (see DIGEST_READ_BYTES). */
const OLD = 'old'.repeat(1_000);
const NEW = 'new'.repeat(1_000);

/** Reads where the coordinator is a replica: its own record goes first, the others send a value only if theirs differs. */
describe('digest reads', () => {
  let cluster: SimCluster;

  beforeEach(async () => {
    cluster = await createSimCluster({
      n: 3,
      replicas: 3,
      timings: { ...LOCAL_TIMINGS, antiEntropyIntervalMs: 1e9 },
    });
  });

  afterEach(() => cluster.teardown());

  it('moves no value between replicas that agree', async () => {
    const big = 'v'.repeat(10_000);
    await cluster.settle(cluster.node(0).coordinator.set('k', text(big), { consistency: 'all' }));
    cluster.traffic.reset();
    for (let i = 0; i < 20; i++) {
      expect(await cluster.settle(cluster.node(i % 3).coordinator.get('k'))).to.equal(text(big));
    }
    expect(cluster.traffic.calls('peer.get')).to.be.at.least(20);
    // Each answer is `{"same":true}`; a value would be 10,000 bytes.
    expect(cluster.traffic.bytes('peer.get') / cluster.traffic.calls('peer.get')).to.be.below(200);
  });

  it('answers with the newer record of a replica ahead of the coordinator, and repairs the coordinator', async () => {
    await cluster.settle(cluster.node(0).coordinator.set('k', text(OLD), { consistency: 'all' }));
    const newer = live({ wall: cluster.now() + 60_000, counter: 0, node: 'elsewhere' }, NEW);
    await cluster.store(1).merge('k', newer);
    await cluster.store(2).merge('k', newer);
    expect(await cluster.settle(cluster.node(0).coordinator.get('k', { consistency: 'all' }))).to.equal(
      text(NEW),
    );
    await cluster.settle(cluster.node(0).coordinator.idle());
    expect(await cluster.store(0).get('k')).to.deep.equal(newer);
  });

  it('answers with the coordinator’s record when the others are behind, and repairs them', async () => {
    await cluster.settle(cluster.node(0).coordinator.set('k', text(OLD), { consistency: 'all' }));
    const newer = live({ wall: cluster.now() + 60_000, counter: 0, node: 'elsewhere' }, NEW);
    await cluster.store(0).merge('k', newer);
    expect(await cluster.settle(cluster.node(0).coordinator.get('k', { consistency: 'all' }))).to.equal(
      text(NEW),
    );
    await cluster.settle(cluster.node(0).coordinator.idle());
    for (const index of [1, 2]) expect(await cluster.store(index).get('k')).to.deep.equal(newer);
  });

  it('reads a key the coordinator lacks from the replicas that hold it', async () => {
    const record = live({ wall: cluster.now(), counter: 0, node: 'elsewhere' }, { a: 1 });
    await cluster.store(1).merge('k', record);
    await cluster.store(2).merge('k', record);
    expect(await cluster.settle(cluster.node(0).coordinator.get('k', { consistency: 'all' }))).to.equal(
      text({ a: 1 }),
    );
  });
});
