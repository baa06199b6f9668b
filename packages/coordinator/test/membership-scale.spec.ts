import type { MemberAddress } from '@kvdb/core';
import { expect } from 'chai';
import { LAN_TIMINGS } from '../src/defaults.js';
import type { Placement } from '../src/placement.js';
import { createSimCluster, type SimCluster } from './utils/sim-cluster.js';

const N = 100;

/** Placement changes each node hears of from now on, by node index. */
function countRings(cluster: SimCluster): Map<number, Placement[]> {
  const rings = new Map<number, Placement[]>();
  for (const index of cluster.upIndices()) {
    const seen: Placement[] = [];
    rings.set(index, seen);
    cluster.node(index).membership.onRingChange((placement) => seen.push(placement));
  }
  return rings;
}

/** The members any node has seen turn suspect or dead since now. */
function watchFailures(cluster: SimCluster): Set<MemberAddress> {
  const failed = new Set<MemberAddress>();
  for (const index of cluster.upIndices()) {
    cluster.node(index).membership.onChange(({ address, to }) => {
      if (to === 'suspect' || to === 'dead') failed.add(address);
    });
  }
  return failed;
}

// A join into a 100-node cluster on the default (LAN) timings: one placement change per node for each phase the
// new member takes, however many members each membership update names.
for (const seed of [3, 8]) {
  describe(`A ${N}-node simulated cluster (LAN timings, seed ${seed})`, function () {
    this.timeout(120_000);
    let cluster: SimCluster;

    afterEach(async () => {
      await cluster?.teardown();
    });

    it('takes a node joining through one seed: alive everywhere, a placement change per phase on each node, no one suspected', async () => {
      cluster = await createSimCluster({ n: N, seed, timings: LAN_TIMINGS });
      await cluster.until(() => cluster.addresses.every((address) => cluster.seenAs(address, 'alive')), {
        withinMs: 10_000,
        stepMs: 500,
        what: 'every node alive everywhere',
      });
      const rings = countRings(cluster);
      const failed = watchFailures(cluster);

      const joined = await cluster.add({ seeds: [cluster.address(seed)] });
      const address = cluster.address(joined);
      await cluster.until(
        () =>
          cluster.seenAs(address, 'alive') && cluster.node(joined).membership.others('alive').length === N,
        {
          withinMs: 30_000,
          stepMs: 500,
          what: 'the new node alive everywhere, and it sees every node alive',
        },
      );
      await cluster.tick(3 * LAN_TIMINGS.syncIntervalMs);

      for (const [index, seen] of rings) {
        // Once for the new member (joining), at most once more as it turns normal: never once per member named.
        expect(seen.length, `node ${index}'s placement changes`).to.be.within(1, 2);
        expect(new Set(seen.map((placement) => placement.id)).size).to.equal(seen.length);
        expect(seen.every((placement) => placement.all.size === N + 1)).to.equal(true);
        expect(seen.at(-1)?.read.size).to.equal(N + 1);
      }
      expect(cluster.node(joined).membership.ring.size).to.equal(N + 1);
      expect([...failed], 'no node suspected or declared dead').to.deep.equal([]);
    });
  });
}
