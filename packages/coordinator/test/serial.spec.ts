import {
  OutcomeUnknownError,
  type PeerMethod,
  type PeerParams,
  parseJsonText,
  QuorumNotReachedError,
  trustJsonText,
} from '@kvdb/core';
import { expect } from 'chai';
import type { Clock } from '../src/clock.js';
import { defined, rejection } from './utils/assertions.js';
import { TestCluster } from './utils/test-cluster.js';
import { eventually } from './utils/timing.js';
import { text } from './utils/values.js';

/** Holds the calls `held` picks, on their way to node `index`, until `release` is called. */
function holdCalls(
  cluster: TestCluster,
  index: number,
  held: (method: PeerMethod, params: unknown) => boolean,
): { release: () => void } {
  let release = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const replica = defined(cluster.nodes[index]).replica;
  cluster.network.register(cluster.address(index), {
    handlePeer: async <M extends PeerMethod>(method: M, params: PeerParams<M>) => {
      if (held(method, params)) await gate;
      return replica.handlePeer(method, params);
    },
  });
  return { release };
}

describe('serial operations (Paxos per key)', () => {
  let cluster: TestCluster;

  beforeEach(() => {
    cluster = new TestCluster({ n: 3, replicas: 3, timeoutMs: 1_000 });
  });

  describe('cas', () => {
    it('without `expected`, stores only if the key holds no value', async () => {
      const first = await cluster.coordinator(0).cas('k', text('a'));
      expect(first).to.deep.equal({ swapped: true, exists: false, current: text('a') });
      const second = await cluster.coordinator(1).cas('k', text('b'));
      expect(second).to.deep.equal({ swapped: false, exists: true, current: text('a') });
      await cluster.coordinator(2).pop('k');
      expect(await cluster.coordinator(2).cas('k', text('c'))).to.deep.equal({
        swapped: true,
        exists: false,
        current: text('c'),
      });
    });

    it('with `expected`, stores only if the value deep-equals it, null included', async () => {
      await cluster.coordinator(0).set('k', text({ n: 1, tags: ['x'] }));
      const wrong = await cluster.coordinator(1).cas('k', text({ n: 2 }), { expected: text({ n: 1 }) });
      expect(wrong).to.deep.equal({ swapped: false, exists: true, current: text({ n: 1, tags: ['x'] }) });
      const right = await cluster
        .coordinator(1)
        .cas('k', text({ n: 2 }), { expected: text({ tags: ['x'], n: 1 }) });
      expect(right).to.deep.equal({ swapped: true, exists: true, current: text({ n: 2 }) });
      expect(await cluster.coordinator(2).get('k')).to.equal(text({ n: 2 }));

      expect(await cluster.coordinator(0).cas('absent', text(1), { expected: text(null) })).to.deep.equal({
        swapped: false,
        exists: false,
        current: text(null),
      });
      await cluster.coordinator(0).set('nil', text(null));
      expect(await cluster.coordinator(1).cas('nil', text(1), { expected: text(null) })).to.deep.equal({
        swapped: true,
        exists: true,
        current: text(1),
      });
    });

    it('compares values, not texts: spacing, escapes, member order and number forms aside', async () => {
      const stored = trustJsonText('{ "n": 1, "s": "é", "list": [1, 2] }');
      await cluster.coordinator(0).set('k', stored);
      const others = [
        '{"n": 1, "s": "é", "list": [2, 1]}',
        '{"n": "1", "s": "é", "list": [1, 2]}',
        '{"n": 1, "s": "é"}',
        '{"n": 1, "s": "é", "list": [1, 2], "x": null}',
        '{"n": 1, "s": "e", "list": [1, 2]}',
        '[1, 2]',
      ];
      for (const other of others) {
        const result = await cluster.coordinator(1).cas('k', text('new'), { expected: trustJsonText(other) });
        expect(result, other).to.deep.equal({ swapped: false, exists: true, current: stored });
      }
      const same = trustJsonText('{"list":[1,2.0],"s":"\\u00e9","n":10e-1}');
      expect(await cluster.coordinator(2).cas('k', text('new'), { expected: same })).to.deep.equal({
        swapped: true,
        exists: true,
        current: text('new'),
      });
      await cluster.coordinator(0).set('list', text([]));
      const notAnObject = await cluster.coordinator(0).cas('list', text(1), { expected: text({}) });
      expect(notAnObject).to.include({ swapped: false });
    });

    it('counts exactly: concurrent increments through every node lose and double nothing', async () => {
      await cluster.coordinator(0).set('counter', text(0));
      let swaps = 0;
      const worker = async (id: number) => {
        for (let done = 0; done < 15; ) {
          const current = await cluster.coordinator(id % 3).get('counter', { consistency: 'serial' });
          const result = await cluster
            .coordinator((id + 1) % 3)
            .cas('counter', text((parseJsonText(current) as number) + 1), { expected: current });
          if (result.swapped) {
            swaps++;
            done++;
          }
        }
      };
      await Promise.all([0, 1, 2, 3, 4, 5].map(worker));
      expect(swaps).to.equal(90);
      for (let i = 0; i < 3; i++) {
        expect(await cluster.coordinator(i).get('counter', { consistency: 'serial' })).to.equal(text(90));
      }
    });
  });

  describe('set, get, has and pop', () => {
    it('sets with ifAbsent and ifPresent, answering whether it stored', async () => {
      expect(await cluster.coordinator(0).set('k', text(1), { ifPresent: true })).to.equal(false);
      expect(await cluster.coordinator(1).get('k')).to.equal(text(null));
      expect(await cluster.coordinator(0).set('k', text(1), { ifAbsent: true })).to.equal(true);
      expect(await cluster.coordinator(1).set('k', text(2), { ifAbsent: true })).to.equal(false);
      expect(await cluster.coordinator(2).set('k', text(3), { ifPresent: true })).to.equal(true);
      expect(await cluster.coordinator(0).get('k')).to.equal(text(3));
    });

    it('gives exactly one winner to racing ifAbsent sets and cas without expected, on every key', async () => {
      for (let key = 0; key < 20; key++) {
        const racers = [0, 1, 2].map((i) =>
          cluster.coordinator(i).set(`s${key}`, text(i), { ifAbsent: true }),
        );
        expect((await Promise.all(racers)).filter(Boolean), `s${key}`).to.have.length(1);
        const casRacers = [0, 1, 2].map((i) => cluster.coordinator(i).cas(`c${key}`, text(i)));
        const results = await Promise.all(casRacers);
        expect(
          results.filter((result) => result.swapped),
          `c${key}`,
        ).to.have.length(1);
      }
    });

    it('hands a value to exactly one of many racing serial pops', async () => {
      for (let round = 0; round < 10; round++) {
        await cluster.coordinator(round % 3).set('q', text(`v${round}`), { consistency: 'serial' });
        const pops = Array.from({ length: 6 }, (_, i) =>
          cluster.coordinator(i % 3).pop('q', { consistency: 'serial' }),
        );
        const taken = (await Promise.all(pops)).filter((value) => value !== text(null));
        expect(taken, `round ${round}`).to.deep.equal([text(`v${round}`)]);
        expect(await cluster.coordinator(0).has('q', { consistency: 'serial' })).to.equal(false);
      }
    });
  });

  describe('with expiry', () => {
    it('takes an expired value as no value, and sets a ttl through cas and a conditional set', async () => {
      let now = Date.now();
      const clock = { now: () => now, setTimeout, clearTimeout } as unknown as Clock;
      const timed = new TestCluster({ n: 3, replicas: 3, timeoutMs: 1_000, clock });
      expect(await timed.coordinator(0).cas('k', text('short'), { ttl: 1 })).to.include({ swapped: true });
      expect(await timed.coordinator(1).set('k', text('again'), { ifAbsent: true }), 'still there').to.equal(
        false,
      );
      now += 1_001;
      expect(await timed.coordinator(1).get('k', { consistency: 'serial' }), 'expired').to.equal(text(null));
      expect(await timed.coordinator(2).cas('k', text('new'))).to.deep.equal({
        swapped: true,
        exists: false,
        current: text('new'),
      });
      expect(await timed.coordinator(0).set('n', text(1), { ifAbsent: true, ttl: 2 })).to.equal(true);
      expect(await timed.coordinator(0).ttl('n')).to.deep.equal({ exists: true, ttl: 2 });
    });
  });

  describe('faults', () => {
    it('works with one replica of three down, and fails with QuorumNotReachedError with two', async () => {
      cluster.stop(2);
      expect(await cluster.coordinator(0).cas('k', text(1))).to.include({ swapped: true });
      cluster.stop(1);
      const error = await rejection(cluster.coordinator(0).cas('k', text(2), { expected: text(1) }));
      expect(error).to.be.instanceOf(QuorumNotReachedError);
      expect((error as Error).message).to.match(/serial cas "k"/);
    });

    it('answers a round whose commit reached fewer than a majority as unknown, and the next round completes it', async () => {
      // Node 0's commits never arrive: its round is chosen (nodes 0 and 1 accept), but only its own replica
      // applies it. Node 2 does not even see the proposal.
      const fromNode0 = (params: unknown) =>
        (params as PeerParams<'peer.commit'>).proposal.ballot.node === cluster.address(0);
      holdCalls(cluster, 1, (method, params) => method === 'peer.commit' && fromNode0(params));
      holdCalls(
        cluster,
        2,
        (method, params) => method !== 'peer.prepare' && method !== 'peer.put' && fromNode0(params),
      );
      // Chosen, but applied by node 0 alone: not done, so the cas cannot say it swapped.
      const error = await rejection(cluster.coordinator(0).cas('k', text('chosen')));
      expect(error).to.be.instanceOf(OutcomeUnknownError);
      cluster.stop(0);
      expect(await cluster.store(1).get('k'), 'node 1 only accepted it').to.equal(undefined);
      // Nodes 1 and 2 alone: node 1's accepted proposal is in progress, so the round completes it first.
      expect(await cluster.coordinator(1).get('k', { consistency: 'serial' })).to.equal(text('chosen'));
      expect(defined(await cluster.store(1).get('k'))).to.include({ value: text('chosen') });
      expect(await cluster.coordinator(2).get('k', { consistency: 'quorum' })).to.equal(text('chosen'));
    });

    it('repairs a participant a commit missed when a serial read finds it behind', async () => {
      let commits = 0;
      holdCalls(cluster, 2, (method) => method === 'peer.commit' && commits++ === 0); // the round's own commit
      await cluster.coordinator(0).cas('k', text('v'));
      expect(await cluster.store(2).get('k')).to.equal(undefined);
      cluster.stop(0); // so that node 2's promise is one of the two the read waits for
      expect(await cluster.coordinator(1).get('k', { consistency: 'serial' })).to.equal(text('v'));
      await eventually(async () => (await cluster.store(2).get('k')) !== undefined, {
        what: 'node 2 to hold the value',
      });
    });

    it('says the outcome is unknown when a proposal may have been accepted and the round cannot finish', async () => {
      // Node 0's proposals reach its own replica; the others hang until the round has timed out.
      const holds = [1, 2].map((index) => holdCalls(cluster, index, (method) => method === 'peer.propose'));
      const error = await rejection(cluster.coordinator(0).cas('k', text('maybe')));
      for (const hold of holds) hold.release();
      expect(error).to.be.instanceOf(OutcomeUnknownError);
      expect((error as OutcomeUnknownError).code).to.equal(1009);
      expect((error as Error).message).to.match(/outcome unknown/);
    });

    it('fails with QuorumNotReachedError, not an unknown outcome, when no majority promised in time', async () => {
      const holds = [1, 2].map((index) => holdCalls(cluster, index, (method) => method === 'peer.prepare'));
      const error = await rejection(cluster.coordinator(0).cas('k', text('never')));
      for (const hold of holds) hold.release();
      expect(error).to.be.instanceOf(QuorumNotReachedError);
      expect(await cluster.coordinator(1).get('k')).to.equal(text(null));
    });
  });
});
