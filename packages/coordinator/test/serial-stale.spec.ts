import {
  type KVRecord,
  OutcomeUnknownError,
  type PeerMethod,
  type PeerParams,
  UnavailableError,
} from '@kvdb/core';
import { expect } from 'chai';
import { type Clock, systemClock } from '../src/clock.js';
import { defined, rejection } from './utils/assertions.js';
import { TestCluster } from './utils/test-cluster.js';
import { text } from './utils/values.js';

/**
 * Serial rounds over long stretches of time and with commits lost: neither may let a write take effect after its
 * operation answered that it did not, nor answer done a write a quorum read cannot see.
 */
describe('serial operations: stale proposals and lost commits', () => {
  it('never lets a cas that answered swapped:false take effect later, after the acceptors forgot their commit notes', async () => {
    let offset = 0;
    const clock: Clock = { ...systemClock, now: () => Date.now() + offset };
    const cluster = new TestCluster({ n: 4, replicas: 3, timeoutMs: 1_000, clock });
    // A key whose replicas are nodes 0, 1, 2 (A, B, C), so that node 3 (D) coordinates without an acceptor of its own.
    let key = '';
    for (let i = 0; key === '' && i < 1_000; i++) {
      const { replicas } = cluster.node(3).membership.placement.place(`k${i}`, 3);
      if (!replicas.includes(cluster.address(3))) key = `k${i}`;
    }
    const [A, B, C, D] = [0, 1, 2, 3].map((i) => cluster.address(i)) as [string, string, string, string];
    expect(cluster.node(3).membership.placement.place(key, 3).replicas.sort()).to.deep.equal(
      [A, B, C].sort(),
    );
    await cluster.coordinator(0).set(key, text('X'));

    // D's first proposal reaches only A (its proposes to B and C are lost); D's next prepares wait at B and C.
    let phase = 1;
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let heldPrepare = () => {};
    const prepareHeld = new Promise<void>((resolve) => {
      heldPrepare = resolve;
    });
    for (const index of [1, 2]) {
      const replica = cluster.node(index).replica;
      cluster.network.register(cluster.address(index), {
        handlePeer: async <M extends PeerMethod>(method: M, params: PeerParams<M>) => {
          const fromD = (ballot: { node: string }) => ballot.node === D;
          if (
            method === 'peer.propose' &&
            phase === 1 &&
            fromD((params as PeerParams<'peer.propose'>).proposal.ballot)
          )
            throw new UnavailableError('lost');
          if (
            method === 'peer.prepare' &&
            phase === 2 &&
            fromD((params as PeerParams<'peer.prepare'>).ballot)
          ) {
            heldPrepare();
            await gate;
          }
          return replica.handlePeer(method, params);
        },
      });
    }
    // After D's first propose, A is cut off.
    const aReplica = cluster.node(0).replica;
    cluster.network.register(A, {
      handlePeer: async <M extends PeerMethod>(method: M, params: PeerParams<M>) => {
        const answer = await aReplica.handlePeer(method, params);
        if (method === 'peer.propose') {
          phase = 2;
          cluster.stop(0);
        }
        return answer;
      },
    });

    const casL = cluster.coordinator(3).cas(key, text('L'), { expected: text('X') });
    await prepareHeld;
    // Meanwhile a serial pop through B takes 'X' (A is down: B and C are its majority).
    expect(await cluster.coordinator(1).pop(key, { consistency: 'serial' })).to.equal(text('X'));
    release();
    const answer = await casL;
    expect(answer, 'the cas says it did not swap').to.deep.equal({
      swapped: false,
      exists: false,
      current: text(null),
    });

    // A comes back. An hour on, the tombstone is collected everywhere (as the collector does after its grace),
    // and the acceptors sweep what they no longer need.
    cluster.start(0);
    cluster.network.register(A, aReplica);
    for (const index of [1, 2]) cluster.network.register(cluster.address(index), cluster.node(index).replica);
    const tombstone = defined(await cluster.store(1).get(key)) as KVRecord;
    expect(tombstone.deleted).to.equal(true);
    await aReplica.handlePeer('peer.put', { key, record: tombstone });
    offset += 61 * 60_000;
    for (const index of [0, 1, 2]) {
      await cluster.node(index).replica.handlePeer('peer.purge', { entries: [[key, tombstone.version]] });
    }
    expect(await cluster.records(key)).to.deep.equal([undefined, undefined, undefined, undefined]);

    // A serial read: 'L' appears, the write of a cas that answered swapped:false.
    const read = await cluster.coordinator(0).get(key, { consistency: 'serial' });
    expect(read, 'nothing set the key after the pop').to.equal(text(null));
  });

  it('answers a serial write done only once a majority applied it; until then its outcome is unknown', async () => {
    const cluster = new TestCluster({ n: 3, replicas: 3, timeoutMs: 1_000 });
    // Node 0's commits to nodes 1 and 2 are lost; its proposes reach them.
    for (const index of [1, 2]) {
      const replica = cluster.node(index).replica;
      cluster.network.register(cluster.address(index), {
        handlePeer: async <M extends PeerMethod>(method: M, params: PeerParams<M>) => {
          if (method === 'peer.commit') throw new UnavailableError('lost');
          return replica.handlePeer(method, params);
        },
      });
    }
    expect(await rejection(cluster.coordinator(0).cas('k', text('v')))).to.be.instanceOf(OutcomeUnknownError);
    for (const index of [1, 2]) cluster.network.register(cluster.address(index), cluster.node(index).replica);
    cluster.stop(0);
    // The next serial round finds it chosen and applies it on a majority; a quorum read sees it from then on.
    expect(await cluster.coordinator(1).get('k', { consistency: 'serial' })).to.equal(text('v'));
    expect(await cluster.coordinator(1).get('k', { consistency: 'quorum' }), 'a quorum read after').to.equal(
      text('v'),
    );
  });
});
