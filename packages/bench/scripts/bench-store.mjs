#!/usr/bin/env node
// What kvdb's in-memory store costs a single node's throughput, and what it saves in memory, against a store that
// keeps records as they arrive.
//
//   node packages/bench/scripts/bench-store.mjs [--rounds 2] [--port-base 6960] [--heap] -- set -d 9s --rounds 3
//
// Starts two single nodes (R=1), alike but for their store, and runs `kvdb-bench --compare-reference` with the
// arguments after `--` against each in turn, `--rounds` times, printing each run's ratio to the reference server:
//   compact  kvdb's MemoryStore, the default: each record packed into one flat string, in its EntryTable;
//   objects  each record as it arrives, an object in a Map by key: no packing, no order.
// With --heap, it first loads 1,000,000 keys with 100-character values into each store, one process each, and
// prints the JavaScript heap they hold. `objects` is a yardstick, not a store to run: it keeps records and
// answers reads and writes, but lists no keys. Needs a build (`npm run build`).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { benchBin, scriptArgs } from './bench-common.mjs';

const STORES = ['compact', 'objects'];
const HEAP_KEYS = 1_000_000;
const self = fileURLToPath(import.meta.url);

if (process.argv[2] === '--serve') await serve(process.argv[3], Number(process.argv[4]));
else if (process.argv[2] === '--heap-of') await heapOf(process.argv[3]);
else await bench();

async function bench() {
  const { values, benchArgs } = scriptArgs({
    rounds: { type: 'string', default: '2' },
    'port-base': { type: 'string', default: '6960' },
    heap: { type: 'boolean', default: false },
  });
  if (values.heap) {
    for (const store of STORES) {
      const { stdout } = await run(['--expose-gc', self, '--heap-of', store]);
      process.stdout.write(stdout);
    }
  }
  const { spawnNode, stopAllChildren } = await import('../dist/src/child-process.js');
  const base = Number(values['port-base']);
  const nodes = STORES.map((store, index) => ({ store, port: base + index }));
  process.once('SIGINT', () => void stopAllChildren().finally(() => process.exit(130)));
  try {
    await Promise.all(
      nodes.map(({ store, port }) =>
        spawnNode(`${store} node`, self, ['--serve', store, String(port)]).waitFor(/listening on/, 10_000),
      ),
    );
    for (let round = 1; round <= Number(values.rounds); round++) {
      for (const { store, port } of nodes) {
        const args = [benchBin, ...benchArgs, '--compare-reference', '--json', '-P', String(port)];
        const report = JSON.parse((await run(args)).stdout);
        const each = report.roundRatios.map((ratio) => ratio.toFixed(2)).join(', ');
        console.log(
          `round ${round}  ${store.padEnd(8)} ratio ${report.ratio.toFixed(2)} (${each})  ` +
            `${Math.round(report.target.throughput)} against ${Math.round(report.reference.throughput)} ops/s`,
        );
      }
    }
  } finally {
    await stopAllChildren();
  }
}

/** Runs node with the arguments; resolves with its stdout once it exits with 0. */
function run(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (chunk) => {
      text += chunk;
    });
    child.once('exit', (code) =>
      code === 0 ? resolve({ stdout: text }) : reject(new Error(`${args.join(' ')} exited with ${code}`)),
    );
  });
}

async function makeStore(kind) {
  const { MemoryStore, supersedes } = await import('@kvdb/core');
  if (kind === 'compact') return new MemoryStore();
  if (kind !== 'objects') throw new Error(`no store called ${kind}`);
  const records = new Map();
  const mergeSync = (key, record) => {
    const previous = records.get(key);
    if (!supersedes(record, previous)) return { applied: false, previous };
    records.set(key, record);
    return { applied: true, previous };
  };
  // getSync and mergeSync both, as MemoryStore has: a node takes its direct path only with both, and the two
  // stores must differ in nothing but how they keep records.
  return {
    mergeSync,
    merge: async (key, record) => mergeSync(key, record),
    getSync: (key) => records.get(key),
    get: async (key) => records.get(key),
    remove: async (key) => records.delete(key),
    scanKeys: () => [],
    counts: async () => ({ live: records.size, tombstones: 0 }),
    close: async () => {},
  };
}

async function serve(kind, port) {
  const { KVNode } = await import('@kvdb/server');
  const store = await makeStore(kind);
  const node = await KVNode.start({ host: '127.0.0.1', port, replicas: 1, logLevel: 'warn' }, { store });
  process.once('SIGTERM', () => node.stop().then(() => process.exit(0)));
  console.log(`${kind} node listening on 127.0.0.1:${port}`);
}

/** Loads HEAP_KEYS keys as a node would take them (values parsed from JSON) and prints the heap they hold. */
async function heapOf(kind) {
  const store = await makeStore(kind);
  globalThis.gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < HEAP_KEYS; i++) {
    const { key, value } = JSON.parse(JSON.stringify({ key: `key:${i}`, value: `${i}:`.padEnd(100, 'v') }));
    store.mergeSync(key, { version: { wall: Date.now(), counter: 0, node: '127.0.0.1:5878' }, value });
  }
  globalThis.gc();
  const megabytes = (process.memoryUsage().heapUsed - before) / 1e6;
  console.log(
    `${kind.padEnd(8)} ${HEAP_KEYS.toLocaleString('en-US')} keys: ${megabytes.toFixed(0)} MB of heap`,
  );
}
