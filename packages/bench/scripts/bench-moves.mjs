#!/usr/bin/env node
// The scale-out figures of BENCHMARKS.md: how long data takes to move, what it costs, and how long the nodes that
// serve meanwhile are held up. Starts a local kvdb cluster (real kvdb-server processes on 127.0.0.1, in memory),
// loads --keys keys of --value-size characters through node 0, then either
//
//   rebuild: kills the last node and starts it again empty, and waits until it holds its share again;
//   join:    starts one more node naming node 0 in -C, and waits until it serves reads and every node holds
//            exactly its share (R copies of every key in all, stable for 3 s).
//
// Meanwhile it pings every other node, one ping at a time per node, and reports the slowest answer: how long the
// move held a serving node up, as a client sees it (CPU contention on the host included), and the longest delay
// of a serving node's event loop (`stats.eventLoop`), if the move made it longer than the load had. Bytes moved are
// the loopback interface's, so run it on a quiet host.
//
//   node packages/bench/scripts/bench-moves.mjs --scenario rebuild|join [--nodes 3] [--replicas 3]
//     [--keys 100000] [--value-size 100] [--batch 100] [--timeout 300] [--json] [-- kvdb-server flags]
//
// Needs a build (`npm run build`) and Linux (/proc/net/dev).
import { readFileSync } from 'node:fs';
import { startLocalCluster } from '@kvdb/server';
import { loadKeys, rpcClient, scriptArgs } from './bench-common.mjs';

const { values, benchArgs: serverArgs } = scriptArgs({
  scenario: { type: 'string', default: 'rebuild' },
  nodes: { type: 'string', default: '3' },
  replicas: { type: 'string' },
  keys: { type: 'string', default: '100000' },
  'value-size': { type: 'string', default: '100' },
  batch: { type: 'string', default: '100' },
  timeout: { type: 'string', default: '300' },
  json: { type: 'boolean', default: false },
});
const scenario = values.scenario;
if (scenario !== 'rebuild' && scenario !== 'join') {
  throw new Error(`Expected --scenario to be rebuild or join, got ${scenario}`);
}
const nodes = Number(values.nodes);
const replicas = Number(values.replicas ?? nodes);
const keys = Number(values.keys);
const valueSize = Number(values['value-size']);
const timeoutMs = Number(values.timeout) * 1000;
const log = (line) => values.json || process.stderr.write(`${line}\n`);

let pinging = true;
const cluster = await startLocalCluster({ nodes, replicas, ready: 'members', args: serverArgs });
const stop = () => cluster.stop();
process.once('SIGINT', () => void stop().finally(() => process.exit(130)));
const clients = new Map();
const client = (index) => {
  const node = cluster.nodes[index];
  if (!clients.has(index)) clients.set(index, rpcClient(node.host, node.port, 2));
  return clients.get(index);
};
const call = async (index, method, params = {}) => {
  const reply = await client(index)({ jsonrpc: '2.0', id: 1, method, params });
  if (reply.error) throw new Error(`${method} failed: ${JSON.stringify(reply.error)}`);
  return reply.result;
};

try {
  log(
    `bench-moves: ${scenario}, ${nodes} node(s), R=${replicas}, ${keys.toLocaleString('en-US')} keys of ${valueSize} B`,
  );
  await loadKeys(client(0), { keys, valueSize, batch: Number(values.batch), log });
  const expectedCopies = Math.min(replicas, scenario === 'join' ? nodes + 1 : nodes) * keys;
  await until(
    'every copy written',
    async () => (await totalKeys(range(nodes))) === Math.min(replicas, nodes) * keys,
  );

  const loopDelay = async (indices) =>
    Promise.all(indices.map(async (index) => (await call(index, 'stats')).eventLoop.maxDelayMs));
  const delayBefore = await loopDelay(scenario === 'rebuild' ? range(nodes - 1) : range(nodes));
  const lo = loopbackBytes();
  const started = performance.now();
  let moving;
  let watched;
  if (scenario === 'rebuild') {
    moving = nodes - 1;
    await cluster.kill(moving);
    await cluster.startNode(moving);
    watched = range(nodes - 1);
  } else {
    moving = await cluster.addNode([cluster.addresses[0]]);
    watched = range(nodes);
  }
  const pings = watched.map((index) => pingLoop(index));
  const all = range(cluster.nodes.length);
  let servingMs;
  if (scenario === 'join') {
    const address = cluster.addresses[moving];
    await until('the new node serving reads everywhere', async () => {
      const lists = await Promise.all(all.map((index) => call(index, 'list_members')));
      return lists.every((members) => members.some((m) => m.address === address && m.phase === 'normal'));
    });
    servingMs = performance.now() - started;
  }
  let steadySince;
  let last = '';
  await until('every node holding exactly its share', async () => {
    const counts = await Promise.all(all.map(async (index) => (await call(index, 'stats')).keys));
    const total = counts.reduce((sum, n) => sum + n, 0);
    const now = counts.join(',');
    if (total !== expectedCopies || now !== last) {
      last = now;
      steadySince = undefined;
      return false;
    }
    steadySince ??= performance.now();
    return performance.now() - steadySince >= 3_000;
  });
  const doneMs = steadySince - started;
  const moved = loopbackBytes() - lo;
  pinging = false;
  const slowest = await Promise.all(pings);
  const delayAfter = await loopDelay(watched);
  const stats = await call(moving, 'stats');
  const figures = {
    scenario,
    nodes,
    replicas,
    keys,
    valueSize,
    ...(servingMs === undefined ? {} : { servingSeconds: servingMs / 1000 }),
    doneSeconds: doneMs / 1000,
    movedBytes: moved,
    slowestPingMs: Math.max(...slowest),
    slowestPingByNodeMs: Object.fromEntries(
      watched.map((index, i) => [cluster.addresses[index], slowest[i]]),
    ),
    // The longest the event loop of a serving node ran late, if the move made it longer than the load had.
    eventLoopMaxBeforeMs: Math.max(...delayBefore),
    eventLoopMaxMs: Math.max(...delayAfter.map((after, i) => (after > (delayBefore[i] ?? 0) ? after : 0))),
    handoff: stats.handoff,
    antiEntropy: stats.antiEntropy,
  };
  log(
    `${scenario}: ${servingMs === undefined ? '' : `serving reads after ${(servingMs / 1000).toFixed(1)} s, `}` +
      `every node holding its share after ${(doneMs / 1000).toFixed(1)} s; ${(moved / 1e6).toFixed(0)} MB over loopback; ` +
      `slowest ping of a serving node ${figures.slowestPingMs.toFixed(0)} ms, ` +
      `longest event-loop delay ${figures.eventLoopMaxMs > 0 ? `${figures.eventLoopMaxMs} ms` : `no longer than the load's (${figures.eventLoopMaxBeforeMs} ms)`}`,
  );
  if (values.json) process.stdout.write(`${JSON.stringify(figures)}\n`);
} finally {
  pinging = false;
  for (const rpc of clients.values()) await rpc.close();
  await stop();
}

/** Pings one node, one ping at a time, until the move is done; resolves with the slowest answer in ms. */
async function pingLoop(index) {
  let slowest = 0;
  while (pinging) {
    const start = performance.now();
    await call(index, 'ping').catch(() => undefined);
    slowest = Math.max(slowest, performance.now() - start);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return slowest;
}

async function totalKeys(indices) {
  const counts = await Promise.all(indices.map(async (index) => (await call(index, 'stats')).keys));
  return counts.reduce((sum, n) => sum + n, 0);
}

/** Polls `check` every 500 ms until it holds, or fails after --timeout seconds. */
async function until(what, check) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function range(count) {
  return Array.from({ length: count }, (_, index) => index);
}

/** Bytes received on the loopback interface so far. */
function loopbackBytes() {
  const line = readFileSync('/proc/net/dev', 'utf8')
    .split('\n')
    .find((row) => row.trim().startsWith('lo:'));
  return Number(line?.split(':')[1]?.trim().split(/\s+/)[0] ?? 0);
}
