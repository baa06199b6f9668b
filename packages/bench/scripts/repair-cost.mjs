#!/usr/bin/env node --expose-gc
// What it costs a replica to find the keys of the ring segments that differ from a peer's (the first step of an
// anti-entropy repair), against reading the whole store as a scan does, and what keeping its keys in ring order
// costs in memory:
//
//   node --expose-gc packages/bench/scripts/repair-cost.mjs [--keys 1000000]
//
// One process, a MemoryStore of --keys keys of 100 bytes on a ring of 3 members (768 segments). Segments holding
// more than SEGMENT_GATHER_LIMIT (20,000) keys in all are read by a scan, so the largest case shows that path.
// Needs a build.
import { parseArgs } from 'node:util';
import { HashRing, MemoryStore, md5Hasher } from '@kvdb/core';
import { KeyPositions } from '../../coordinator/dist/src/key-positions.js';
import { LocalReplica } from '../../coordinator/dist/src/local-replica.js';
import { scanPages } from '../../coordinator/dist/src/replica-digests.js';

const { values } = parseArgs({ options: { keys: { type: 'string', default: '1000000' } } });
const count = Number(values.keys);
const members = ['10.0.0.1:5878', '10.0.0.2:5878', '10.0.0.3:5878'];
const ring = new HashRing(members);
const value = 'x'.repeat(100);
const keyOf = (i) => `key:${String(i).padStart(8, '0')}`;

/** The heap a key string of this length takes, which the store holds anyway (V8: 12-byte header, 1 byte a char). */
const keyBytes = Math.ceil((12 + keyOf(0).length) / 8) * 8;
const heap = () => {
  globalThis.gc?.();
  return process.memoryUsage().heapUsed;
};
const before = heap();
const positions = new KeyPositions();
for (let i = 0; i < count; i++) positions.add(keyOf(i), md5Hasher.hash(keyOf(i)));
const positionBytes = heap() - before - count * keyBytes;

const store = new MemoryStore();
for (let i = 0; i < count; i++)
  store.mergeSync(keyOf(i), { value, version: { wall: 1, counter: 0, node: members[0] } });
let started = performance.now();
const replica = new LocalReplica({ store, ring, self: members[0] });
console.log(
  `${positions.size.toLocaleString('en-US')} keys: ring order ${(positionBytes / count).toFixed(1)} bytes a key of heap; ` +
    `digests and ring order built in ${(performance.now() - started).toFixed(0)} ms at start`,
);

const shared = replica.digests.sharedSegments(members[0], members[1], 3);
for (const differing of [1, 10, 100]) {
  const segments = new Set(shared.slice(0, differing));
  started = performance.now();
  const found = [...(await replica.keyVersions(segments)).values()].flat().length;
  const fromIndex = performance.now() - started;
  started = performance.now();
  let scanned = 0;
  for await (const page of scanPages(store)) {
    for (const [key] of page) if (segments.has(ring.segmentOf(key))) scanned++;
  }
  const fromScan = performance.now() - started;
  if (scanned !== found) throw new Error(`the index found ${found} keys, the scan ${scanned}`);
  console.log(
    `${String(differing).padStart(3)} differing segment(s), ${found.toLocaleString('en-US')} keys: ` +
      `${fromIndex.toFixed(1)} ms for the repair's read of them, ${fromScan.toFixed(0)} ms for a scan of the whole store`,
  );
}
