#!/usr/bin/env node
// CPU a request costs a cluster: starts a local cluster (real kvdb-server processes on 127.0.0.1, in memory unless
// --data-dir), runs `kvdb-bench` once unmeasured (--warmup-requests sets: every key set, the nodes' hot code
// compiled), then the measured run with the arguments after `--`, and reports the CPU time (user + system, from
// /proc/PID/stat) all the nodes spent, divided by the requests of the measured run. On a shared host CPU time
// swings less than throughput, so two builds compare better by it: `--bin` runs another build's kvdb-server.
//
//   node packages/bench/scripts/cpu-per-request.mjs [--nodes 3] [--data-dir] [--bin PATH]
//     [--warmup-requests 20000] -- set -n 10000 --value-size 16384
//
// Needs a build (`npm run build`) and Linux (/proc).
import { readFileSync } from 'node:fs';
import { startLocalCluster } from '@kvdb/server';
import { runBench, scriptArgs } from './bench-common.mjs';

const { values, benchArgs } = scriptArgs({
  nodes: { type: 'string', default: '3' },
  'data-dir': { type: 'boolean', default: false },
  bin: { type: 'string' },
  'warmup-requests': { type: 'string', default: '20000' },
});
const requests = Number(benchArgs[benchArgs.indexOf('-n') + 1]);
if (!benchArgs.includes('-n') || !(requests > 0)) {
  process.stderr.write('cpu-per-request: give the measured run a request count after --, as `-n 10000`\n');
  process.exit(2);
}
const nodes = Number(values.nodes);
const cluster = await startLocalCluster({
  nodes,
  replicas: nodes,
  dataDir: values['data-dir'] || undefined,
  ready: 'members',
  ...(values.bin === undefined ? {} : { bin: values.bin }),
});
const ticks = () => {
  let sum = 0;
  for (const node of cluster.nodes) {
    // Fields 14 and 15 (utime, stime), in clock ticks, after the command name in parentheses.
    const stat = readFileSync(`/proc/${node.process?.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    sum += Number(fields[11]) + Number(fields[12]);
  }
  return sum;
};
try {
  const targets = cluster.addresses.join(',');
  const size = benchArgs.includes('--value-size') ? benchArgs[benchArgs.indexOf('--value-size') + 1] : '100';
  await runBench(['set', '-n', values['warmup-requests'], '--value-size', String(size)], targets);
  const before = ticks();
  const code = await runBench([...benchArgs, '--no-warmup'], targets);
  // Linux's USER_HZ is 100: a tick is 10 ms.
  const micros = ((ticks() - before) * 10_000) / requests;
  process.stdout.write(
    `cpu-per-request: ${Math.round(micros)} µs of CPU a request across ${nodes} node(s), over ${requests} requests\n`,
  );
  process.exitCode = code;
} finally {
  await cluster.stop();
}
