import {
  compareKeys,
  type KeyVersion,
  MemoryStore,
  md5Hasher,
  type PeerParams,
  RING_SIZE,
  type RingKeysReply,
} from '@kvdb/core';
import { expect } from 'chai';
import { RING_SCAN_LIMIT } from '../src/defaults.js';
import { KeyPositions } from '../src/key-positions.js';
import { parseRingKey, ringKey, ringKeysPage } from '../src/ring-listing.js';
import { defined } from './utils/assertions.js';
import { TestCluster } from './utils/test-cluster.js';
import { live, text } from './utils/values.js';

const version = { wall: 1, counter: 0, node: 'n' };
/** When the replica answers: after `expired:` keys' expiry, before `expiring:` keys'. */
const NOW = 1_000;
const ringOrder = (key: string) => ringKey(md5Hasher.hash(key), key);

describe('listing in ring order', () => {
  describe('ring keys', () => {
    it('put the position first, as 12 hex digits, so that their code point order is ring order', () => {
      expect(ringKey(0xab, 'k')).to.equal('0000000000abk');
      expect(ringKey(RING_SIZE - 1, '')).to.equal('ffffffffffff');
      expect(parseRingKey('0000000000abk')).to.deep.equal(['k', 0xab]);
      expect(parseRingKey('0000000000ab')).to.deep.equal(['', 0xab]);
      for (const bad of ['', 'k', '0000000000aBk', '00000000000gk', '-00000000001k']) {
        expect(parseRingKey(bad), bad).to.equal(undefined);
      }
      expect(compareKeys(ringKey(1, 'z'), ringKey(2, 'a'))).to.be.lessThan(0);
    });
  });

  describe('ringKeysPage (a replica answering peer.ring_keys)', () => {
    const store = new MemoryStore();
    const positions = new KeyPositions();
    const keys = Array.from({ length: RING_SCAN_LIMIT * 1.5 }, (_, i) =>
      i % 10 === 0 ? `few:${i}` : `many:${i}`,
    );
    before(() => {
      for (const key of keys) {
        store.mergeSync(key, key === 'many:1' ? { version, deleted: true } : live(version, 1));
        positions.add(key, md5Hasher.hash(key));
      }
    });
    const page = (params: PeerParams<'peer.ring_keys'>): RingKeysReply =>
      ringKeysPage(positions, store, (key) => md5Hasher.hash(key), params, NOW);
    const all: Array<[number, number]> = [[0, RING_SIZE - 1]];

    it('answers the keys of its ranges in ring order, tombstones included, and stops at the limit', () => {
      const ranges: Array<[number, number]> = [
        [0, RING_SIZE / 4],
        [RING_SIZE / 2, RING_SIZE - 1],
      ];
      const inRanges = keys
        .filter((key) =>
          ranges.some(([low, high]) => md5Hasher.hash(key) >= low && md5Hasher.hash(key) <= high),
        )
        .map(ringOrder)
        .sort(compareKeys);
      const first = page({ ranges, limit: 100 });
      expect(first.heads.map(([placed]) => placed)).to.deep.equal(inRanges.slice(0, 100));
      expect(first.stop).to.equal(inRanges[99]);
      const next = page({ ranges, limit: 100, after: first.stop ?? '' });
      expect(next.heads.map(([placed]) => placed)).to.deep.equal(inRanges.slice(100, 200));
      const tombstone = page({ ranges: all, limit: 10_000 }).heads.find(([placed]) =>
        placed.endsWith('many:1'),
      );
      expect(tombstone?.[2], 'the tombstone is listed as one').to.equal(true);
    });

    it('reports a record expired by the time it answers as deleted, by ring order and by prefix', () => {
      const few = new MemoryStore();
      const placed = new KeyPositions();
      for (const [key, expires] of [
        ['expired:a', NOW],
        ['expiring:a', NOW + 1],
      ] as const) {
        few.mergeSync(key, live(version, 1, expires));
        placed.add(key, md5Hasher.hash(key));
      }
      for (const prefix of [undefined, 'ex']) {
        const params = { ranges: all, limit: 10, prefix };
        const { heads } = ringKeysPage(placed, few, (key) => md5Hasher.hash(key), params, NOW);
        const deleted = new Map(heads.map(([ring, , gone]) => [defined(parseRingKey(ring))[0], gone]));
        expect(deleted, `prefix ${prefix}`).to.deep.equal(
          new Map([
            ['expired:a', true],
            ['expiring:a', false],
          ]),
        );
      }
    });

    it('reads at most RING_SCAN_LIMIT keys a call when a prefix matches a large share of them', () => {
      const reply = page({ ranges: all, limit: RING_SCAN_LIMIT * 2, prefix: 'many:' });
      expect(reply.stop, 'stopped short').to.be.a('string');
      const every = keys.map(ringOrder).sort(compareKeys);
      expect(every.indexOf(reply.stop ?? '')).to.equal(RING_SCAN_LIMIT - 1);
      expect(reply.heads.every(([placed]) => defined(parseRingKey(placed))[0].startsWith('many:'))).to.equal(
        true,
      );
    });

    it('looks a prefix with few matches up in key order, with the same answer a walk would give', () => {
      const want = keys
        .filter((key) => key.startsWith('few:'))
        .map(ringOrder)
        .sort(compareKeys);
      expect(want.length).to.be.lessThan(RING_SCAN_LIMIT);
      const whole = page({ ranges: all, limit: 10_000, prefix: 'few:' });
      expect(whole).to.deep.equal({
        heads: want.map((placed): KeyVersion => [placed, version, false]),
        stop: null,
      });
      const part = page({ ranges: [[0, RING_SIZE / 2]], limit: 10, prefix: 'few:', after: want[3] });
      const inPart = want.filter((placed) => defined(parseRingKey(placed))[1] <= RING_SIZE / 2);
      expect(part.heads.map(([placed]) => placed)).to.deep.equal(inPart.slice(4, 14));
      expect(part.stop).to.equal(inPart[13]);
    });
  });

  describe('what a page costs', () => {
    /** Keys each member reported over a whole listing, through every page: what a listing moves. */
    async function reported(
      n: number,
      count: number,
      limit: number,
    ): Promise<{ keys: string[]; heads: number }> {
      const cluster = new TestCluster({ n, replicas: 3 });
      for (let i = 0; i < count; i++) await cluster.coordinator(i % n).set(`key:${i}`, text(i));
      let heads = 0;
      for (const node of cluster.nodes) {
        const handlers = node.coordinator.replica.handlers as Record<string, unknown>;
        const answer = node.coordinator.replica.handlers['peer.ring_keys'];
        handlers['peer.ring_keys'] = (params: PeerParams<'peer.ring_keys'>) => {
          const reply = answer(params) as RingKeysReply;
          heads += reply.heads.length;
          return reply;
        };
      }
      const keys: string[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages < 1_000; pages++) {
        const page = await cluster.coordinator(pages % n).listKeys({ limit, cursor });
        keys.push(...page.keys);
        if (page.cursor === null) return { keys, heads };
        cursor = page.cursor;
      }
      throw new Error('the listing does not end');
    }

    it('asks each segment of R replicas only, so it moves about R entries a key however many members there are', async () => {
      const count = 3_000;
      const want = Array.from({ length: count }, (_, i) => `key:${i}`).sort(compareKeys);
      for (const n of [3, 12]) {
        const { keys, heads } = await reported(n, count, 500);
        expect([...keys].sort(compareKeys), `${n} members`).to.deep.equal(want);
        // Every replica of each segment answers (3 per key), plus what replicas read past a page's end.
        expect(heads / count, `entries moved per key, ${n} members`).to.be.within(3, 3.6);
      }
    });
  });
});
