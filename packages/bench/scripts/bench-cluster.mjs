#!/usr/bin/env node
// One command per figure of BENCHMARKS.md: starts a local kvdb cluster (real kvdb-server processes on 127.0.0.1),
// runs `kvdb-bench` against all of its nodes with the arguments after `--`, and stops the cluster.
//
//   node packages/bench/scripts/bench-cluster.mjs [--nodes 3] [--replicas N] [--data-dir [--fsync-interval MS]] [--port-base P]
//     -- set -c 32 -d 10s
//
// Needs a build (`npm run build`). --data-dir gives each node a data dir in a temporary directory, removed
// afterwards; --fsync-interval passes kvdb-server's flag of that name (0: fsync each commit before acknowledging
// it). Exits with kvdb-bench's status.
import { startLocalCluster } from '@kvdb/server';
import { runBench, scriptArgs } from './bench-common.mjs';

const { values, benchArgs } = scriptArgs({
  nodes: { type: 'string', default: '3' },
  replicas: { type: 'string' },
  'data-dir': { type: 'boolean', default: false },
  'fsync-interval': { type: 'string' },
  'port-base': { type: 'string' },
});
const nodes = Number(values.nodes);
const cluster = await startLocalCluster({
  nodes,
  replicas: Number(values.replicas ?? nodes),
  dataDir: values['data-dir'] || undefined,
  ready: 'members',
  args: values['fsync-interval'] === undefined ? [] : ['--fsync-interval', values['fsync-interval']],
  ...(values['port-base'] === undefined ? {} : { portBase: Number(values['port-base']) }),
});
const stop = () => cluster.stop();
process.once('SIGINT', () => void stop().finally(() => process.exit(130)));
process.once('SIGTERM', () => void stop().finally(() => process.exit(143)));

const targets = cluster.addresses.join(',');
const storage = values['data-dir'] ? 'data dirs' : 'in memory';
process.stderr.write(
  `bench-cluster: ${nodes} node(s), R=${values.replicas ?? nodes}, ${storage}: ${targets}\n`,
);
const status = await runBench(benchArgs, targets);
await stop();
process.exit(status);
