#!/usr/bin/env node
// Whether a durable node holds more than its memory: starts a 3-node cluster (-R 3) of kvdb-server processes on
// 127.0.0.1, each with a --data-dir in a temporary directory, node 0 (the node under test) with
// NODE_OPTIONS=--max-old-space-size=256. Writes --keys values of --value-size characters through the cluster (the
// three nodes take turns; JSON-RPC batches of --batch sets, --concurrency batches in flight), while it samples node
// 0's resident memory from /proc. Then kill -9s node 0, starts it again on its data dir, times until it answers
// ping, and reads every key back through it (get, consistency one: a node asks its own replica first), reporting
// any value missing or wrong, and its memory meanwhile. Values are random text (a pool of random strings, each
// value its key's number and one of them), so that LevelDB cannot compress them away.
//
//   node packages/bench/scripts/durable-capacity.mjs [--keys 200000] [--value-size 10240] [--batch 20]
//     [--concurrency 8] [--heap-mb 256] [--json]
//
// Needs a build (`npm run build`), Linux (/proc) and about keys × value size × 3 of free disk. The temporary
// directories are removed at the end, also when a node fails.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePorts, SERVER_BIN } from '@kvdb/server';
import { rpcClient } from './bench-common.mjs';

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '200000' },
    'value-size': { type: 'string', default: '10240' },
    batch: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '8' },
    'heap-mb': { type: 'string', default: '256' },
    json: { type: 'boolean', default: false },
  },
});
const [keys, valueSize, batch, concurrency, heapMb] = [
  'keys',
  'value-size',
  'batch',
  'concurrency',
  'heap-mb',
].map((name) => {
  const number = Number(values[name]);
  if (!(Number.isSafeInteger(number) && number >= 1)) {
    throw new Error(`Expected --${name} to be a whole number from 1 up, got ${values[name]}`);
  }
  return number;
});
const log = (line) => values.json || process.stderr.write(`${line}\n`);
const mb = (kb) => Math.round(kb / 1024);

const pool = Array.from({ length: 101 }, () => randomBytes(valueSize).toString('base64').slice(0, valueSize));
const keyOf = (i) => `key:${i}`;
const valueFor = (i) => `${i}:${pool[i % pool.length]}`.slice(0, valueSize);

const root = mkdtempSync(join(tmpdir(), 'kvdb-capacity-'));
const host = '127.0.0.1';
const ports = await freePorts(3, undefined, host);
const members = ports.map((port) => `${host}:${port}`).join(',');
/** Each node's process, by index; a node's output is kept for when it fails. */
const nodes = ports.map((port, index) => ({ index, port, child: undefined, output: '' }));

function start(node, env = {}) {
  // Info for its start line, which says how many records it loaded from its data dir and how long that took.
  const level = node.index === 0 ? 'info' : 'warn';
  const args = ['-H', host, '-P', String(node.port), '-C', members, '-R', '3', '--log-level', level];
  args.push('--data-dir', join(root, String(node.port)));
  node.output = '';
  node.child = spawn(process.execPath, [SERVER_BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const keep = (chunk) => {
    node.output = (node.output + chunk).slice(-4_000);
  };
  node.child.stdout.on('data', keep);
  node.child.stderr.on('data', keep);
  node.exited = new Promise((resolve) =>
    node.child.once('exit', (code, signal) => resolve({ code, signal })),
  );
}

/** Resolves once the node answers ping; fails if it exits first or takes over `timeoutMs`. */
async function ready(node, timeoutMs = 120_000) {
  const rpc = rpcClient(host, node.port, 1);
  const deadline = Date.now() + timeoutMs;
  let exit;
  void node.exited.then((how) => {
    exit = how;
  });
  try {
    for (;;) {
      if (exit !== undefined)
        throw new Error(`node ${node.index} exited (${JSON.stringify(exit)}):\n${node.output}`);
      const pong = await rpc({ jsonrpc: '2.0', id: 1, method: 'ping' }).catch(() => undefined);
      if (pong?.result !== undefined) return;
      if (Date.now() > deadline)
        throw new Error(`node ${node.index} not ready in ${timeoutMs} ms:\n${node.output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await rpc.close();
  }
}

/** Node 0's memory now, in kB, from /proc: resident (anonymous and file-backed) and its peak since it started. */
function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN);
  return { rss: field('VmRSS'), anon: field('RssAnon'), file: field('RssFile'), peak: field('VmHWM') };
}

/** Samples node 0's memory every 250 ms until stopped; resolves with the highest of each figure. */
function sampleMemory(pid) {
  const highest = { rss: 0, anon: 0, file: 0, peak: 0 };
  const take = () => {
    try {
      for (const [name, kb] of Object.entries(memoryOf(pid))) highest[name] = Math.max(highest[name], kb);
    } catch {
      // The process is gone; its exit is reported elsewhere.
    }
  };
  const timer = setInterval(take, 250);
  return () => {
    clearInterval(timer);
    take();
    return highest;
  };
}

/** Runs `count` items through `work(from, to)` in steps of `batch`, `concurrency` at a time; logs the progress. */
async function inBatches(what, count, work) {
  let next = 0;
  let done = 0;
  const started = performance.now();
  let logged = started;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, lane) => {
      while (next < count) {
        const from = next;
        const to = Math.min(count, from + batch);
        next = to;
        await work(from, to, lane);
        done += to - from;
        if (performance.now() - logged > 10_000) {
          logged = performance.now();
          const rate = done / ((logged - started) / 1_000);
          log(
            `  ${what} ${done.toLocaleString('en-US')} of ${count.toLocaleString('en-US')} (${Math.round(rate)}/s)`,
          );
        }
      }
    }),
  );
  return (performance.now() - started) / 1_000;
}

// However this script ends, it leaves no node running.
process.on('exit', () => {
  for (const node of nodes) node.child?.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));

const report = { keys, valueSize, heapMb };
const clients = [];
try {
  const heapLimit = { NODE_OPTIONS: `--max-old-space-size=${heapMb}` };
  for (const node of nodes) start(node, node.index === 0 ? heapLimit : {});
  await Promise.all(nodes.map((node) => ready(node)));
  const underTest = nodes[0];
  log(`3 nodes on ${members}, node 0 (pid ${underTest.child.pid}) with --max-old-space-size=${heapMb}`);

  const writers = ports.map((port) => rpcClient(host, port, concurrency));
  clients.push(...writers);
  let failedSets = 0;
  let firstFailure;
  const stopWriteSampling = sampleMemory(underTest.child.pid);
  const writeSeconds = await inBatches('set', keys, async (from, to, lane) => {
    const calls = [];
    for (let i = from; i < to; i++) {
      calls.push({ jsonrpc: '2.0', id: i, method: 'set', params: { key: keyOf(i), value: valueFor(i) } });
    }
    // A set that fails (a quorum not reached in time on a busy machine) is tried again, as a client would.
    for (let attempt = 1; calls.length > 0; attempt++) {
      const replies = await writers[lane % writers.length](calls);
      const failed = new Set(replies.filter((reply) => reply.error !== undefined).map((reply) => reply.id));
      for (const reply of replies) if (reply.error !== undefined) firstFailure ??= reply.error;
      failedSets += failed.size;
      if (attempt === 5) throw new Error(`sets still failed after 5 tries: ${JSON.stringify(firstFailure)}`);
      calls.splice(0, calls.length, ...calls.filter((call) => failed.has(call.id)));
    }
  });
  const writeMemory = stopWriteSampling();
  report.write = {
    seconds: Math.round(writeSeconds),
    setsPerSecond: Math.round(keys / writeSeconds),
    failedSets,
    firstFailure,
    rssMaxMb: mb(writeMemory.rss),
    rssPeakMb: mb(writeMemory.peak),
    anonMaxMb: mb(writeMemory.anon),
    fileMaxMb: mb(writeMemory.file),
  };
  log(
    `wrote ${keys.toLocaleString('en-US')} values of ${valueSize} B in ${report.write.seconds} s (${report.write.setsPerSecond} sets/s, ${failedSets} failed and tried again)`,
  );
  if (firstFailure !== undefined) log(`  the first failure: ${JSON.stringify(firstFailure)}`);
  log(
    `  node 0 resident: at most ${report.write.rssMaxMb} MB sampled (anonymous ${report.write.anonMaxMb} MB, file-backed ${report.write.fileMaxMb} MB), peak ${report.write.rssPeakMb} MB (VmHWM)`,
  );

  // Each write reached a quorum; wait until node 0 holds every key (it may have missed some, which hints and
  // anti-entropy bring it), so that what it serves after the kill comes from its own disk.
  const settleStart = performance.now();
  const statsOf = async (rpc) => (await rpc({ jsonrpc: '2.0', id: 0, method: 'stats' })).result;
  let held = (await statsOf(writers[0])).keys;
  while (held < keys && performance.now() - settleStart < 120_000) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    held = (await statsOf(writers[0])).keys;
  }
  report.write.heldBeforeKill = held;
  log(
    `  node 0 held ${held.toLocaleString('en-US')} keys ${((performance.now() - settleStart) / 1_000).toFixed(1)} s after the last write`,
  );

  underTest.child.kill('SIGKILL');
  await underTest.exited;
  const restartStart = performance.now();
  start(underTest, heapLimit);
  await ready(underTest);
  report.restartSeconds = Number(((performance.now() - restartStart) / 1_000).toFixed(2));
  report.loaded = /\(\d+ records and \d+ hints loaded in [\d.]+ s\)/.exec(underTest.output)?.[0];
  log(
    `kill -9 and restart of node 0: answered ping ${report.restartSeconds} s after its start ${report.loaded ?? ''}`,
  );

  const reader = rpcClient(host, underTest.port, concurrency);
  clients.push(reader);
  const stats = await statsOf(reader);
  const stopReadSampling = sampleMemory(underTest.child.pid);
  const missing = [];
  const wrong = [];
  const readSeconds = await inBatches('get', keys, async (from, to) => {
    const calls = [];
    for (let i = from; i < to; i++) {
      calls.push({ jsonrpc: '2.0', id: i, method: 'get', params: { key: keyOf(i), consistency: 'one' } });
    }
    for (const reply of await reader(calls)) {
      if (reply.result === null || reply.error !== undefined) missing.push(keyOf(reply.id));
      else if (reply.result !== valueFor(reply.id)) wrong.push(keyOf(reply.id));
    }
  });
  const readMemory = stopReadSampling();
  report.read = {
    keysAfterRestart: stats.keys,
    seconds: Math.round(readSeconds),
    getsPerSecond: Math.round(keys / readSeconds),
    missing: missing.length,
    wrong: wrong.length,
    firstMissing: missing.slice(0, 5),
    firstWrong: wrong.slice(0, 5),
    rssMaxMb: mb(readMemory.rss),
    anonMaxMb: mb(readMemory.anon),
    fileMaxMb: mb(readMemory.file),
  };
  log(
    `node 0 after restart holds ${stats.keys.toLocaleString('en-US')} keys; read all back through it in ${report.read.seconds} s (${report.read.getsPerSecond} gets/s)`,
  );
  log(
    `  missing ${missing.length}, wrong ${wrong.length}${missing.length + wrong.length > 0 ? `: ${[...missing, ...wrong].slice(0, 5).join(', ')}` : ''}`,
  );
  log(
    `  node 0 resident meanwhile: at most ${report.read.rssMaxMb} MB (anonymous ${report.read.anonMaxMb} MB, file-backed ${report.read.fileMaxMb} MB)`,
  );
  if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exitCode = missing.length + wrong.length === 0 ? 0 : 1;
} finally {
  await Promise.all(clients.map((client) => client.close()));
  for (const node of nodes) node.child?.kill('SIGKILL');
  await Promise.all(nodes.map((node) => node.exited));
  rmSync(root, { recursive: true, force: true });
}
