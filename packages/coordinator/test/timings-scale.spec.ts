import { expect } from 'chai';
import { LAN_TIMINGS, LOCAL_TIMINGS, suspicionTimeoutFor, syncIntervalFor } from '../src/defaults.js';
import { createSimCluster, type SimCluster } from './utils/sim-cluster.js';

describe('Timings by cluster size', () => {
  it('keeps the suspicion timeout up to 10 members, then scales it by log10 of the count', () => {
    for (const members of [1, 2, 5, 10]) expect(suspicionTimeoutFor(LAN_TIMINGS, members)).to.equal(4_000);
    expect(suspicionTimeoutFor(LAN_TIMINGS, 24)).to.equal(5_521);
    expect(suspicionTimeoutFor(LAN_TIMINGS, 100)).to.equal(8_000);
    expect(suspicionTimeoutFor(LAN_TIMINGS, 1_000)).to.equal(12_000);
    expect(suspicionTimeoutFor(LAN_TIMINGS, 0), 'never below the preset').to.equal(4_000);
  });

  it('keeps the push-pull interval up to 32 members, then adds one interval per doubling', () => {
    for (const members of [1, 24, 32]) expect(syncIntervalFor(LAN_TIMINGS, members)).to.equal(10_000);
    expect(syncIntervalFor(LAN_TIMINGS, 33)).to.equal(20_000);
    expect(syncIntervalFor(LAN_TIMINGS, 64)).to.equal(20_000);
    expect(syncIntervalFor(LAN_TIMINGS, 100)).to.equal(30_000);
    expect(syncIntervalFor(LAN_TIMINGS, 200)).to.equal(40_000);
  });

  describe('on a simulated cluster of 40 (LOCAL_TIMINGS)', () => {
    let cluster: SimCluster;

    afterEach(async () => {
      await cluster?.teardown();
    });

    it('declares a killed member dead no sooner than the scaled suspicion timeout after suspecting it', async () => {
      cluster = await createSimCluster({ n: 40, seed: 71, vnodes: 16 });
      await cluster.tick(2_000);
      const victim = cluster.address(7);
      const suspected = new Map<number, number>();
      const dead = new Map<number, number>();
      for (const index of cluster.upIndices()) {
        cluster.node(index).membership.onChange(({ address, to }) => {
          if (address !== victim) return;
          if (to === 'suspect' && !suspected.has(index)) suspected.set(index, cluster.now());
          if (to === 'dead' && !dead.has(index)) dead.set(index, cluster.now());
        });
      }
      await cluster.kill(7);
      await cluster.until(() => cluster.seenAs(victim, 'dead'), {
        withinMs: 20_000,
        what: 'dead everywhere',
      });

      const timeout = suspicionTimeoutFor(LOCAL_TIMINGS, 40);
      expect(timeout).to.be.above(LOCAL_TIMINGS.suspicionTimeoutMs);
      const firstSuspected = Math.min(...suspected.values());
      const firstDead = Math.min(...dead.values());
      expect(firstDead - firstSuspected, 'dead nowhere before the timeout').to.be.at.least(timeout);
      expect(firstDead - firstSuspected, 'dead once the first suspicion ran out').to.be.below(timeout + 500);
    });
  });
});
