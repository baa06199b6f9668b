import { type KVRecord, MemoryStore, type MergeResult, type Store } from '@kvdb/core';
import { expect } from 'chai';
import { KVNode } from '../src/node.js';
import { freePort, post, until, warnings } from './utils/node-harness.js';

/** One JSON-RPC call on a connection of its own; resolves with the reply, rejects with the connection's error. */
async function call(
  port: number,
  method: string,
  params: object,
): Promise<{ result?: unknown; error?: unknown }> {
  const { json } = await post(port, JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }));
  return json as { result?: unknown; error?: unknown };
}

describe('KVNode.stop', () => {
  it('refuses new connections at once, lets a request in flight finish, and closes the store last', async () => {
    const events: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    // A store that waits for I/O (no getSync or mergeSync), whose writes wait for the test to let them through.
    const inner = new MemoryStore();
    const store: Store = {
      get: (key) => inner.get(key),
      async merge(key: string, record: KVRecord): Promise<MergeResult> {
        events.push('merge started');
        await gate;
        const result = await inner.merge(key, record);
        events.push('merge done');
        return result;
      },
      remove: (key, version) => inner.remove(key, version),
      headSync: (key) => inner.headSync(key),
      scanKeys: (options) => inner.scanKeys(options),
      counts: () => inner.counts(),
      async close() {
        events.push('store closed');
        await inner.close();
      },
    };
    const port = await freePort();
    const log = warnings();
    const node = await KVNode.start({ host: '127.0.0.1', port }, { store, logger: log });

    const set = call(port, 'set', { key: 'k', value: 'v' });
    await until('the set to reach the store', () => events.includes('merge started'));
    const stopped = node.stop().then(() => events.push('stopped'));

    let refused: unknown;
    await call(port, 'ping', {}).catch((error: unknown) => {
      refused = error;
    });
    expect((refused as { code?: string } | undefined)?.code).to.equal('ECONNREFUSED');
    expect(events).to.deep.equal(['merge started']);

    release();
    expect(await set).to.deep.include({ result: true });
    await stopped;
    expect(events).to.deep.equal(['merge started', 'merge done', 'store closed', 'stopped']);
    expect(log.lines).to.deep.equal([]);
  });
});
