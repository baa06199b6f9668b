#!/usr/bin/env node
// What a page of list_keys costs as a cluster grows: N nodes in one process on the in-memory network of the
// coordinator's tests, R=3, every key written to its replicas, then a whole listing paged through:
//
//   node packages/bench/scripts/list-keys-cost.mjs [--keys 30000] [--limit 1000] [--members 3,12,48,100]
//
// For each N it prints the pages, the replica calls per page, the entries the replicas read out and sent per key
// listed, and the bytes of their replies per page. A listing that asked every member for `limit` keys a page moved
// N × limit entries a page. Needs a build (`npm run build`).
import { parseArgs } from 'node:util';
import { TestCluster } from '../../coordinator/dist/test/utils/test-cluster.js';

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '30000' },
    limit: { type: 'string', default: '1000' },
    members: { type: 'string', default: '3,12,48,100' },
  },
});
const keyCount = Number(values.keys);
const limit = Number(values.limit);

for (const n of values.members.split(',').map(Number)) {
  const cluster = new TestCluster({ n, replicas: 3, timeoutMs: 5_000 });
  const index = new Map(cluster.addresses.map((address, i) => [address, i]));
  const version = { wall: 1, counter: 0, node: 'bench' };
  for (let i = 0; i < keyCount; i++) {
    const key = `key:${String(i).padStart(7, '0')}`;
    for (const replica of cluster.coordinator(0).locate(key)) {
      await cluster.coordinator(index.get(replica)).replica.merge(key, { value: JSON.stringify(i), version });
    }
  }
  const cost = { calls: 0, entries: 0, bytes: 0 };
  for (const node of cluster.nodes) {
    const handlers = node.coordinator.replica.handlers;
    const answer = handlers['peer.ring_keys'];
    handlers['peer.ring_keys'] = (params) => {
      const reply = answer(params);
      cost.calls++;
      cost.entries += reply.heads.length;
      cost.bytes += JSON.stringify(reply).length;
      return reply;
    };
  }
  let cursor;
  let pages = 0;
  let listed = 0;
  const started = performance.now();
  do {
    const page = await cluster.coordinator(pages % n).listKeys({ limit, cursor });
    pages++;
    listed += page.keys.length;
    cursor = page.cursor ?? undefined;
  } while (cursor !== undefined && pages < 100_000);
  const ms = performance.now() - started;
  if (listed !== keyCount) throw new Error(`listed ${listed} of ${keyCount} keys at N=${n}`);
  console.log(
    `N=${String(n).padStart(3)}: ${pages} pages of ${limit}, ${(cost.calls / pages).toFixed(1)} calls a page, ` +
      `${(cost.entries / listed).toFixed(2)} entries sent per key listed, ` +
      `${(cost.bytes / pages / 1024).toFixed(0)} KiB of replies a page ` +
      `(asking every member: ${n * Math.min(limit, Math.ceil((3 * keyCount) / n))} entries a page), ` +
      `${(ms / pages).toFixed(1)} ms a page in one process`,
  );
}
