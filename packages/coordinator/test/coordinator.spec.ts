import { type JsonValue, KVDB_VERSION, MemoryStore, type Store, trustJsonText } from '@kvdb/core';
import { expect } from 'chai';
import { type Clock, systemClock } from '../src/clock.js';
import { Coordinator } from '../src/coordinator.js';
import { LocalReplica } from '../src/local-replica.js';
import { Membership } from '../src/membership.js';
import { defined, quorumFailure, replicated } from './utils/assertions.js';
import { DelegatingStore } from './utils/delegating-store.js';
import { MemoryNetwork } from './utils/memory-network.js';
import { TestCluster } from './utils/test-cluster.js';
import { eventually } from './utils/timing.js';
import { live, text } from './utils/values.js';

const JSON_VALUES: Array<[string, JsonValue]> = [
  ['null', null],
  ['true', true],
  ['false', false],
  ['zero', 0],
  ['negative float', -12.5],
  ['large number', 1e300],
  ['empty string', ''],
  ['string', 'hello'],
  ['unicode string', 'naïve → ✓ 🚀'],
  ['empty array', []],
  ['mixed array', [1, 'two', null, false, [3, [4]], { five: 5 }]],
  ['empty object', {}],
  ['nested object', { a: { b: { c: [1, { d: null }] } }, 'with space': true, '': 'empty key', n: -0.5 }],
];

describe('Coordinator', () => {
  describe('on a healthy 3-node cluster', () => {
    let cluster: TestCluster;

    beforeEach(() => {
      cluster = new TestCluster({ n: 3, replicas: 3 });
    });

    it('returns a value set through one node from every node', async () => {
      for (let writer = 0; writer < 3; writer++) {
        const key = `user:${writer}`;
        expect(await cluster.coordinator(writer).set(key, text({ name: `user ${writer}` }))).to.equal(true);
        for (let reader = 0; reader < 3; reader++) {
          expect(await cluster.coordinator(reader).get(key), `${key} read on node ${reader}`).to.equal(
            text({ name: `user ${writer}` }),
          );
        }
      }
    });

    it('round-trips values of every JSON type', async () => {
      for (const [i, [name, value]] of JSON_VALUES.entries()) {
        const key = `json:${name}`;
        await cluster.coordinator(i % 3).set(key, text(value));
        expect(await cluster.coordinator((i + 1) % 3).get(key, { default: text('DEFAULT') }), name).to.equal(
          text(value),
        );
        expect(await cluster.coordinator((i + 2) % 3).has(key), name).to.equal(true);
      }
    });

    it('answers the very text it was given, spacing and escapes kept, from every node and every store', async () => {
      const sent = trustJsonText('{ "b" : [1, 2.50e0],\n  "a": "caf\\u00e9" }');
      await cluster.coordinator(0).set('k', sent);
      for (let i = 0; i < 3; i++) expect(await cluster.coordinator(i).get('k'), `node ${i}`).to.equal(sent);
      for (const stored of await cluster.records('k')) expect(stored).to.include({ value: sent });
      expect(await cluster.coordinator(1).pop('k')).to.equal(sent);
    });

    it('answers a missing key with null, or with the default, falsy ones included', async () => {
      const node = cluster.coordinator(1);
      expect(await node.get('missing')).to.equal(text(null));
      for (const fallback of ['fallback', 0, false, '', { a: [1] }]) {
        expect(await node.get('missing', { default: text(fallback) })).to.equal(text(fallback));
      }
    });

    it('returns a stored null rather than the default', async () => {
      await cluster.coordinator(0).set('nothing', text(null));
      expect(await cluster.coordinator(2).get('nothing', { default: text('fallback') })).to.equal(text(null));
    });

    it('tells whether a key holds a value', async () => {
      expect(await cluster.coordinator(0).has('k')).to.equal(false);
      await cluster.coordinator(1).set('k', text(0));
      for (let i = 0; i < 3; i++) expect(await cluster.coordinator(i).has('k'), `node ${i}`).to.equal(true);
      expect(await cluster.coordinator(2).has('other')).to.equal(false);
    });

    it('pops: returns the value, then the key reads as missing everywhere', async () => {
      await cluster.coordinator(0).set('session', text({ token: 'abc' }));
      expect(await cluster.coordinator(1).pop('session', { default: text('unused') })).to.equal(
        text({ token: 'abc' }),
      );
      for (let i = 0; i < 3; i++) {
        const node = cluster.coordinator(i);
        expect(await node.get('session'), `get on node ${i}`).to.equal(text(null));
        expect(
          await node.get('session', { default: text('gone') }),
          `get with default on node ${i}`,
        ).to.equal(text('gone'));
        expect(await node.has('session'), `has on node ${i}`).to.equal(false);
      }
      expect(await cluster.coordinator(2).pop('session', { default: text('again') })).to.equal(text('again'));
      expect(await cluster.coordinator(2).pop('session')).to.equal(text(null));
    });

    it('sets a key again after a pop', async () => {
      await cluster.coordinator(0).set('k', text(1));
      await cluster.coordinator(1).pop('k');
      await cluster.coordinator(2).set('k', text(2));
      expect(await cluster.coordinator(0).get('k')).to.equal(text(2));
      expect(await cluster.coordinator(1).listAllKeys()).to.deep.equal(['k']);
    });

    it('pops a missing key without writing anything: no tombstone anywhere', async () => {
      const putsBefore = cluster.network.callCount('peer.put');
      expect(await cluster.coordinator(0).pop('never-set', { default: text('dflt') })).to.equal(text('dflt'));
      expect(await cluster.coordinator(1).pop('never-set')).to.equal(text(null));
      for (let i = 0; i < 3; i++) {
        expect(await cluster.store(i).counts(), `store ${i}`).to.deep.equal({ live: 0, tombstones: 0 });
        expect(await cluster.store(i).get('never-set'), `store ${i}`).to.equal(undefined);
      }
      expect(cluster.network.callCount('peer.put')).to.equal(putsBefore);
    });

    it('treats __proto__, constructor and toString as plain keys', async () => {
      const keys = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];
      for (const key of keys) {
        expect(await cluster.coordinator(0).get(key), `${key} before set`).to.equal(text(null));
        expect(await cluster.coordinator(1).has(key), `${key} before set`).to.equal(false);
        expect(
          await cluster.coordinator(2).pop(key, { default: text('none') }),
          `${key} before set`,
        ).to.equal(text('none'));
      }
      for (const [i, key] of keys.entries()) await cluster.coordinator(i % 3).set(key, text({ key, i }));
      for (const [i, key] of keys.entries()) {
        expect(await cluster.coordinator((i + 1) % 3).get(key)).to.equal(text({ key, i }));
        expect(await cluster.coordinator((i + 2) % 3).has(key)).to.equal(true);
      }
      expect(await cluster.coordinator(0).listAllKeys()).to.deep.equal([...keys].sort());
      expect(await cluster.coordinator(1).pop('__proto__')).to.equal(text({ key: '__proto__', i: 0 }));
      expect(await cluster.coordinator(2).has('__proto__')).to.equal(false);
      expect(await cluster.coordinator(2).listAllKeys()).to.deep.equal([
        'constructor',
        'hasOwnProperty',
        'toString',
      ]);
    });

    it('stores a set on all three replicas once the network is idle', async () => {
      await cluster.coordinator(1).set('everywhere', text([1, 2, 3]));
      const record = await replicated(cluster, 'everywhere');
      expect(record).to.include.keys('value', 'version');
      expect(await cluster.liveCount('everywhere')).to.equal(3);
      for (const stored of await cluster.records('everywhere')) expect(stored).to.deep.equal(record);
      expect(record.version.node, 'stamped by its coordinator').to.equal(cluster.address(1));
    });

    describe('locate', () => {
      it('gives the same three distinct members on every node', () => {
        for (let i = 0; i < 100; i++) {
          const key = `key:${i}`;
          const replicas = cluster.coordinator(0).locate(key);
          expect(replicas, key).to.have.length(3);
          expect(new Set(replicas).size, key).to.equal(3);
          expect(replicas, key).to.have.members([...cluster.addresses]);
          expect(cluster.coordinator(1).locate(key), key).to.deep.equal(replicas);
          expect(cluster.coordinator(2).locate(key), key).to.deep.equal(replicas);
        }
      });

      it('caps the replicas at the member count', async () => {
        const small = new TestCluster({ n: 2, replicas: 3 });
        expect(small.coordinator(0).locate('k')).to.have.members([...small.addresses]);
        expect(small.coordinator(1).locate('k')).to.deep.equal(small.coordinator(0).locate('k'));
        expect(small.coordinator(0).replicas).to.equal(2);
        expect((await small.coordinator(1).stats()).replicas).to.equal(2);
        await small.coordinator(0).set('k', text('v'));
        expect(await small.coordinator(1).get('k')).to.equal(text('v'));
      });
    });

    describe('listAllKeys', () => {
      it('lists every live key once, sorted, from any node', async () => {
        const keys = ['b', 'a', 'c:1', 'C', '10', '9', 'ä'];
        for (const [i, key] of keys.entries()) await cluster.coordinator(i % 3).set(key, text(i));
        await cluster.coordinator(2).set('a', text('again'));
        await cluster.coordinator(0).set('gone', text(true));
        await cluster.coordinator(1).pop('gone');
        const expected = [...keys].sort();
        for (let i = 0; i < 3; i++) {
          expect(await cluster.coordinator(i).listAllKeys(), `node ${i}`).to.deep.equal(expected);
        }
      });

      it('lists nothing on an empty cluster', async () => {
        expect(await cluster.coordinator(0).listAllKeys()).to.deep.equal([]);
      });
    });

    describe('stats', () => {
      it('counts the live keys and tombstones this node holds', async () => {
        for (const key of ['a', 'b', 'c']) await cluster.coordinator(0).set(key, text(key));
        await cluster.coordinator(1).pop('c');
        await replicated(cluster, 'c');
        for (let i = 0; i < 3; i++) {
          const stats = await cluster.coordinator(i).stats();
          expect(stats, `node ${i}`).to.include({
            address: cluster.address(i),
            keys: 2,
            tombstones: 1,
            members: 3,
            replicas: 3,
            version: KVDB_VERSION,
          });
          expect(stats.uptimeMs).to.be.at.least(0);
        }
      });

      it('counts only the keys a node replicates when replicas < members', async () => {
        const wide = new TestCluster({ n: 4, replicas: 2 });
        const keys = Array.from({ length: 40 }, (_, i) => `key:${i}`);
        for (const [i, key] of keys.entries()) await wide.coordinator(i % 4).set(key, text(i));
        await eventually(async () => (await wide.totalCounts()).live === 80, {
          what: 'two copies of every key',
        });
        for (let i = 0; i < 4; i++) {
          const owned = keys.filter((key) => wide.coordinator(i).locate(key).includes(wide.address(i)));
          expect((await wide.coordinator(i).stats()).keys, `node ${i}`).to.equal(owned.length);
        }
        expect(await wide.coordinator(3).listAllKeys()).to.deep.equal([...keys].sort());
      });
    });

    describe('replica calls', () => {
      it('answers peer.get from the local store', async () => {
        expect(await cluster.node(0).replica.handlePeer('peer.get', { key: 'none' })).to.equal(null);
      });
    });

    describe('versions', () => {
      it('orders a set after a set of the same key through another node', async () => {
        for (let round = 0; round < 30; round++) {
          const first = round % 3;
          const second = (round + 1) % 3;
          await cluster.coordinator(first).set('contended', text(`A${round}`));
          await cluster.coordinator(second).set('contended', text(`B${round}`));
          for (let i = 0; i < 3; i++) {
            expect(await cluster.coordinator(i).get('contended'), `round ${round}, node ${i}`).to.equal(
              text(`B${round}`),
            );
          }
        }
      });

      it('lets a later write through a node whose clock is 10 s behind win', async () => {
        const slow = skewedClock(-10_000);
        const skewed = new TestCluster({ clockFor: (index) => (index === 2 ? slow : undefined) });
        await skewed.coordinator(0).set('k', text('X'));
        await replicated(skewed, 'k');
        const putsBefore = skewed.network.callCount('peer.put');
        await skewed.coordinator(2).set('k', text('Y'));
        expect(
          skewed.network.callCount('peer.put') - putsBefore,
          'one round: the slow node’s clock moved past X when its replica stored X',
        ).to.equal(2);
        for (let i = 0; i < 3; i++)
          expect(await skewed.coordinator(i).get('k'), `node ${i}`).to.equal(text('Y'));
      });

      it('keeps a newer version a write finds on a replica: it does not stamp past it', async () => {
        const slow = skewedClock(-10_000);
        const skewed = new TestCluster({ clockFor: (index) => (index === 2 ? slow : undefined) });
        skewed.stop(2);
        await skewed.coordinator(0).set('k', text('X'));
        skewed.start(2);
        expect(await skewed.store(2).get('k'), 'the slow node never saw X').to.equal(undefined);

        const putsBefore = skewed.network.callCount('peer.put');
        await skewed.coordinator(2).set('k', text('Y'));
        expect(skewed.network.callCount('peer.put') - putsBefore, 'one round of puts').to.equal(2);
        // Y was stamped 10 s in the past and lost to X, as last-writer-wins decides; the slow node's clock has
        // moved past X, so its next write wins.
        for (let i = 0; i < 3; i++)
          expect(await skewed.coordinator(i).get('k'), `node ${i}`).to.equal(text('X'));
        await skewed.coordinator(2).set('k', text('Z'));
        for (let i = 0; i < 3; i++)
          expect(await skewed.coordinator(i).get('k'), `node ${i}`).to.equal(text('Z'));
      });

      it('never brings back a value a pop returned, even when the write of that value finishes after the pop', async () => {
        const cluster = new TestCluster();
        // Node 1's puts of "c" to the other replicas wait until the pop is done.
        let release = () => {};
        const gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        for (const index of [0, 2]) {
          const replica = cluster.nodes[index]?.replica;
          cluster.network.register(cluster.address(index), {
            handlePeer: async (method, params) => {
              const held =
                method === 'peer.put' &&
                (params as { record: { value?: unknown } }).record.value === text('c');
              if (held) await gate;
              return defined(replica).handlePeer(method, params);
            },
          });
        }
        const set = cluster.coordinator(1).set('k', text('c'));
        expect(await cluster.coordinator(2).pop('k'), 'the pop read "c" from node 1').to.equal(text('c'));
        release();
        await set;
        for (let i = 0; i < 3; i++) {
          expect(await cluster.coordinator(i).get('k'), `node ${i} after the set ended`).to.equal(text(null));
        }
        expect(await cluster.coordinator(0).pop('k'), 'a later pop').to.equal(text(null));
      });
    });

    it('rejects a replication factor that is not a positive integer, naming `replicas`', () => {
      const membership = new Membership('10.0.0.1:5878');
      const components = {
        membership,
        replica: new LocalReplica({ store: new MemoryStore(), ring: membership.ring, self: '10.0.0.1:5878' }),
        transport: new MemoryNetwork().transport('x'),
      };
      for (const replicas of [0, -1, 1.5, Number.NaN]) {
        expect(() => new Coordinator(components, { replicas }), String(replicas))
          .to.throw(TypeError)
          .with.property('message')
          .that.matches(/`replicas`/);
      }
      expect(new Coordinator(components, { replicas: 1 }).replicas).to.equal(1);
    });
  });

  describe('on a single node (its own only replica)', () => {
    const self = '10.0.0.1:5878';

    /** The two paths to a store: `getSync` and `mergeSync`, or promises only. */
    const STORE_KINDS: ReadonlyArray<readonly [string, () => Store]> = [
      ['a store that answers at once', () => new MemoryStore()],
      ['a store that answers later', () => new DelegatingStore()],
    ];

    function singleNode(store: Store = new MemoryStore()): Coordinator {
      const membership = new Membership(self);
      return new Coordinator(
        {
          membership,
          replica: new LocalReplica({ store, ring: membership.ring, self }),
          transport: new MemoryNetwork().transport(self),
        },
        { replicas: 3 },
      );
    }

    it('sets, gets, has and pops, through the store directly when it answers at once', async () => {
      const store = new MemoryStore();
      const promised: string[] = [];
      store.merge = () => Promise.reject(new Error(`${promised.push('merge')}`));
      store.get = () => Promise.reject(new Error(`${promised.push('get')}`));
      const node = singleNode(store);
      expect(node.locate('a')).to.deep.equal([self]);
      await node.set('a', text({ n: 1 }));
      expect(await node.get('a')).to.equal(text({ n: 1 }));
      expect(await node.has('a')).to.equal(true);
      expect(await node.pop('a')).to.equal(text({ n: 1 }));
      expect(await node.get('a', { default: text('gone') })).to.equal(text('gone'));
      expect((await node.listKeys()).keys).to.deep.equal([]);
      expect(promised, 'calls through the promise methods').to.deep.equal([]);
    });

    it('sets, gets, has and pops through the promises of a store that answers later', async () => {
      const store = new DelegatingStore();
      const calls: string[] = [];
      const { merge, get } = DelegatingStore.prototype;
      store.merge = (key, record) => merge.call(store, key, record).finally(() => calls.push('merge'));
      store.get = (key) => get.call(store, key).finally(() => calls.push('get'));
      const node = singleNode(store);
      await node.set('a', text({ n: 1 }));
      expect(await node.get('a')).to.equal(text({ n: 1 }));
      expect(await node.has('a')).to.equal(true);
      expect(await node.pop('a')).to.equal(text({ n: 1 }));
      expect(await node.get('a', { default: text('gone') })).to.equal(text('gone'));
      expect(calls).to.deep.equal(['merge', 'get', 'get', 'get', 'merge', 'get']);
    });

    for (const [kind, makeStore] of STORE_KINDS) {
      it(`answers replica writes and reads, one and many, from ${kind}`, async () => {
        const node = singleNode(makeStore());
        const at = (wall: number) => ({ wall, counter: 0, node: '10.0.0.9:5878' });
        expect(
          await node.replica.handlePeer('peer.put', {
            key: 'a',
            record: live(at(2_000), 'a2'),
          }),
        ).to.deep.equal({ stored: true });
        const puts = await node.replica.handlePeer('peer.put_many', {
          entries: [
            ['a', live(at(1_000), 'a1')],
            ['b', live(at(1_000), 'b1')],
            ['c', { version: at(1_000), deleted: true }],
          ],
        });
        expect(puts).to.deep.equal([{ stored: false, newer: at(2_000) }, { stored: true }, { stored: true }]);
        expect(await node.replica.handlePeer('peer.get', { key: 'a' })).to.deep.equal(live(at(2_000), 'a2'));
        expect(await node.replica.handlePeer('peer.get_many', { keys: ['b', 'c', 'none'] })).to.deep.equal([
          live(at(1_000), 'b1'),
          { version: at(1_000), deleted: true },
          null,
        ]);
      });
    }

    /** Makes every read fail with "disk gone" and every write with "disk full", through whichever methods it has. */
    function failing(store: Store): Store {
      store.merge = () => Promise.reject(new Error('disk full'));
      store.get = () => Promise.reject(new Error('disk gone'));
      if (store.mergeSync !== undefined) {
        store.mergeSync = () => {
          throw new Error('disk full');
        };
      }
      if (store.getSync !== undefined) {
        store.getSync = () => {
          throw new Error('disk gone');
        };
      }
      return store;
    }

    for (const [kind, makeStore] of STORE_KINDS) {
      it(`reports a failing store as a QuorumNotReachedError naming itself, for writes and reads: ${kind}`, async () => {
        const node = singleNode(failing(makeStore()));
        const write = await quorumFailure(node.set('a', text(1)));
        expect(write).to.include({ required: 1, acked: 0, timedOut: false });
        expect(write.failed).to.deep.equal([{ replica: self, reason: 'disk full' }]);
        const read = await quorumFailure(node.get('a'));
        expect(read.failed).to.deep.equal([{ replica: self, reason: 'disk gone' }]);
      });
    }

    it('keeps no digests alone, and builds them right when a second member joins', async () => {
      const store = new MemoryStore();
      const membership = new Membership(self);
      const replica = new LocalReplica({ store, ring: membership.ring, self });
      for (let i = 0; i < 50; i++) {
        await replica.merge(`key:${i}`, live({ wall: 1_000 + i, counter: 0, node: self }, i));
      }
      expect(replica.digests.combine([...Array(replica.digests.ring.segmentCount).keys()])).to.deep.equal([
        0, 0,
      ]);

      const grown = membership.ring.withMember('10.0.0.2:5878');
      replica.useRing(grown);
      const fresh = new LocalReplica({ store, ring: grown, self });
      const all = [...Array(grown.segmentCount).keys()];
      expect(replica.digests.combine(all)).to.deep.equal(fresh.digests.combine(all));
      expect(replica.digests.combine(all)).to.not.deep.equal([0, 0]);
      await replica.merge('key:0', live({ wall: 5_000, counter: 0, node: self }, 'new'));
      expect(replica.digests.combine(all)).to.deep.equal(
        new LocalReplica({ store, ring: grown, self }).digests.combine(all),
      );
    });
  });
});

function skewedClock(offsetMs: number): Clock {
  return { ...systemClock, now: () => systemClock.now() + offsetMs };
}
