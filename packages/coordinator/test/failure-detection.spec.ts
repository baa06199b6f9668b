import type { MemberAddress, MemberStatus } from '@kvdb/core';
import { expect } from 'chai';
import { LOCAL_TIMINGS } from '../src/defaults.js';
import { defined } from './utils/assertions.js';
import { createSimCluster, SIM_EPOCH, type SimCluster } from './utils/sim-cluster.js';

interface Transition {
  observer: MemberAddress;
  address: MemberAddress;
  from?: MemberStatus;
  to: MemberStatus;
  at: number;
}

/** Records every status change each node (as it runs now) sees, with the fake time it happened at. */
function recordTransitions(cluster: SimCluster): Transition[] {
  const transitions: Transition[] = [];
  for (const index of cluster.upIndices()) {
    const observer = cluster.address(index);
    cluster.node(index).membership.onChange(({ address, from, to }) => {
      transitions.push({ observer, address, from, to, at: Date.now() });
    });
  }
  return transitions;
}

const { suspicionTimeoutMs } = LOCAL_TIMINGS;

// SWIM failure detection of whole ClusterNodes on one in-memory network, on fake time with LOCAL_TIMINGS
// (probe every 400 ms, suspicion timeout 1.5 s).
describe('Failure detection (simulated cluster, LOCAL_TIMINGS)', () => {
  let cluster: SimCluster;

  afterEach(async () => {
    await cluster?.teardown();
  });

  for (const mode of ['refuse', 'hang'] as const) {
    describe(`a killed node (${mode})`, () => {
      beforeEach(async () => {
        cluster = await createSimCluster({ n: 5, seed: 11 });
        await cluster.tick(2_000);
        expect(cluster.addresses.every((address) => cluster.seenAs(address, 'alive'))).to.equal(true);
      });

      it('is suspected, then declared dead by every other node within 5 s, never before the suspicion timeout', async () => {
        const victim = cluster.address(4);
        const transitions = recordTransitions(cluster);
        await cluster.kill(4, mode);
        const killedAt = cluster.now();

        await cluster.tick(suspicionTimeoutMs - 1);
        const early = transitions.filter((t) => t.to === 'dead');
        expect(early, 'declared dead before the suspicion timeout could run out').to.deep.equal([]);
        expect(
          transitions.some((t) => t.address === victim && t.to === 'suspect'),
          'suspected by someone within the suspicion timeout',
        ).to.equal(true);

        await cluster.until(() => cluster.seenAs(victim, 'dead'), {
          withinMs: 5_000 - (cluster.now() - killedAt),
          what: `${victim} dead on every other node`,
        });
        expect(cluster.now() - killedAt).to.be.at.most(5_000);

        const firstSuspect = Math.min(...transitions.filter((t) => t.to === 'suspect').map((t) => t.at));
        const firstDead = Math.min(...transitions.filter((t) => t.to === 'dead').map((t) => t.at));
        expect(firstDead - firstSuspect, 'suspect for the whole suspicion timeout').to.be.at.least(
          suspicionTimeoutMs,
        );
        for (const t of transitions)
          expect(t.address, 'only the killed node changed status').to.equal(victim);
        // Each observer suspects it, then declares it dead; one that hears "dead" before "suspect" may skip the
        // suspicion (SWIM allows it), but never declares it dead before the suspicion timeout since the kill.
        for (const index of [0, 1, 2, 3]) {
          const seen = transitions.filter((t) => t.observer === cluster.address(index));
          expect([['suspect', 'dead'], ['dead']], `node ${index}`).to.deep.include(seen.map((t) => t.to));
          expect(defined(seen.at(-1)).at - killedAt, `node ${index}`).to.be.at.least(suspicionTimeoutMs);
        }
        expect(transitions.filter((t) => t.to === 'suspect').length, 'suspected by most').to.be.at.least(3);
      });

      it('is alive again on every node within 5 s of a restart, and sees every node alive', async () => {
        const victim = cluster.address(4);
        await cluster.kill(4, mode);
        await cluster.until(() => cluster.seenAs(victim, 'dead'), {
          withinMs: 5_000,
          what: 'dead everywhere',
        });
        const before = defined(cluster.node(0).membership.get(victim)).incarnation;

        await cluster.restart(4);
        await cluster.until(() => cluster.seenAs(victim, 'alive'), {
          withinMs: 5_000,
          what: `${victim} alive on every node`,
        });
        expect(defined(cluster.node(0).membership.get(victim)).incarnation).to.be.above(before);
        for (const address of cluster.addresses)
          expect(cluster.statusOf(4, address), address).to.equal('alive');
      });
    });
  }

  describe('a frozen node (calls to and from it hang) that comes back', () => {
    it('refutes being dead and is alive again on every node within 5 s', async () => {
      cluster = await createSimCluster({ n: 5, seed: 12 });
      await cluster.tick(2_000);
      const frozen = cluster.address(2);
      const incarnation = cluster.node(2).membership.own.incarnation;
      cluster.network.stop(frozen, 'hang');
      await cluster.until(() => cluster.seenAs(frozen, 'dead'), { withinMs: 5_000, what: 'dead everywhere' });

      cluster.network.start(frozen);
      await cluster.until(() => cluster.seenAs(frozen, 'alive'), {
        withinMs: 5_000,
        what: `${frozen} alive on every node`,
      });
      expect(cluster.node(2).membership.own.incarnation).to.be.above(incarnation);
      await cluster.until(() => cluster.addresses.every((address) => cluster.seenAs(address, 'alive')), {
        withinMs: 10_000,
        what: 'every node alive on every node',
      });
    });
  });

  describe('a slow but live node', () => {
    it('is not declared dead when only the direct link to it is cut: indirect probes get through (20 s)', async () => {
      cluster = await createSimCluster({ n: 3, seed: 13 });
      await cluster.tick(2_000);
      const [a, b] = [cluster.address(0), cluster.address(1)];
      const transitions = recordTransitions(cluster);
      cluster.network.cut(a, b);
      await cluster.tick(20_000);

      expect(transitions.filter((t) => t.to === 'dead')).to.deep.equal([]);
      expect(
        transitions.filter((t) => t.to === 'suspect'),
        'every probe is answered indirectly',
      ).to.deep.equal([]);
      expect(cluster.statusOf(0, b)).to.equal('alive');
      expect(cluster.statusOf(1, a)).to.equal('alive');
    });

    it('survives a 20% drop rate for 30 s: suspicions are refuted and nobody is declared dead (seed 14)', async () => {
      cluster = await createSimCluster({ n: 5, seed: 14 });
      await cluster.tick(2_000);
      const transitions = recordTransitions(cluster);
      cluster.network.setDropRate(0.2);
      await cluster.tick(30_000);

      expect(transitions.filter((t) => t.to === 'dead')).to.deep.equal([]);
    });

    for (const seed of [14, 22]) {
      it(`recovers from every suspicion a 20% drop rate causes: all alive again once drops stop (seed ${seed})`, async () => {
        cluster = await createSimCluster({ n: 5, seed });
        await cluster.tick(2_000);
        const transitions = recordTransitions(cluster);
        cluster.network.setDropRate(0.2);
        await cluster.tick(30_000);
        cluster.network.setDropRate(0);

        expect(
          transitions.filter((t) => t.to === 'suspect'),
          'drops cause suspicions',
        ).to.not.deep.equal([]);
        await cluster.until(() => cluster.addresses.every((address) => cluster.seenAs(address, 'alive')), {
          withinMs: 5_000,
          what: 'every node alive everywhere once drops stop',
        });
        const raised = cluster.addresses.filter(
          (_, index) => cluster.node(index).membership.own.incarnation > SIM_EPOCH,
        );
        expect(raised, 'suspected members refuted by raising their incarnation').to.not.deep.equal([]);
      });
    }
  });

  describe('incarnation refutation', () => {
    beforeEach(async () => {
      cluster = await createSimCluster({ n: 3, seed: 15 });
      await cluster.tick(2_000);
    });

    it('a node told it is suspect raises its incarnation, and the others see it alive at the new one', async () => {
      const target = cluster.address(1);
      const own = cluster.node(1).membership.own;
      const reply = await cluster.node(1).handlePeer('peer.sync', {
        members: [{ address: target, status: 'suspect', incarnation: own.incarnation }],
      });

      const raised = cluster.node(1).membership.own;
      expect(raised).to.deep.equal({
        address: target,
        status: 'alive',
        incarnation: own.incarnation + 1,
        phase: 'normal',
      });
      expect(reply.members).to.deep.include(raised);
      await cluster.until(
        () =>
          [0, 2].every((i) => cluster.node(i).membership.get(target)?.incarnation === own.incarnation + 1),
        { withinMs: 2_000, what: 'the new incarnation everywhere' },
      );
      expect(cluster.seenAs(target, 'alive')).to.equal(true);
    });

    it('ignores news of its suspicion at an older incarnation', async () => {
      const target = cluster.address(1);
      const own = cluster.node(1).membership.own;
      await cluster.node(1).handlePeer('peer.sync', {
        members: [{ address: target, status: 'dead', incarnation: own.incarnation - 1 }],
      });
      expect(cluster.node(1).membership.own).to.deep.equal(own);
    });

    it('a suspicion raised on another node is refuted before its timeout: never dead anywhere', async () => {
      const target = cluster.address(2);
      const own = cluster.node(2).membership.own;
      const transitions = recordTransitions(cluster);
      await cluster.node(0).handlePeer('peer.sync', {
        members: [{ address: target, status: 'suspect', incarnation: own.incarnation }],
      });
      expect(cluster.statusOf(0, target)).to.equal('suspect');

      await cluster.tick(suspicionTimeoutMs * 3);
      expect(transitions.filter((t) => t.to === 'dead')).to.deep.equal([]);
      expect(cluster.seenAs(target, 'alive')).to.equal(true);
      expect(defined(cluster.node(0).membership.get(target)).incarnation).to.be.above(own.incarnation);
    });
  });
});
