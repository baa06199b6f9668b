#!/usr/bin/env node
// The memory figures of BENCHMARKS.md: starts one in-memory kvdb-server (R=1) on 127.0.0.1, reads its resident
// memory empty, loads --keys keys with --value-size-character values (JSON-RPC batches of `set`), reads it again,
// waits for it to come to rest and reads it once more (see `restingRss`), then pages through every key with
// `list_keys` while another connection pings the node, and reports the slowest ping: how long a listing held the
// node up. --data-dir gives the node a data dir in a temporary directory, removed afterwards.
//
//   node packages/bench/scripts/bench-memory.mjs [--keys 1000000] [--value-size 100] [--batch 100] [--page 10000] [--rest 150]
//     [--data-dir] [--json]
//
// Needs a build (`npm run build`) and Linux (/proc for the resident set size).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startLocalCluster } from '@kvdb/server';
import { loadKeys, rpcClient } from './bench-common.mjs';

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '1000000' },
    'value-size': { type: 'string', default: '100' },
    page: { type: 'string', default: '10000' },
    batch: { type: 'string', default: '100' },
    rest: { type: 'string', default: '150' },
    'data-dir': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const keys = Number(values.keys);
const valueSize = Number(values['value-size']);
const pageSize = Number(values.page);
const BATCH = Number(values.batch);
const restSeconds = Number(values.rest);
if (!(Number.isInteger(restSeconds) && restSeconds >= 0)) {
  throw new Error(
    `Expected --rest to be a whole number of seconds (0 to skip the reading), got ${values.rest}`,
  );
}

const cluster = await startLocalCluster({ nodes: 1, replicas: 1, dataDir: values['data-dir'] || undefined });
const { host, port, process: child } = cluster.nodes[0];
const pid = child.pid;
const rpc = rpcClient(host, port);
const log = (line) => values.json || process.stderr.write(`${line}\n`);

try {
  const empty = await settledRss(pid);
  log(`empty node: ${mb(empty)} resident`);

  const loadStart = performance.now();
  await loadKeys(rpc, { keys, valueSize, batch: BATCH, log });
  const loadSeconds = (performance.now() - loadStart) / 1000;
  const justLoaded = rss(pid);
  const loaded = await settledRss(pid);
  const stats = (await rpc({ jsonrpc: '2.0', id: 0, method: 'stats' })).result;
  if (stats.keys !== keys) throw new Error(`the node holds ${stats.keys} keys, not ${keys}`);
  log(
    `${keys.toLocaleString('en-US')} keys loaded in ${loadSeconds.toFixed(1)} s: ${mb(justLoaded)} resident`,
  );
  log(`  steady for 20 s, likely before any collection since the load: ${mb(loaded)} resident`);
  log(`  beyond the empty node: ${mb(loaded - empty)} (${Math.round((loaded - empty) / keys)} B a key)`);
  log(`  of which JavaScript heap in use: ${mb(stats.memory.heapUsed)}`);
  const rest = restSeconds === 0 ? undefined : await restingRss(pid, loaded, restSeconds);
  if (rest) {
    log(
      `  at rest, ${rest.seconds} s later: ${mb(rest.rss)} resident, ${mb(rest.rss - empty)} beyond the empty node ` +
        `(${Math.round((rest.rss - empty) / keys)} B a key)`,
    );
  }

  // Ping all the while a client pages through every key; the slowest ping is the longest the node was held up.
  let listing = true;
  let slowestPing = 0;
  let pings = 0;
  const pinger = (async () => {
    while (listing && pings < 1_000_000) {
      const start = performance.now();
      await rpc({ jsonrpc: '2.0', id: 0, method: 'ping' });
      slowestPing = Math.max(slowestPing, performance.now() - start);
      pings++;
    }
  })();
  const listStart = performance.now();
  let listed = 0;
  let slowestPage = 0;
  let cursor = null;
  try {
    for (let page = 0; page <= keys / pageSize + 1; page++) {
      const start = performance.now();
      const params = cursor === null ? { limit: pageSize } : { limit: pageSize, cursor };
      const reply = await rpc({ jsonrpc: '2.0', id: 0, method: 'list_keys', params });
      if (reply.error) throw new Error(`list_keys failed: ${JSON.stringify(reply.error)}`);
      slowestPage = Math.max(slowestPage, performance.now() - start);
      listed += reply.result.keys.length;
      cursor = reply.result.cursor;
      if (cursor === null) break;
    }
  } finally {
    listing = false;
  }
  await pinger;
  const listSeconds = (performance.now() - listStart) / 1000;
  if (listed !== keys) throw new Error(`list_keys listed ${listed} keys, not ${keys}`);
  log(
    `list_keys, pages of ${pageSize.toLocaleString('en-US')}: all ${listed.toLocaleString('en-US')} keys in ${listSeconds.toFixed(1)} s; ` +
      `slowest page ${slowestPage.toFixed(0)} ms; slowest of ${pings} pings meanwhile ${slowestPing.toFixed(1)} ms`,
  );
  if (values.json) {
    const figures = {
      keys,
      valueSize,
      emptyRssBytes: empty,
      loadedRssBytes: loaded,
      heapUsedBytes: stats.memory.heapUsed,
      bytesPerKey: Math.round((loaded - empty) / keys),
      ...(rest && {
        restRssBytes: rest.rss,
        restSeconds: rest.seconds,
        restBytesPerKey: Math.round((rest.rss - empty) / keys),
      }),
      loadSeconds,
      listSeconds,
      pageSize,
      slowestPageMs: slowestPage,
      slowestPingMs: slowestPing,
    };
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  }
} finally {
  await rpc.close();
  await cluster.stop();
}

/**
 * The node's resident set size once it has stayed within 0.5% for 20 s, polled every second for at most 90 s. On
 * a node just loaded this is before V8's next collection: see `restingRss`.
 */
async function settledRss(pid) {
  let last = rss(pid);
  let steady = 0;
  for (let waited = 0; waited < 90_000 && steady < 20; waited += 1_000) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const now = rss(pid);
    steady = Math.abs(now - last) < last / 200 ? steady + 1 : 0;
    last = now;
  }
  return last;
}

/**
 * The resident set size at rest. V8 collects the loading's last garbage, and shrinks the young generation that
 * the load grew, only at its next collections, and an idle node allocates little: they come with its periodic
 * work (the tombstone round, every 60 s by default, reads every key's head). Polls every second until the size
 * has fallen below `from` by 2% and then not fallen another 1% for 20 s, or for `seconds` at most; returns the
 * last reading.
 */
async function restingRss(pid, from, seconds) {
  let now = from;
  let low = from;
  let steady = 0;
  let waited = 0;
  while (waited < seconds && !(low < from * 0.98 && steady >= 20)) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    waited++;
    now = rss(pid);
    steady = now < low * 0.99 ? 0 : steady + 1;
    low = Math.min(low, now);
  }
  return { rss: now, seconds: waited };
}

function rss(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match[1]) * 1024;
}

function mb(bytes) {
  return `${(bytes / 1e6).toFixed(0)} MB`;
}
