/**
 * An app that keeps reading and writing while a node crashes and comes back. It starts its own cluster of three
 * kvdb-server processes (3 replicas, each node with a data dir), gives KVClient all three, kills one node with
 * SIGKILL, restarts it, and prints what its calls saw. Run: node examples/dist/failover.js
 * It exits 1 if a read contradicts an acknowledged write (or the client never sees the node come back).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { KVClient, OutcomeUnknownError } from '@kvdb/client';
import { type LocalCluster, startLocalCluster } from '@kvdb/server';

/** Keys written, each by one writer that writes 1, 2, 3, …; readers read them at random. */
const KEYS = 10;
const WRITES_PER_SECOND = 200;
const READS_PER_SECOND = 500;
const PHASE_MS = { before: 2_000, down: 3_000, after: 2_000 };
const VICTIM = 0;

type Phase = 'before the kill' | 'node down' | 'after restart';
type PhaseStats = { calls: number; failed: number; slowestMs: number; slowest: string };

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1_000).toFixed(1).padStart(5)} s`;
let phase: Phase = 'before the kill';
const phases = new Map<Phase, PhaseStats>();
const failures = new Map<string, { count: number; example: string }>();
let running = true;
let inconsistent = 0;
let writtenAgain = 0;

/** For each key, the last value a write of it was acknowledged for, and the last one tried. */
const keys = Array.from({ length: KEYS }, (_, i) => ({ key: `counter:${i}`, acked: 0, tried: 0 }));

let cluster: LocalCluster | undefined;
// Ctrl-C stops the nodes first (one still starting is killed as this process exits).
process.on('SIGINT', () => void (cluster?.stop() ?? Promise.resolve()).finally(() => process.exit(130)));
cluster = await startLocalCluster({ nodes: 3, replicas: 3, dataDir: true, logLevel: 'warn' });
const victim = cluster.nodes[VICTIM]?.address ?? '';
console.log(`${elapsed()}  cluster of 3 on ${cluster.addresses.join(', ')}, 3 replicas`);

const kv = new KVClient({ nodes: cluster.addresses });
kv.on('nodeDown', (address, error) => console.log(`${elapsed()}  nodeDown ${address} (${error.name})`));
kv.on('nodeUp', (address) => console.log(`${elapsed()}  nodeUp ${address}`));

/** Runs one call, counting it (and its failure, by error class) in the phase in which it ends. */
async function timed<T>(what: string, call: () => Promise<T>): Promise<T> {
  const start = performance.now();
  let failed = false;
  try {
    return await call();
  } catch (error) {
    failed = true;
    const name = error instanceof Error ? error.name : 'Error';
    const seen = failures.get(name) ?? { count: 0, example: `${what}: ${String(error)}` };
    failures.set(name, { ...seen, count: seen.count + 1 });
    throw error;
  } finally {
    const ms = performance.now() - start;
    const stats = phases.get(phase) ?? { calls: 0, failed: 0, slowestMs: 0, slowest: '' };
    phases.set(phase, stats);
    stats.calls++;
    if (failed) stats.failed++;
    if (ms > stats.slowestMs) Object.assign(stats, { slowestMs: ms, slowest: what });
  }
}

/**
 * Writes `value` to `key`; resolves with whether the write is acknowledged. KVClient stamps each set with its own
 * version, so a set whose node died after it got the request is sent again to another node, and the copy changes
 * nothing where the first landed. Only when every try fails after a copy reached a node does it reject with
 * `OutcomeUnknownError`: it may or may not have been applied. This app is the only writer of its keys, so writing
 * the same value again is safe; an app whose keys others write too would read the key first, or use `cas`.
 */
async function write(key: string, value: number): Promise<boolean> {
  for (let attempt = 1; attempt <= 2; attempt++) {
    try {
      await timed(`set ${key}`, () => kv.set(key, value));
      return true;
    } catch (error) {
      if (!(error instanceof OutcomeUnknownError)) return false;
      if (attempt === 1) writtenAgain++;
    }
  }
  return false;
}

/** A read may see the last acknowledged value, or a later one still being written; anything older is a bug. */
async function read(entry: (typeof keys)[number]): Promise<void> {
  const floor = entry.acked;
  const value = await timed(`get ${entry.key}`, () => kv.get<number>(entry.key, 0)).catch(() => undefined);
  if (value === undefined || value === null) return;
  if (value < floor || value > entry.tried) {
    inconsistent++;
    console.log(`${elapsed()}  INCONSISTENT: ${entry.key} read ${value}, acknowledged ${floor}`);
  }
}

/** Calls `step` `perSecond` times a second until the run ends, at a steady pace whatever each call takes. */
async function paced(perSecond: number, step: () => Promise<void>): Promise<void> {
  const period = 1_000 / perSecond;
  for (let next = performance.now(); running; ) {
    await step();
    next = Math.max(next + period, performance.now());
    await sleep(next - performance.now());
  }
}

const began = Date.now();
const writers = keys.map((entry) =>
  paced(WRITES_PER_SECOND / KEYS, async () => {
    entry.tried++;
    if (await write(entry.key, entry.tried)) entry.acked = entry.tried;
  }),
);
const readers = Array.from({ length: KEYS }, () =>
  paced(READS_PER_SECOND / KEYS, async () => {
    const entry = keys[Math.floor(Math.random() * KEYS)];
    if (entry !== undefined) await read(entry);
  }),
);
console.log(
  `${elapsed()}  writing ${WRITES_PER_SECOND}/s and reading ${READS_PER_SECOND}/s over ${KEYS} keys`,
);

let cameBack = true;
let seconds = 0;
try {
  await sleep(PHASE_MS.before);
  console.log(`${elapsed()}  SIGKILL ${victim}`);
  phase = 'node down';
  await cluster.kill(VICTIM);
  await sleep(PHASE_MS.down);
  console.log(`${elapsed()}  restarting ${victim}`);
  const up = new Promise<boolean>((resolve) => kv.once('nodeUp', () => resolve(true)));
  await cluster.startNode(VICTIM);
  cameBack = await Promise.race([up, sleep(15_000, false, { ref: false })]);
  phase = 'after restart';
  await sleep(PHASE_MS.after);
} finally {
  running = false;
  seconds = (Date.now() - began) / 1_000;
  await Promise.all([...writers, ...readers]);
  await kv.close();
  await cluster.stop();
}

console.log(`${elapsed()}  done\n\nphase              calls  failed  slowest call`);
for (const [name, s] of phases) {
  const row = `${name.padEnd(16)} ${String(s.calls).padStart(6)} ${String(s.failed).padStart(7)}`;
  console.log(`${row}  ${s.slowestMs.toFixed(0).padStart(5)} ms (${s.slowest})`);
}
const total = [...phases.values()].reduce((sum, s) => sum + s.calls, 0);
const asked = WRITES_PER_SECOND + READS_PER_SECOND;
console.log(
  `${total} calls in ${seconds.toFixed(1)} s: ${(total / seconds).toFixed(0)}/s of the ${asked}/s asked`,
);
for (const [name, { count, example }] of failures) console.log(`${count} × ${name}, e.g. ${example}`);
console.log(`writes whose outcome was unknown, written again: ${writtenAgain}`);
console.log(`reads that contradict an acknowledged write: ${inconsistent}`);
if (!cameBack) console.log(`the client did not see ${victim} answer again within 15 s`);
if (inconsistent > 0 || !cameBack) process.exitCode = 1;
