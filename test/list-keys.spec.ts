import { InvalidParamsError, type KeyPage, KVClient } from '@kvdb/client';
import { ringKey } from '@kvdb/coordinator';
import { compareKeys, md5Hasher } from '@kvdb/core';
import { expect } from 'chai';
import { TestCluster } from './helpers/cluster.js';
import { rpc } from './helpers/raw.js';

/** Keys whose code point order differs from JavaScript's `<`: surrogate pairs sort after U+E000–U+FFFF. */
const UNICODE_KEYS = ['\ue000', '\uffff', '\u{10000}', '\u{1f600}', 'ä'];

/** A key's place in the order a cluster lists in: its ring position, then the key. */
const ringOrder = (key: string) => ringKey(md5Hasher.hash(key), key);
const inRingOrder = (keys: readonly string[]) =>
  [...keys].sort((a, b) => compareKeys(ringOrder(a), ringOrder(b)));

/**
 * Checks each page (size, ring order, after the cursor, advancing cursor) and returns every key, in the order the
 * pages gave them. A cluster's cursor is `r` and a ring key.
 */
async function walk(next: (cursor: string | null) => Promise<KeyPage>, limit: number): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | null = null;
  for (let pages = 1; ; pages++) {
    const page: KeyPage = await next(cursor);
    expect(page.keys.length, `page ${pages}`).to.be.at.most(limit);
    expect(page.keys).to.deep.equal(inRingOrder(page.keys));
    const previous: string | null = cursor;
    if (previous !== null) {
      for (const key of page.keys)
        expect(compareKeys(ringOrder(key), previous.slice(1)), key).to.be.greaterThan(0);
    }
    keys.push(...page.keys);
    if (page.cursor === null) return keys;
    if (previous !== null) expect(compareKeys(page.cursor, previous), 'cursor advances').to.be.greaterThan(0);
    cursor = page.cursor;
    if (pages > 10_000) throw new Error('the listing does not end');
  }
}

describe('paged list_keys on real processes (3 nodes, R=2)', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let expected: string[];

  before(async () => {
    cluster = await TestCluster.start({ size: 3, replicas: 2 });
    const items = Array.from({ length: 3_000 }, (_, i) => `item:${String(i).padStart(4, '0')}`);
    const keys = [...items, ...UNICODE_KEYS, 'p:a', 'p:b', 'p:c'];
    for (let i = 0; i < keys.length; i += 250) {
      await Promise.all(keys.slice(i, i + 250).map((key, j) => cluster.client(j % 3).set(key, j)));
    }
    // Every 7th item, and a run of 300 in a row: tombstones fill whole pages there.
    const popped = new Set(items.filter((_, i) => i % 7 === 0 || (i >= 1_200 && i < 1_500)));
    const toPop = [...popped];
    for (let i = 0; i < toPop.length; i += 250) {
      await Promise.all(toPop.slice(i, i + 250).map((key, j) => cluster.client(j % 3).pop(key)));
    }
    expected = keys.filter((key) => !popped.has(key)).sort(compareKeys);
    expect(expected.slice(-5)).to.deep.equal(['ä', '\ue000', '\uffff', '\u{10000}', '\u{1f600}']);
  });

  after(async () => {
    await cluster?.stop();
  });

  it('KVClient.listKeys returns every live key in code point order, from every node', async () => {
    for (let i = 0; i < 3; i++)
      expect(await cluster.client(i).listKeys(), `node ${i}`).to.deep.equal(expected);
    expect(await cluster.client(1).listKeys({ prefix: 'p:' })).to.deep.equal(['p:a', 'p:b', 'p:c']);
  });

  it('KVClient.listKeysPage walks every live key in pages of 100, once each, across nodes', async () => {
    let calls = 0;
    const keys = await walk(
      (cursor) => cluster.client(calls++ % 3).listKeysPage({ limit: 100, cursor: cursor ?? undefined }),
      100,
    );
    expect(keys).to.deep.equal(inRingOrder(expected));
    expect(calls).to.be.at.least(Math.ceil(expected.length / 100));
  });

  it('KVClient.keys iterates a prefix a page at a time', async () => {
    const seen: string[] = [];
    for await (const key of cluster.client(2).keys({ prefix: 'item:1', pageSize: 100 })) seen.push(key);
    expect(seen).to.deep.equal(inRingOrder(expected.filter((key) => key.startsWith('item:1'))));
    expect(seen.length).to.be.greaterThan(500);
  });

  it('pages through raw JSON-RPC, named and positional params, in pages of 100', async () => {
    const port = (i: number) => cluster.node(i).port;
    let calls = 0;
    const named = await walk(async (cursor) => {
      const reply = await rpc(
        port(calls++ % 3),
        'list_keys',
        cursor === null ? { limit: 100 } : { limit: 100, cursor },
      );
      if (reply.error) throw new Error(reply.error.message);
      return reply.result as KeyPage;
    }, 100);
    expect(named).to.deep.equal(inRingOrder(expected));
    expect(calls).to.be.at.least(Math.ceil(expected.length / 100));

    const positional = await walk(async (cursor) => {
      const reply = await rpc(port(0), 'list_keys', ['item:', 100, cursor]);
      if (reply.error) throw new Error(reply.error.message);
      return reply.result as KeyPage;
    }, 100);
    expect(positional).to.deep.equal(inRingOrder(expected.filter((key) => key.startsWith('item:'))));
  });

  it('still answers a plain array without limit and cursor', async () => {
    const port = cluster.node(1).port;
    expect((await rpc(port, 'list_keys')).result).to.deep.equal(expected);
    expect((await rpc(port, 'list_keys', {})).result).to.deep.equal(expected);
    expect((await rpc(port, 'list_keys', ['p:'])).result).to.deep.equal(['p:a', 'p:b', 'p:c']);
  });

  it('refuses bad list_keys params with -32602 over the wire', async () => {
    const port = cluster.node(0).port;
    for (const params of [
      { limit: 0 },
      { limit: 10_001 },
      { limit: 1.5 },
      { limit: '100' },
      { prefix: 1 },
      { cursor: '' },
      { cursor: 5 },
      { cursor: 'p:a' },
      { cursor: 'kp:a' },
      { page: 2 },
      ['p:', 10, 'p:a', 'more'],
    ]) {
      const reply = await rpc(port, 'list_keys', params);
      expect(reply.error?.code, JSON.stringify(params)).to.equal(-32602);
      expect(reply.error?.message).to.match(/`(limit|prefix|cursor|page)`|positional/);
    }
    const client = new KVClient({ port, timeoutMs: 5_000 });
    try {
      const error = await client.listKeysPage({ limit: 0 }).catch((caught: unknown) => caught);
      expect(error).to.be.instanceOf(InvalidParamsError);
    } finally {
      await client.close();
    }
  });
});
