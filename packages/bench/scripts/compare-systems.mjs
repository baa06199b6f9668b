// The systems compare-etcd.mjs measures (not a script to run): a 3-member etcd cluster, kvdb nodes of a given
// build, and the bare node:http reference server, each started on free 127.0.0.1 ports, loaded, checked and
// stopped the same way. Every process and temporary directory is tracked, so `stopEverything()` (or this process
// exiting) leaves none behind.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, startLocalCluster } from '@kvdb/server';
import { Pool } from 'undici';
import { loadKeys, rpcClient } from './bench-common.mjs';

const HOST = '127.0.0.1';
const MIB = 1_048_576;
/** How many keys each system is loaded with, and the measured load draws from. */
export const KEYS = 10_000;
/** etcd's largest recommended backend quota: room for 10,000 values of 256 KB and the writes of a round. */
export const ETCD_QUOTA_BYTES = 8 * 1_024 * MIB;

/** Processes started and not yet exited; systems started and not yet stopped. */
const processes = new Set();
const running = new Set();
/** Every data dir lives in here, made at once, so that nothing is left behind even by a crash. */
const tempRoot = mkdtempSync(join(tmpdir(), 'compare-etcd-'));

process.once('exit', () => {
  for (const child of processes) child.kill('SIGKILL');
  try {
    rmSync(tempRoot, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    // A process killed a moment ago may still be writing; there is nothing more to do on the way out.
  }
});

/** Stops every system and process this process started that is still there, and removes its data dirs. */
export async function stopEverything() {
  await Promise.allSettled([
    ...[...running].map((system) => system.stop()),
    ...[...processes].map((child) => stopProcess(child)),
  ]);
  await rm(tempRoot, { recursive: true, force: true, maxRetries: 3 });
}

/**
 * Spawns `command` with `args`, tracked until it exits; `tail()` is the end of what it wrote, for error messages.
 * `exited` resolves with its exit code (or signal name).
 */
export function spawnTracked(command, args) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let tail = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
    tail = (tail + chunk).slice(-4_000);
  });
  child.stderr.on('data', (chunk) => {
    tail = (tail + chunk).slice(-4_000);
  });
  processes.add(child);
  const exited = new Promise((resolve) => {
    child.once('error', (error) => resolve(error.message));
    child.once('close', (code, signal) => resolve(code ?? signal));
  }).finally(() => processes.delete(child));
  return { child, exited, stdout: () => stdout, tail: () => tail.trim() };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
function stopProcess(child, graceMs = 3_000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  return exited.finally(() => clearTimeout(timer));
}

const gib = (bytes) => (bytes / 1_024 / MIB).toFixed(1);
const makeTempDir = (prefix) => mkdtemp(join(tempRoot, prefix));
const removeTempDir = (dir) => rm(dir, { recursive: true, force: true, maxRetries: 3 });

/** Registers a started system, whose `stop()` then unregisters it. */
function track(system, stop) {
  const tracked = {
    ...system,
    stop: async () => {
      running.delete(tracked);
      await stop();
    },
  };
  running.add(tracked);
  return tracked;
}

/** The value the load writes for key `key:i`: `i:` padded with `v` to `size` bytes, as bench-common's loadKeys. */
const loadValue = (i, size) => `${i}:`.padEnd(size, 'v');
/** A value of `size` bytes that no load writes, for the check. */
const checkValue = (size) => `check-${randomBytes(6).toString('hex')}:`.padEnd(size, 'c');

/**
 * A 3-member etcd cluster, each member with its own data dir in a temporary directory. Ready when every member's
 * `/health` says so (a leader is elected). Besides the quota, `--snapshot-count` is etcd 3.4's 100,000 lowered for
 * large values, so that the entries each member keeps in memory between snapshots stay near 512 MiB.
 */
export async function startEtcd(size) {
  // Each member writes every value to its WAL and to its backend: ask for twice the values, and a GiB besides.
  const needed = 3 * 2 * KEYS * size + 1_024 * MIB;
  const { bavail, bsize } = await statfs(tempRoot);
  if (bavail * bsize < needed) {
    throw new Error(
      `etcd at ${size}-byte values wants ${gib(needed)} GiB free in ${tempRoot}: ${gib(bavail * bsize)} GiB free`,
    );
  }
  const root = await makeTempDir('etcd-');
  const ports = await freePorts(6, undefined, HOST);
  const members = [0, 1, 2].map((i) => ({
    name: `m${i}`,
    client: `http://${HOST}:${ports[i]}`,
    peer: `http://${HOST}:${ports[i + 3]}`,
  }));
  const initialCluster = members.map((m) => `${m.name}=${m.peer}`).join(',');
  const snapshotCount = Math.max(1_000, Math.min(100_000, Math.floor((512 * MIB) / size)));
  const spawned = members.map((m) =>
    spawnTracked('etcd', [
      ...['--name', m.name, '--data-dir', join(root, m.name)],
      ...['--listen-client-urls', m.client, '--advertise-client-urls', m.client],
      ...['--listen-peer-urls', m.peer, '--initial-advertise-peer-urls', m.peer],
      ...['--initial-cluster', initialCluster, '--initial-cluster-state', 'new'],
      ...['--initial-cluster-token', `compare-etcd-${process.pid}-${ports[0]}`],
      ...['--quota-backend-bytes', String(ETCD_QUOTA_BYTES), '--snapshot-count', String(snapshotCount)],
      ...['--max-request-bytes', String(Math.max(1.5 * MIB, size + MIB))],
      ...['--logger', 'zap', '--log-outputs', 'stderr', '--log-level', 'warn'],
    ]),
  );
  const pools = members.map((m) => new Pool(m.client, { connections: 4 }));
  const system = track(
    {
      script: 'etcd',
      urls: members.map((m) => m.client),
      load: () => loadEtcd(pools[0], size),
      check: () => checkEtcd(pools, size),
    },
    async () => {
      await Promise.allSettled(pools.map((pool) => pool.close()));
      await Promise.all(spawned.map(({ child }) => stopProcess(child)));
      await removeTempDir(root);
    },
  );
  try {
    await waitUntil('etcd', 30_000, async () => {
      const gone = spawned.find(({ child }) => child.exitCode !== null || child.signalCode !== null);
      if (gone) throw new Error(`an etcd member exited before it was ready:\n${gone.tail()}`);
      const health = await Promise.all(
        pools.map((pool) => etcdCall(pool, 'GET', '/health').catch(() => ({}))),
      );
      return health.every((answer) => answer.health === 'true');
    });
  } catch (error) {
    await system.stop();
    throw error;
  }
  return system;
}

async function etcdCall(pool, method, path, body) {
  const response = await pool.request({
    method,
    path,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`etcd ${path}: HTTP ${response.statusCode}: ${text}`);
  return JSON.parse(text);
}

const base64 = (text) => Buffer.from(text).toString('base64');

/** Puts `key:0` … `key:${KEYS - 1}` in transactions of up to 128 puts (etcd's --max-txn-ops) and 1 MiB, 4 at a time. */
async function loadEtcd(pool, size) {
  const batch = Math.max(1, Math.min(128, Math.floor(MIB / (size + 64))));
  let next = 0;
  const loader = async () => {
    while (next < KEYS) {
      const from = next;
      next = Math.min(KEYS, next + batch);
      const success = [];
      for (let i = from; i < next; i++) {
        success.push({ requestPut: { key: base64(`key:${i}`), value: base64(loadValue(i, size)) } });
      }
      const reply = await etcdCall(pool, 'POST', '/v3/kv/txn', { success });
      if (reply.succeeded !== true) throw new Error(`etcd load: ${JSON.stringify(reply).slice(0, 200)}`);
    }
  };
  await Promise.all([loader(), loader(), loader(), loader()]);
}

async function etcdGet(pool, key) {
  const reply = await etcdCall(pool, 'POST', '/v3/kv/range', { key: base64(key) });
  const value = reply.kvs?.[0]?.value;
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString();
}

/** Through each member in turn: a put, then a get of it through the next member; and a loaded key. */
async function checkEtcd(pools, size) {
  for (const [i, pool] of pools.entries()) {
    const value = checkValue(size);
    await etcdCall(pool, 'POST', '/v3/kv/put', { key: base64(`check:${i}`), value: base64(value) });
    const next = pools[(i + 1) % pools.length];
    expectValue(`etcd member ${i} then ${(i + 1) % pools.length}`, await etcdGet(next, `check:${i}`), value);
  }
  const last = `key:${KEYS - 1}`;
  expectValue(`etcd ${last} after the load`, await etcdGet(pools[1], last), loadValue(KEYS - 1, size));
}

function expectValue(what, actual, expected) {
  if (actual !== expected) {
    const shown =
      actual === undefined ? 'nothing' : `${String(actual).length} bytes ${String(actual).slice(0, 40)}…`;
    throw new Error(`${what}: expected the ${expected.length}-byte value written, got ${shown}`);
  }
}

/**
 * kvdb-server processes of the build whose bin is `bin`: `nodes` nodes with R = `nodes`, in memory, or with
 * `--data-dir` in a temporary directory when `durable`, plus `args`.
 */
export async function startKvdb(size, { bin, nodes, durable, args = [] }) {
  const root = durable ? await makeTempDir('kvdb-') : undefined;
  let cluster;
  const stop = async () => {
    await cluster?.stop();
    if (root !== undefined) await removeTempDir(root);
  };
  try {
    cluster = await startLocalCluster({
      nodes,
      replicas: nodes,
      bin,
      dataDir: root,
      args,
      ready: nodes > 1 ? 'members' : 'ping',
      logLevel: 'warn',
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return track(rpcSystem(cluster.nodes, size), stop);
}

/** The reference server of this build (`spawnReferenceServer` from packages/bench's dist). */
export async function startReference(size) {
  const { spawnReferenceServer } = await import('../dist/src/child-process.js');
  const { child, host, port } = await spawnReferenceServer(0, HOST);
  processes.add(child.process);
  child.process.once('exit', () => processes.delete(child.process));
  return track(rpcSystem([{ host, port }], size), () => child.stop());
}

/** Loading and checking for anything that answers kvdb's JSON-RPC `set` and `get` over HTTP at `targets`. */
function rpcSystem(targets, size) {
  return {
    script: 'kvdb',
    urls: targets.map(({ host, port }) => `http://${host}:${port}/`),
    async load() {
      // Batches of at most 256 KB, so that no batch nears a node's 2 s request timeout on a busy host; a load
      // that fails anyway is written again (sets of the same values), twice at most, as it is not measured.
      const batch = Math.max(1, Math.min(100, Math.floor(MIB / 4 / (size + 64))));
      for (let attempt = 1; ; attempt++) {
        const rpc = rpcClient(targets[0].host, targets[0].port);
        try {
          await loadKeys(rpc, { keys: KEYS, valueSize: size, batch });
          return;
        } catch (error) {
          if (attempt === 3) throw error;
          process.stderr.write(`  load failed (${error.message.slice(0, 200)}); loading again\n`);
        } finally {
          await rpc.close();
        }
      }
    },
    async check() {
      const rpcs = targets.map(({ host, port }) => rpcClient(host, port, 1));
      try {
        const call = async (rpc, method, params) => {
          const reply = await rpc({ jsonrpc: '2.0', id: 1, method, params });
          if (reply.error !== undefined) throw new Error(`${method}: ${JSON.stringify(reply.error)}`);
          return reply.result;
        };
        for (const [i, rpc] of rpcs.entries()) {
          const value = checkValue(size);
          await call(rpc, 'set', { key: `check:${i}`, value });
          const next = (i + 1) % rpcs.length;
          expectValue(`node ${i} then ${next}`, await call(rpcs[next], 'get', { key: `check:${i}` }), value);
        }
        const last = `key:${KEYS - 1}`;
        const read = await call(rpcs[rpcs.length - 1], 'get', { key: last });
        expectValue(`${last} after the load`, read, loadValue(KEYS - 1, size));
      } finally {
        await Promise.allSettled(rpcs.map((rpc) => rpc.close()));
      }
    },
  };
}

/** Polls `ready()` every 100 ms until it is true; throws what it throws, or after `timeoutMs`. */
async function waitUntil(what, timeoutMs, ready) {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`${what} was not ready within ${timeoutMs / 1_000} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
