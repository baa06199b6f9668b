import {
  compareKeys,
  type KeyPage,
  type KeyVersion,
  MAX_LIST_LIMIT,
  MAX_UNPAGED_KEYS,
  TooLargeError,
  toJsonText,
} from '@kvdb/core';
import { defined } from '@kvdb/core/testing';
import { expect } from 'chai';
import type { Limits } from '../src/config.js';
import { listKeys } from '../src/methods/list-keys.js';
import { peerMethods } from '../src/methods/peer.js';
import type { MethodContext } from '../src/methods/types.js';
import { call, refusal } from './utils/method-calls.js';
import { SELF, singleNode } from './utils/method-harness.js';

const LIMITS: Limits = { maxKeyBytes: 16, maxValueBytes: 1_000, maxBodyBytes: 10_000, maxBatch: 10 };
const version = { wall: 1, counter: 0, node: SELF };

const peerKeys = defined(
  peerMethods.find((method) => method.name === 'peer.keys'),
  'the peer.keys method',
);

describe('list_keys params and results', () => {
  let context: MethodContext;
  const keys = ['a:1', 'a:2', 'a:3', 'b:1', 'b:2', 'c', '\ue000', '\u{1f600}'];

  before(async () => {
    const node = singleNode(LIMITS);
    context = node.context;
    for (const key of [...keys, 'gone']) await node.coordinator.set(key, toJsonText(key));
    await node.coordinator.pop('gone');
  });

  it('answers a plain sorted array of every live key without limit and cursor, as before paging', async () => {
    for (const raw of [undefined, {}, [], [null], { prefix: null }, { prefix: '' }]) {
      expect(await call(listKeys, raw, context), JSON.stringify(raw)).to.deep.equal(keys);
    }
    expect(await call(listKeys, { prefix: 'a:' }, context)).to.deep.equal(['a:1', 'a:2', 'a:3']);
    expect(await call(listKeys, ['b:'], context)).to.deep.equal(['b:1', 'b:2']);
    expect(await call(listKeys, ['zzz'], context)).to.deep.equal([]);
  });

  it('answers one page, {keys, cursor}, once limit or cursor is given, named or positional', async () => {
    // On one member the cursor is `k` and the last key: pages go in key order.
    expect(await call(listKeys, { limit: 3 }, context)).to.deep.equal({
      keys: ['a:1', 'a:2', 'a:3'],
      cursor: 'ka:3',
    });
    // A full page cannot tell whether more keys follow; the next one, empty, says the listing is complete.
    expect(await call(listKeys, { prefix: 'a:', limit: 3 }, context)).to.deep.equal({
      keys: ['a:1', 'a:2', 'a:3'],
      cursor: 'ka:3',
    });
    expect(await call(listKeys, { prefix: 'a:', limit: 3, cursor: 'ka:3' }, context)).to.deep.equal({
      keys: [],
      cursor: null,
    });
    expect(await call(listKeys, { prefix: 'a:', limit: 4 }, context)).to.deep.equal({
      keys: ['a:1', 'a:2', 'a:3'],
      cursor: null,
    });
    expect(await call(listKeys, { cursor: 'kb:1' }, context)).to.deep.equal({
      keys: ['b:2', 'c', '\ue000', '\u{1f600}'],
      cursor: null,
    });
    expect(await call(listKeys, [null, 2, 'ka:3'], context)).to.deep.equal({
      keys: ['b:1', 'b:2'],
      cursor: 'kb:2',
    });
  });

  it('walks every live key in pages of any size, positional params, without repeats', async () => {
    for (const limit of [1, 2, 3, 5]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page = (await call(listKeys, ['', limit, cursor], context)) as KeyPage;
        expect(page.keys.length).to.be.at.most(limit);
        seen.push(...page.keys);
        cursor = page.cursor;
      } while (cursor !== null);
      expect(seen, `pages of ${limit}`).to.deep.equal(keys);
    }
  });

  it('refuses wrong params with -32602 and a message that names the param', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ limit: 0 }, /`limit` to be an integer from 1 to 10000, got 0/],
      [{ limit: MAX_LIST_LIMIT + 1 }, /`limit` to be an integer from 1 to 10000/],
      [{ limit: -5 }, /`limit`/],
      [{ limit: 2.5 }, /`limit`/],
      [{ limit: 1e21 }, /`limit`/],
      [{ limit: '10' }, /`limit` to be an integer from 1 to 10000, got "10"/],
      [{ limit: true }, /`limit`/],
      [{ limit: [5] }, /`limit`/],
      [{ prefix: 5 }, /`prefix` to be a string, got 5/],
      [{ prefix: ['a'] }, /`prefix`/],
      [{ prefix: '\u00e9'.repeat(9) }, /`prefix` to be a string of at most 16 UTF-8 bytes/],
      [{ cursor: '' }, /`cursor` to be a non-empty string/],
      [{ cursor: 7 }, /`cursor`/],
      [{ cursor: { key: 'a' } }, /`cursor`/],
      [{ cursor: 'x'.repeat(30) }, /`cursor` to be a non-empty string of at most 29 UTF-8 bytes/],
      [{ cursor: 'a:3' }, /`cursor` to be a cursor that list_keys returned/],
      [{ cursor: 'k' }, /`cursor` to be a cursor that list_keys returned/],
      [
        { cursor: 'r0000000000ffa' },
        /`cursor` is from a listing begun before the cluster grew .* list again from the start/,
      ],
      [['a', 1, 'a:1', 'extra'], /at most 3 positional params \(prefix, limit, cursor\)/],
      [{ after: 'a' }, /Unknown param `after`.*`prefix`, `limit`, `cursor`/],
      ['a', /object or an array/],
    ];
    for (const [raw, message] of cases) {
      const error = await refusal(call(listKeys, raw, context));
      expect(error.message, JSON.stringify(raw)).to.match(message);
    }
  });
});

describe('list_keys beyond MAX_UNPAGED_KEYS', function () {
  this.timeout(30_000);

  it('refuses the unpaged form with TooLargeError telling to page, and still serves pages', async () => {
    const { coordinator, context } = singleNode(LIMITS);
    const name = (i: number) => `k${String(i).padStart(6, '0')}`;
    for (let i = 0; i <= MAX_UNPAGED_KEYS; i++)
      await coordinator.replica.merge(name(i), { value: toJsonText(i), version });
    try {
      await call(listKeys, {}, context);
      expect.fail('expected list_keys to refuse');
    } catch (error) {
      expect(error).to.be.instanceOf(TooLargeError);
      expect((error as TooLargeError).code).to.equal(1005);
      expect((error as TooLargeError).message).to.equal(
        'list_keys would return more than 100,000 keys; pass `limit` and page through them with `cursor`',
      );
    }
    expect(await call(listKeys, { prefix: 'k00' }, context)).to.have.length(10_000);
    const page = (await call(
      listKeys,
      { limit: MAX_LIST_LIMIT, cursor: `k${name(50_000)}` },
      context,
    )) as KeyPage;
    expect(page.keys).to.have.length(MAX_LIST_LIMIT);
    expect(page.keys[0]).to.equal(name(50_001));
    expect(page.cursor).to.equal(`k${name(60_000)}`);
  });
});

describe('peer.keys params', () => {
  let context: MethodContext;

  before(async () => {
    const node = singleNode(LIMITS);
    context = node.context;
    for (const key of ['b', 'a', '\u{10000}', '\ue000', 'ab']) await node.coordinator.set(key, toJsonText(1));
    await node.coordinator.pop('ab');
  });

  const keysOf = (page: unknown) =>
    (page as KeyVersion[]).map(([key, , deleted]) => (deleted ? `-${key}` : key));

  it('answers a page of keys with tombstones, in code point order, and still answers {} as before', async () => {
    expect(keysOf(await call(peerKeys, {}, context))).to.deep.equal(['a', '-ab', 'b', '\ue000', '\u{10000}']);
    expect(keysOf(await call(peerKeys, { prefix: 'a', limit: 5 }, context))).to.deep.equal(['a', '-ab']);
    expect(keysOf(await call(peerKeys, { after: 'b', limit: 1 }, context))).to.deep.equal(['\ue000']);
    expect(keysOf(await call(peerKeys, ['', '\ue000', 10], context))).to.deep.equal(['\u{10000}']);
    const sorted = keysOf(await call(peerKeys, {}, context)).map((key) => key.replace(/^-/, ''));
    expect(sorted).to.deep.equal([...sorted].sort(compareKeys));
  });

  it('refuses malformed scans with -32602', async () => {
    for (const raw of [
      { limit: 0 },
      { limit: MAX_LIST_LIMIT + 1 },
      { limit: '5' },
      { after: '' },
      { after: 1 },
      { prefix: null, after: 'x'.repeat(17) },
      { prefix: 3 },
      { segments: [] },
    ]) {
      await refusal(call(peerKeys, raw, context));
    }
  });
});

describe('peer.range and peer.get_many params', () => {
  const method = (name: string) =>
    defined(
      peerMethods.find((definition) => definition.name === name),
      name,
    );
  const [peerRange, peerGetMany] = [method('peer.range'), method('peer.get_many')];
  let context: MethodContext;
  let ring: string;
  let segments: number[];
  const keys = ['a', 'b', 'c', 'd', 'e'];

  before(async () => {
    const node = singleNode(LIMITS);
    context = node.context;
    for (const key of keys) await node.coordinator.set(key, toJsonText(key.repeat(100)));
    const digests = context.node.replica.digests;
    ring = digests.id;
    segments = [...new Set(keys.map((key) => digests.ring.segmentOf(key)))];
  });

  const keysOf = (page: unknown) => (page as KeyVersion[]).map(([key]) => key);

  it('answers every key without a page, and a page after `after` with `limit`', async () => {
    expect(keysOf(await call(peerRange, { ring, segments }, context))).to.have.members(keys);
    expect(keysOf(await call(peerRange, { ring, segments, limit: 2 }, context))).to.deep.equal(['a', 'b']);
    expect(keysOf(await call(peerRange, [ring, segments, 'b', 2], context))).to.deep.equal(['c', 'd']);
    expect(keysOf(await call(peerRange, { ring, segments, after: 'd' }, context))).to.deep.equal(['e']);
  });

  it('caps a get_many reply at maxBytes, always answering the first key', async () => {
    expect(await call(peerGetMany, { keys }, context)).to.have.length(5);
    expect(await call(peerGetMany, { keys, maxBytes: 400 }, context)).to.have.length(2);
    const [first] = (await call(peerGetMany, { keys, maxBytes: 1 }, context)) as Array<{ value: string }>;
    expect(first?.value).to.equal(JSON.stringify('a'.repeat(100)));
  });

  it('refuses malformed pages with -32602', async () => {
    for (const raw of [
      { ring, segments, limit: 0 },
      { ring, segments, limit: MAX_LIST_LIMIT + 1 },
      { ring, segments, after: '' },
      { ring, segments, after: 'x'.repeat(17) },
      { ring, segments, cursor: 'a' },
    ]) {
      await refusal(call(peerRange, raw, context));
    }
    for (const raw of [
      { keys, maxBytes: 0 },
      { keys, maxBytes: 1.5 },
      { keys, maxBytes: '10' },
    ]) {
      await refusal(call(peerGetMany, raw, context));
    }
  });
});
