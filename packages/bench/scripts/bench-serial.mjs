#!/usr/bin/env node
// Serial operations beside quorum ones on a 3-node cluster (R=3, in memory) of real kvdb-server processes:
//
//   node packages/bench/scripts/bench-serial.mjs [--rounds 2] [--duration 8s]
//
// Alternates kvdb-bench set and get at quorum and at serial (32 in flight over the three nodes, 10,000 keys,
// 100-byte values, 2 s of unmeasured warm-up each), and prints each run's rate and latency percentiles. A serial
// set is one Paxos round with a write, as a cas that swaps is; a serial get is a round without one. Needs a build.
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { startLocalCluster } from '@kvdb/server';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '2' }, duration: { type: 'string', default: '8s' } },
});
const bench = new URL('../dist/src/bin/kvdb-bench.js', import.meta.url).pathname;
const cluster = await startLocalCluster({ nodes: 3, replicas: 3, ready: 'members', logLevel: 'warn' });
const targets = cluster.nodes.map((node) => `127.0.0.1:${node.port}`).join(',');
try {
  for (let round = 1; round <= Number(values.rounds); round++) {
    for (const [operation, consistency] of [
      ['set', 'quorum'],
      ['set', 'serial'],
      ['get', 'quorum'],
      ['get', 'serial'],
    ]) {
      const args = [bench, operation, '-t', targets, '-d', values.duration, '--warmup-time', '2s'];
      const report = JSON.parse(
        execFileSync('node', [...args, '--consistency', consistency, '--json'], { encoding: 'utf8' }),
      );
      const { p50, p99 } = report.latencyMs;
      console.log(
        `round ${round}: ${operation} ${consistency}: ${Math.round(report.throughput)}/s, p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, errors ${report.errors.total}`,
      );
    }
  }
} finally {
  await cluster.stop();
}
