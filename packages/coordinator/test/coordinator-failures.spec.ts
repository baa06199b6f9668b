import { isTombstone, type JsonText } from '@kvdb/core';
import { expect } from 'chai';
import type sinon from 'sinon';
import { defined, quorumFailure, replicated } from './utils/assertions.js';
import { TestCluster } from './utils/test-cluster.js';
import { eventually, track, useFakeTimers } from './utils/timing.js';
import { text } from './utils/values.js';

// Failures on a 3-node cluster with 3 replicas: nodes down (refusing or hanging), and the repairs that follow.
describe('Coordinator under failures', () => {
  describe('reads that ask only a quorum (readRepairChance 0)', () => {
    /** 3 nodes where node 2 holds 'old' for k and the others 'new'. */
    const clusterWithStaleReplica2 = async (): Promise<TestCluster> => {
      const cluster = new TestCluster({ readRepairChance: 0 });
      await cluster.coordinator(0).set('k', text('old'));
      await replicated(cluster, 'k');
      cluster.stop(2);
      await cluster.coordinator(0).set('k', text('new'));
      cluster.start(2);
      return cluster;
    };

    it('asks the local replica and one other, and still returns the newest value', async () => {
      const cluster = await clusterWithStaleReplica2();

      const before = cluster.network.callCount('peer.get');
      expect(await cluster.coordinator(2).get('k'), 'the stale local replica is outvoted').to.equal(
        text('new'),
      );
      expect(cluster.network.callCount('peer.get') - before, 'remote peer.get calls').to.equal(1);
      for (let i = 0; i < 20; i++) expect(await cluster.coordinator(i % 3).get('k')).to.equal(text('new'));
    });

    it('leaves a replica outside the quorum stale until something else repairs it', async () => {
      const cluster = await clusterWithStaleReplica2();
      for (let i = 0; i < 10; i++) expect(await cluster.coordinator(i % 2).get('k')).to.equal(text('new'));
      const stale = (await cluster.store(2).get('k')) as { value: JsonText };
      expect(stale.value, 'node 2 was never asked, so never repaired').to.equal(text('old'));
    });

    it('asks the next replica at once when one it asked is down', async () => {
      const cluster = new TestCluster({ readRepairChance: 0 });
      await cluster.coordinator(0).set('k', text('v'));
      await replicated(cluster, 'k');
      cluster.stop(1);
      const before = cluster.network.callCount('peer.get');
      expect(await cluster.coordinator(0).get('k')).to.equal(text('v'));
      expect(cluster.network.callCount('peer.get') - before).to.be.oneOf([1, 2]);
    });
  });

  describe('read repair', () => {
    it('brings a replica that missed a write up to date on a quorum read', async () => {
      const cluster = new TestCluster();
      await cluster.coordinator(0).set('k', text('old'));
      await replicated(cluster, 'k');
      cluster.stop(2);
      await cluster.coordinator(0).set('k', text('new'));
      cluster.start(2);
      expect((await cluster.store(2).get('k')) as { value: JsonText }).to.include({ value: text('old') });

      expect(await cluster.coordinator(1).get('k')).to.equal(text('new'));
      const record = await replicated(cluster, 'k');
      expect(record).to.include({ value: text('new') });
      expect(await cluster.store(2).get('k')).to.deep.equal(await cluster.store(0).get('k'));
    });

    it('writes a key to a replica that has never seen it', async () => {
      const cluster = new TestCluster();
      cluster.stop(1);
      await cluster.coordinator(0).set('fresh', text({ v: 1 }));
      cluster.start(1);
      expect(await cluster.store(1).get('fresh')).to.equal(undefined);
      expect(await cluster.coordinator(2).has('fresh')).to.equal(true);
      await eventually(async () => (await cluster.liveCount('fresh')) === 3, {
        what: 'fresh on every store',
      });
    });

    it('spreads a tombstone to a replica that missed the pop', async () => {
      const cluster = new TestCluster();
      await cluster.coordinator(0).set('k', text(1));
      await replicated(cluster, 'k');
      cluster.stop(2);
      await cluster.coordinator(0).pop('k');
      cluster.start(2);
      expect(await cluster.coordinator(2).get('k')).to.equal(text(null));
      await eventually(async () => (await cluster.totalCounts()).tombstones === 3, {
        what: 'three tombstones',
      });
      expect(isTombstone(defined(await cluster.store(2).get('k')))).to.equal(true);
    });
  });

  describe('listKeys when a replica missed a pop', () => {
    it('does not list the popped key', async () => {
      const cluster = new TestCluster();
      await cluster.coordinator(0).set('popped', text(1));
      await cluster.coordinator(0).set('kept', text(2));
      await replicated(cluster, 'popped');
      await replicated(cluster, 'kept');
      cluster.stop(2);
      expect(await cluster.coordinator(0).pop('popped')).to.equal(text(1));
      cluster.start(2);
      expect(await cluster.liveCount('popped'), 'the stale replica still holds the value').to.equal(1);
      for (let i = 0; i < 3; i++)
        expect(await cluster.coordinator(i).listAllKeys(), `node ${i}`).to.deep.equal(['kept']);
    });
  });

  for (const mode of ['refuse', 'hang'] as const) {
    describe(`with one replica down (${mode})`, () => {
      const timeoutMs = 1_000;
      let clock: sinon.SinonFakeTimers;
      let cluster: TestCluster;

      /** Ticks fake time until the promise settles (bounded), then hands it back. */
      async function settle<T>(promise: Promise<T>): Promise<T> {
        const tracked = track(promise);
        for (let i = 0; i < 10 && !tracked.settled; i++) await clock.tickAsync(timeoutMs / 4);
        return promise;
      }

      beforeEach(async () => {
        clock = useFakeTimers();
        cluster = new TestCluster({ timeoutMs });
        await cluster.coordinator(0).set('before', text('written before the failure'));
        await settle(replicated(cluster, 'before'));
        cluster.stop(2, mode);
      });

      afterEach(() => {
        clock.restore();
      });

      it('gets, sets, has and pops at quorum through the other nodes', async () => {
        for (const i of [0, 1]) {
          const node = cluster.coordinator(i);
          expect(await settle(node.get('before')), `node ${i}`).to.equal(text('written before the failure'));
          expect(await settle(node.has('before')), `node ${i}`).to.equal(true);
          expect(await settle(node.set(`during:${i}`, text(i))), `node ${i}`).to.equal(true);
        }
        expect(await settle(cluster.coordinator(1).get('during:0'))).to.equal(text(0));
        expect(await settle(cluster.coordinator(0).get('during:1'))).to.equal(text(1));
        expect(await settle(cluster.coordinator(1).pop('during:0'))).to.equal(text(0));
        expect(await settle(cluster.coordinator(0).has('during:0'))).to.equal(false);
        expect(await settle(cluster.coordinator(0).get('during:0', { default: text('gone') }))).to.equal(
          text('gone'),
        );
      });

      it('answers a quorum request without waiting for the down replica', async () => {
        const set = track(cluster.coordinator(0).set('fast', text(1)));
        await clock.tickAsync(0);
        expect(set.settled).to.equal(true);
        expect(await set.promise).to.equal(true);
      });

      it('still lists every live key', async () => {
        await settle(cluster.coordinator(0).set('during', text(1)));
        await settle(cluster.coordinator(1).set('also', text(2)));
        for (const i of [0, 1]) {
          expect(await settle(cluster.coordinator(i).listAllKeys()), `node ${i}`).to.deep.equal([
            'also',
            'before',
            'during',
          ]);
        }
      });

      it('fails consistency all', async () => {
        const down = cluster.address(2);
        const set = await quorumFailure(
          settle(cluster.coordinator(0).set('k', text(1), { consistency: 'all' })),
        );
        expect(set).to.include({ operation: 'set', required: 3, timedOut: mode === 'hang' });
        expect(set.acked).to.be.at.most(2);
        if (mode === 'refuse') expect(set.failed.map(({ replica }) => replica)).to.deep.equal([down]);
        const get = await quorumFailure(settle(cluster.coordinator(1).get('before', { consistency: 'all' })));
        expect(get).to.include({ operation: 'get', required: 3, timedOut: mode === 'hang' });
      });

      it('idle waits until the calls to the down replica of requests already answered have settled', async () => {
        const coordinator = cluster.coordinator(0);
        expect(await settle(coordinator.get('before'))).to.equal(text('written before the failure'));
        const idle = track(coordinator.idle());
        await clock.tickAsync(0);
        // A refused call has settled by now; a hung one settles at its timeout.
        expect(idle.settled, 'idle at once').to.equal(mode === 'refuse');
        await settle(idle.promise);
      });
    });
  }

  describe('with two replicas down (refuse)', () => {
    let cluster: TestCluster;

    beforeEach(async () => {
      cluster = new TestCluster();
      await cluster.coordinator(0).set('before', text('value'));
      await replicated(cluster, 'before');
      cluster.stop(1);
      cluster.stop(2);
    });

    it('rejects a quorum set with QuorumNotReachedError that says who answered', async () => {
      const data = await quorumFailure(cluster.coordinator(0).set('k', text(1)));
      expect(await cluster.store(0).get('k'), 'the coordinator’s own replica took the write').to.not.equal(
        undefined,
      );
      expect(data).to.include({ operation: 'set', key: 'k', required: 2, acked: 1, timedOut: false });
      expect(data.replicas).to.have.members([...cluster.addresses]);
      expect(data.failed.map(({ replica }) => replica)).to.have.members([
        cluster.address(1),
        cluster.address(2),
      ]);
      for (const { reason } of data.failed) expect(reason).to.be.a('string').and.not.equal('');
    });

    it('rejects a quorum get the same way', async () => {
      const data = await quorumFailure(cluster.coordinator(0).get('before'));
      expect(data).to.include({ operation: 'get', key: 'before', required: 2, acked: 1, timedOut: false });
      expect(data.replicas).to.have.members([...cluster.addresses]);
      expect(data.failed).to.have.length(2);
    });

    it('rejects a quorum has and pop, and the failed pop writes nothing', async () => {
      expect(await quorumFailure(cluster.coordinator(0).has('before'))).to.include({
        operation: 'has',
        required: 2,
      });
      expect(await quorumFailure(cluster.coordinator(0).pop('before'))).to.include({
        operation: 'pop',
        required: 2,
      });
      expect(await cluster.liveCount('before')).to.equal(3);
    });

    it('still lists keys: one member holds a replica of every key', async () => {
      expect(await cluster.coordinator(0).listAllKeys()).to.deep.equal(['before']);
    });

    it('still serves consistency one', async () => {
      const node = cluster.coordinator(0);
      expect(await node.set('k', text('one'), { consistency: 'one' })).to.equal(true);
      expect(await node.get('k', { consistency: 'one' })).to.equal(text('one'));
      expect(await node.get('before', { consistency: 'one' })).to.equal(text('value'));
      expect(await node.has('k', { consistency: 'one' })).to.equal(true);
    });
  });

  describe('with two replicas down (hang)', () => {
    const timeoutMs = 1_000;
    let clock: sinon.SinonFakeTimers;
    let cluster: TestCluster;

    beforeEach(() => {
      clock = useFakeTimers();
      cluster = new TestCluster({ timeoutMs });
      cluster.stop(1, 'hang');
      cluster.stop(2, 'hang');
    });

    afterEach(() => {
      clock.restore();
    });

    for (const operation of ['set', 'get'] as const) {
      it(`times a quorum ${operation} out at timeoutMs`, async () => {
        const node = cluster.coordinator(0);
        const request = track<unknown>(operation === 'set' ? node.set('k', text(1)) : node.get('k'));
        await clock.tickAsync(timeoutMs - 1);
        expect(request.settled, 'settled before the timeout').to.equal(false);
        await clock.tickAsync(1);
        expect(request.settled, 'still pending at the timeout').to.equal(true);
        const data = await quorumFailure(request.promise);
        expect(data).to.include({ operation, required: 2, acked: 1, timedOut: true });
        expect(data.replicas).to.have.members([...cluster.addresses]);
      });
    }
  });

  describe('with consistency all', () => {
    it('succeeds when every replica answers', async () => {
      const cluster = new TestCluster();
      expect(await cluster.coordinator(0).set('k', text(1), { consistency: 'all' })).to.equal(true);
      expect(await cluster.liveCount('k'), 'acknowledged by all three').to.equal(3);
      expect(await cluster.coordinator(1).get('k', { consistency: 'all' })).to.equal(text(1));
    });
  });
});
