import {
  compareKeys,
  isTombstone,
  type KeyVersion,
  type KVRecord,
  MAX_LIST_LIMIT,
  md5Hasher,
  newerRecord,
  TooLargeError,
  type Version,
} from '@kvdb/core';
import { expect } from 'chai';
import type { Coordinator, ListKeysOptions } from '../src/coordinator.js';
import { mergeKeyPages } from '../src/key-listing.js';
import { ringKey } from '../src/ring-listing.js';
import { defined, rejection } from './utils/assertions.js';
import { TestCluster } from './utils/test-cluster.js';
import { text } from './utils/values.js';

const version = (wall: number, node = 'n'): Version => ({ wall, counter: 0, node });
const kv = (key: string, wall: number, deleted = false): KeyVersion => [key, version(wall), deleted];

/** Code points in order; JavaScript's `<` would put the surrogate pairs (U+10000, U+1F600) before U+E000. */
const UNICODE_KEYS = ['a', 'z', '\u00e4', '\ud7ff', '\ue000', '\uffff', '\u{10000}', '\u{1f600}'];

interface Walk {
  keys: string[];
  pages: number;
  emptyPages: number;
}

/** What a listing pages in: key order on one member, ring order (position, then key) on more. */
type Order = (key: string) => string;
const keyOrder: Order = (key) => key;
const ringOrder: Order = (key) => ringKey(md5Hasher.hash(key), key);
const sorted = (keys: readonly string[], order: Order) =>
  [...keys].sort((a, b) => compareKeys(order(a), order(b)));

/**
 * Follows cursors from the first page to the last, asking the coordinators in turn (a cursor works on any node),
 * and checks what must hold of every page: at most `limit` keys, in order, after the cursor, cursors advancing.
 * A cursor is the place in that order (the key, or its ring key) after a one-character kind.
 */
async function walk(
  coordinators: readonly Coordinator[],
  options: Omit<ListKeysOptions, 'cursor'>,
  order: Order = coordinators.length > 1 ? ringOrder : keyOrder,
): Promise<Walk> {
  const result: Walk = { keys: [], pages: 0, emptyPages: 0 };
  let cursor: string | undefined;
  for (;;) {
    const page = await defined(coordinators[result.pages % coordinators.length]).listKeys({
      ...options,
      cursor,
    });
    result.pages += 1;
    if (page.keys.length === 0) result.emptyPages += 1;
    expect(page.keys.length, `page ${result.pages}`).to.be.at.most(options.limit ?? MAX_LIST_LIMIT);
    expect(page.keys, 'in order').to.deep.equal(sorted(page.keys, order));
    for (const key of page.keys) {
      if (cursor !== undefined)
        expect(compareKeys(order(key), cursor.slice(1)), `${key} after ${cursor}`).to.be.greaterThan(0);
    }
    result.keys.push(...page.keys);
    if (page.cursor === null) return result;
    if (cursor !== undefined)
      expect(compareKeys(page.cursor, cursor), 'the cursor advances').to.be.greaterThan(0);
    const last = page.keys.at(-1);
    if (last !== undefined) expect(compareKeys(page.cursor.slice(1), order(last))).to.be.at.least(0);
    cursor = page.cursor;
    if (result.pages > 100_000) throw new Error('the listing does not end');
  }
}

/** Live keys by the newest record among the stores of the given nodes: what a listing through them must return. */
function liveAmong(cluster: TestCluster, indexes: readonly number[], prefix = ''): string[] {
  const newest = new Map<string, KVRecord>();
  for (const index of indexes) {
    for (const [key, record] of cluster.store(index).entries())
      newest.set(key, newerRecord(newest.get(key), record));
  }
  return [...newest]
    .filter(([key, record]) => key.startsWith(prefix) && !isTombstone(record))
    .map(([key]) => key)
    .sort(compareKeys);
}

/**
 * Writes straight into the local replicas, so that they disagree as replicas do after missed writes: which of the
 * key's replicas (by position in its preference list) get the record.
 */
function writer(cluster: TestCluster) {
  let wall = 1_000;
  return async (key: string, value: string | null, positions: readonly number[] | 'all'): Promise<void> => {
    const record: KVRecord =
      value === null
        ? { deleted: true, version: version(wall++) }
        : { value: text(value), version: version(wall++) };
    const replicas = cluster.coordinator(0).locate(key);
    const chosen = positions === 'all' ? replicas : positions.map((p) => defined(replicas[p]));
    for (const address of chosen) {
      await cluster.coordinator(cluster.addresses.indexOf(address)).replica.merge(key, record);
    }
  };
}

/** Replicas that disagree in every way a listing must see through, and long runs of tombstones. */
async function disagree(cluster: TestCluster): Promise<void> {
  const write = writer(cluster);
  const pad = (i: number) => String(i).padStart(2, '0');
  for (let i = 0; i < 20; i++) await write(`user:${pad(i)}`, 'v', 'all');
  for (let i = 0; i < 40; i++) {
    await write(`tomb:${pad(i)}`, 'v', 'all');
    await write(`tomb:${pad(i)}`, null, 'all');
  }
  for (let i = 0; i < 10; i++) {
    // A pop that reached only the first replica: the others still hold the older value.
    await write(`lag:${pad(i)}`, 'v', 'all');
    await write(`lag:${pad(i)}`, null, [0]);
    // A set that reached only the first replica.
    await write(`miss:${pad(i)}`, 'v', [0]);
    // Popped everywhere, then set again on one replica only.
    await write(`back:${pad(i)}`, 'v', 'all');
    await write(`back:${pad(i)}`, null, 'all');
    await write(`back:${pad(i)}`, 'again', [1]);
  }
  for (const key of UNICODE_KEYS) await write(`u:${key}`, 'v', 'all');
  for (let i = 0; i < 30; i++) {
    await write(`zz:${pad(i)}`, 'v', 'all');
    await write(`zz:${pad(i)}`, null, [0, 1]);
  }
}

describe('paged key listing', () => {
  describe('mergeKeyPages', () => {
    it('ends the page at the smallest last key among full answers, and continues after it', () => {
      const page = mergeKeyPages(
        [
          [kv('a', 2, true), kv('c', 1), kv('e', 1)],
          [kv('b', 1, true), kv('d', 1, true), kv('f', 1)],
          [kv('a', 1), kv('g', 1)],
        ],
        3,
      );
      // f and g may have keys before them that the first member did not get to list.
      expect(page).to.deep.equal({ keys: ['c', 'e'], cursor: 'e' });
    });

    it('cuts at `limit` live keys and continues after the last one returned', () => {
      const page = mergeKeyPages([[kv('b', 1), kv('d', 1)], [kv('a', 1), kv('c', 1)], [kv('e', 1)]], 3);
      expect(page).to.deep.equal({ keys: ['a', 'b', 'c'], cursor: 'c' });
    });

    it('keeps each key at its newest version, so a newer tombstone hides a value and an older one does not', () => {
      const page = mergeKeyPages(
        [
          [kv('a', 1), kv('b', 5, true), kv('c', 1, true)],
          [kv('a', 2, true), kv('b', 4), kv('c', 3)],
        ],
        10,
      );
      expect(page).to.deep.equal({ keys: ['c'], cursor: null });
    });

    it('returns no keys but the boundary as the cursor when tombstones fill the page', () => {
      const page = mergeKeyPages([[kv('a', 1, true), kv('b', 1, true)], [kv('a', 1, true)]], 2);
      expect(page).to.deep.equal({ keys: [], cursor: 'b' });
    });

    it('says the listing is complete when no answer is full', () => {
      expect(mergeKeyPages([[kv('a', 1)], [], [kv('b', 1)]], 2)).to.deep.equal({
        keys: ['a', 'b'],
        cursor: null,
      });
      expect(mergeKeyPages([[], []], 1)).to.deep.equal({ keys: [], cursor: null });
    });

    it('orders keys and picks the boundary by code point, not by UTF-16 unit', () => {
      expect(mergeKeyPages([[kv('\u{10000}', 1)], [kv('\ue000', 1)]], 1)).to.deep.equal({
        keys: ['\ue000'],
        cursor: '\ue000',
      });
      // The first member may hold U+E001 next, so the page must end at U+E000, not at U+10000.
      const boundary = mergeKeyPages(
        [
          [kv('a', 1, true), kv('\ue000', 1)],
          [kv('b', 1, true), kv('\u{10000}', 1)],
        ],
        2,
      );
      expect(boundary).to.deep.equal({ keys: ['\ue000'], cursor: '\ue000' });
      expect(mergeKeyPages([[kv('\u{1f600}', 1)], [kv('\uffff', 1)], [kv('a', 1)]], 5)).to.deep.equal({
        keys: ['a', '\uffff', '\u{1f600}'],
        cursor: null,
      });
    });
  });

  for (const { n, replicas } of [
    { n: 3, replicas: 3 },
    { n: 4, replicas: 2 },
  ]) {
    describe(`Coordinator.listKeys on ${n} nodes, R=${replicas}, with replicas that disagree`, () => {
      let cluster: TestCluster;
      let expected: string[];

      before(async () => {
        cluster = new TestCluster({ n, replicas });
        await disagree(cluster);
        expected = liveAmong(
          cluster,
          cluster.nodes.map((_, i) => i),
        );
      });

      it('knows what it expects: every disagreement resolved by the newest version', () => {
        expect(expected.filter((key) => key.startsWith('user:'))).to.have.length(20);
        expect(expected.filter((key) => key.startsWith('miss:') || key.startsWith('back:'))).to.have.length(
          20,
        );
        expect(expected.filter((key) => /^(tomb|lag|zz):/.test(key))).to.deep.equal([]);
        expect(expected.filter((key) => key.startsWith('u:'))).to.deep.equal(
          UNICODE_KEYS.map((key) => `u:${key}`),
        );
      });

      for (const limit of [1, 2, 3, 7, 50, MAX_LIST_LIMIT]) {
        it(`walks the whole keyspace in pages of ${limit}: every live key once, in order`, async () => {
          const coordinators = cluster.nodes.map((node) => node.coordinator);
          const result = await walk(coordinators, { limit });
          expect(result.keys).to.deep.equal(sorted(expected, ringOrder));
          if (limit <= 3) expect(result.emptyPages, 'pages eaten by tombstones').to.be.greaterThan(0);
          if (limit === MAX_LIST_LIMIT) expect(result.pages).to.equal(1);
        });
      }

      it('lists only the keys under a prefix, paged or not', async () => {
        for (const prefix of ['user:', 'back:', 'u:', 'u:\ue000', 'lag:', 'tomb:0', 'nothing']) {
          const want = expected.filter((key) => key.startsWith(prefix));
          for (const limit of [1, 4, 100]) {
            const result = await walk([cluster.coordinator(0)], { prefix, limit }, ringOrder);
            expect(result.keys, `${prefix} in pages of ${limit}`).to.deep.equal(sorted(want, ringOrder));
          }
          expect(await cluster.coordinator(1).listAllKeys({ prefix }), prefix).to.deep.equal(want);
        }
        expect(await cluster.coordinator(0).listKeys({ prefix: 'nothing', limit: 5 })).to.deep.equal({
          keys: [],
          cursor: null,
        });
      });

      it('skips a run of tombstones with empty pages whose cursor still advances', async () => {
        const page = await cluster.coordinator(0).listKeys({ prefix: 'tomb:', limit: 3 });
        expect(page.keys).to.deep.equal([]);
        expect(page.cursor)
          .to.be.a('string')
          .that.matches(/^r[0-9a-f]{12}tomb:/);
        // Replicas stop at their third tombstone of a round: the page ends at one of them, before the last.
        const tombstones = sorted(
          Array.from({ length: 40 }, (_, i) => `tomb:${String(i).padStart(2, '0')}`),
          ringOrder,
        ).map(ringOrder);
        const at = tombstones.indexOf(page.cursor?.slice(1) ?? '');
        expect(at, `${page.cursor} is a tombstone's place`).to.be.within(2, tombstones.length - 2);
        const next = await cluster
          .coordinator(1)
          .listKeys({ prefix: 'tomb:', limit: 3, cursor: page.cursor ?? '' });
        expect(
          compareKeys(next.cursor ?? '\u{10ffff}', page.cursor ?? ''),
          'the cursor advances',
        ).to.be.greaterThan(0);
      });

      it('lists the same keys with a member down, from the members that answer', async () => {
        const down = n - 1;
        cluster.stop(down);
        try {
          const answering = cluster.nodes.map((_, i) => i).filter((i) => i !== down);
          const want = liveAmong(cluster, answering);
          const result = await walk(
            answering.map((i) => cluster.coordinator(i)),
            { limit: 3 },
            ringOrder,
          );
          expect(result.keys).to.deep.equal(sorted(want, ringOrder));
          expect(want.filter((key) => key.startsWith('user:'))).to.have.length(20);
        } finally {
          cluster.start(down);
        }
      });
    });
  }

  describe('Coordinator.listKeys where each key has one replica (R=1 on 3 nodes)', () => {
    it('merges different keys from different members in ring order, and lists them all in code point order', async () => {
      const cluster = new TestCluster({ n: 3, replicas: 1 });
      const keys = [...UNICODE_KEYS, 'b', '\ue001', '\u{10001}', '\u{1f601}', '~'];
      for (const key of keys) await cluster.coordinator(0).set(key, text(key));
      const owners = new Set(keys.map((key) => cluster.coordinator(0).locate(key)[0]));
      expect(owners.size, 'keys spread over several members').to.be.greaterThan(1);
      const want = ['a', 'b', 'z', '~', '\u00e4', '\ud7ff', '\ue000', '\ue001', '\uffff'];
      want.push('\u{10000}', '\u{10001}', '\u{1f600}', '\u{1f601}');
      for (const limit of [1, 2, 3, 5, 100]) {
        expect(
          (await walk([cluster.coordinator(limit % 3)], { limit }, ringOrder)).keys,
          `limit ${limit}`,
        ).to.deep.equal(sorted(want, ringOrder));
      }
      expect(await cluster.coordinator(2).listAllKeys()).to.deep.equal(want);
    });
  });

  describe('Coordinator.listAllKeys', () => {
    it('gathers a listing longer than one page, page by page', async () => {
      const cluster = new TestCluster({ n: 1, replicas: 1 });
      const count = MAX_LIST_LIMIT * 2 + 500;
      const keys = Array.from({ length: count }, (_, i) => `k${String(i).padStart(6, '0')}`);
      for (const key of keys)
        await cluster.coordinator(0).replica.merge(key, { value: text(1), version: version(1) });
      expect(await cluster.coordinator(0).listAllKeys()).to.deep.equal(keys);
      const peerPage = await cluster.coordinator(0).replica.handlePeer('peer.keys', {});
      expect(peerPage, 'peer.keys without params: one default page').to.have.length(MAX_LIST_LIMIT);
      expect(peerPage[0]).to.deep.equal([keys[0], version(1), false]);
    });

    it('refuses, with TooLargeError, a listing longer than `maxKeys`, telling to page', async () => {
      const cluster = new TestCluster({ n: 3, replicas: 3 });
      for (let i = 0; i < 12; i++) await cluster.coordinator(i % 3).set(`key:${i}`, text(i));
      await cluster.coordinator(0).pop('key:0');
      expect(await cluster.coordinator(1).listAllKeys({ maxKeys: 11 })).to.have.length(11);
      const error = await rejection(cluster.coordinator(1).listAllKeys({ maxKeys: 10 }));
      expect(error).to.be.instanceOf(TooLargeError);
      expect((error as TooLargeError).code).to.equal(1005);
      expect((error as TooLargeError).message)
        .to.match(/more than 10 keys/)
        .and.match(/`limit`.*`cursor`/);
      expect(await cluster.coordinator(1).listAllKeys({ prefix: 'key:1', maxKeys: 10 })).to.deep.equal([
        'key:1',
        'key:10',
        'key:11',
      ]);
    });

    it('refuses a page limit outside 1..MAX_LIST_LIMIT', async () => {
      const coordinator = new TestCluster({ n: 1, replicas: 1 }).coordinator(0);
      for (const limit of [0, -1, 1.5, MAX_LIST_LIMIT + 1, Number.NaN]) {
        expect(await rejection(coordinator.listKeys({ limit })), String(limit)).to.be.instanceOf(RangeError);
      }
    });
  });
});
