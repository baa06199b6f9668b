#!/usr/bin/env node
// KVClient routed by key beside one node: the throughput of a client given one node of a 5-node cluster (R=3),
// given every node and taking turns (`routeByKey: false`), and routed by key, beside the same load sent by a bare
// keep-alive loop (node:http, no KVClient) to one node and to every node in turn, and by that loop to five bare
// reference servers (no replication: packages/bench/src/reference-server.ts), one and all five.
//
//   node packages/bench/scripts/client-routing.mjs [--rounds 5] [--calls 3000] [--concurrency 16]
//
// The load is test/client-failover.spec.ts's: `--calls` calls, half sets and half gets of 500 keys, `--concurrency`
// at a time. The seven loads take turns, round after round, so that a busy minute on a shared host slows each
// alike; each line gives the calls a second, and the CPU a call cost the client (this process) and the servers
// (user + system from /proc/PID/stat, which moves in 10 ms ticks), and the write syscalls of the servers a call
// (messages sent, to clients and to peers). Needs a build (`npm run build`) and Linux.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import { KVClient } from '@kvdb/client';
import { startLocalCluster } from '@kvdb/server';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    calls: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '16' },
  },
});
const rounds = Number(values.rounds);
const calls = Number(values.calls);
const concurrency = Number(values.concurrency);

/** A JSON-RPC `set`/`get` caller over one keep-alive agent that sends each call to the next of `targets`. */
function bareLoop(targets) {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let turn = 0;
  let id = 1;
  const call = (method, params) =>
    new Promise((resolve, reject) => {
      const [host, port] = targets[turn++ % targets.length].split(':');
      const body = JSON.stringify({ jsonrpc: '2.0', id: id++, method, params });
      const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
      const req = request({ host, port: Number(port), method: 'POST', path: '/', agent, headers }, (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          const reply = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          if (reply.error) reject(new Error(`${method}: ${reply.error.message}`));
          else resolve(reply.result);
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  return {
    set: (key, value) => call('set', { key, value }),
    get: (key) => call('get', { key }),
    close: async () => agent.destroy(),
  };
}

/**
 * Per process, the CPU time (user + system) it has used in ms, from /proc/PID/stat (Linux's USER_HZ is 100: a tick
 * is 10 ms), and its write syscalls, from /proc/PID/io: a message it sent, or part of one.
 */
function usage(pids) {
  return pids.map((pid) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const writes = /syscw:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1];
    return { cpuMs: (Number(fields[11]) + Number(fields[12])) * 10, writes: Number(writes) };
  });
}

/** Runs `total` calls through `kv`, `concurrency` at a time: calls a second, µs of CPU and server writes a call. */
async function measure(kv, total, pids) {
  const serversBefore = usage(pids);
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    for (let n = next++; n < total; n = next++) {
      if (n % 2 === 0) await kv.set(`route:${n % 500}`, n);
      else await kv.get(`route:${(n - 1) % 500}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1_000;
  const client = process.cpuUsage(clientBefore);
  const servers = usage(pids).reduce(
    (sum, now, index) => ({
      cpuMs: sum.cpuMs + now.cpuMs - (serversBefore[index]?.cpuMs ?? 0),
      writes: sum.writes + now.writes - (serversBefore[index]?.writes ?? 0),
    }),
    { cpuMs: 0, writes: 0 },
  );
  return {
    rate: total / seconds,
    clientUs: (client.user + client.system) / total,
    serversUs: (servers.cpuMs * 1_000) / total,
    serverWrites: servers.writes / total,
  };
}

const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)] ?? 0;
const range = (list) => `${Math.round(Math.min(...list))}–${Math.round(Math.max(...list))}`;

const { spawnReferenceServer, stopAllChildren } = await import('../dist/src/child-process.js');
const cluster = await startLocalCluster({
  nodes: 5,
  replicas: 3,
  args: ['--timings', 'local'],
  ready: 'members',
});
const closers = [];
process.once(
  'SIGINT',
  () => void Promise.all([cluster.stop(), stopAllChildren()]).finally(() => process.exit(130)),
);
try {
  const bare = await Promise.all(cluster.addresses.map(() => spawnReferenceServer()));
  const bareAddresses = bare.map(({ host, port }) => `${host}:${port}`);
  const nodePids = cluster.nodes.map((node) => node.process?.pid);
  const barePids = bare.map(({ child }) => child.process.pid);
  const [first] = cluster.addresses;
  const [host, port] = first.split(':');
  const routed = new KVClient({ nodes: cluster.addresses });
  const loads = [
    ['KVClient, one node given', new KVClient({ host, port: Number(port) }), nodePids],
    ['KVClient, every node in turn', new KVClient({ nodes: cluster.addresses, routeByKey: false }), nodePids],
    ['KVClient, routed by key', routed, nodePids],
    ['bare loop, one node', bareLoop([first]), nodePids],
    ['bare loop, every node in turn', bareLoop(cluster.addresses), nodePids],
    ['bare loop, one reference server', bareLoop([bareAddresses[0]]), barePids],
    ['bare loop, five reference servers', bareLoop(bareAddresses), barePids],
  ];
  closers.push(...loads.map(([, kv]) => kv));
  const deadline = Date.now() + 10_000;
  while (!(await routed.refresh()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const width = Math.max(...loads.map(([name]) => name.length));
  process.stdout.write(
    `client-routing: 5 nodes, R=3; ${calls} calls (half sets, half gets) ${concurrency} at a time, ${rounds} rounds\n`,
  );
  // Unmeasured: every load's code paths compiled, on the client and on the nodes.
  for (const [, kv, pids] of loads) await measure(kv, 1_000, pids);
  const results = loads.map(() => []);
  for (let round = 1; round <= rounds; round++) {
    for (const [index, [name, kv, pids]] of loads.entries()) {
      const result = await measure(kv, calls, pids);
      results[index].push(result);
      process.stdout.write(
        `round ${round}  ${name.padEnd(width)}  ${String(Math.round(result.rate)).padStart(6)} calls/s  ` +
          `client ${Math.round(result.clientUs)} µs/call, servers ${Math.round(result.serversUs)} µs/call, ` +
          `${result.serverWrites.toFixed(1)} writes/call\n`,
      );
    }
  }
  process.stdout.write('\nover the rounds: calls/s (range, median); CPU and server writes a call (median)\n');
  for (const [index, [name]] of loads.entries()) {
    const list = results[index];
    const rates = list.map((r) => r.rate);
    process.stdout.write(
      `${name.padEnd(width)}  ${range(rates).padStart(11)}/s, median ${Math.round(median(rates))}/s; ` +
        `client ${Math.round(median(list.map((r) => r.clientUs)))} µs, ` +
        `servers ${Math.round(median(list.map((r) => r.serversUs)))} µs, ` +
        `${median(list.map((r) => r.serverWrites)).toFixed(1)} writes\n`,
    );
  }
} finally {
  await Promise.all(closers.map((kv) => kv.close()));
  await Promise.all([cluster.stop(), stopAllChildren()]);
}
