#!/usr/bin/env node
// What TLS costs a cluster, in one run: starts two local clusters side by side (real kvdb-server processes on
// 127.0.0.1, in memory), one plain and one speaking TLS on client and peer traffic (with --mtls, mutual TLS:
// client certificates required), then measures each in turn with `kvdb-bench` and the arguments after `--`, for
// --rounds rounds, the order swapped each round so that neither always goes first. The certificates (a CA, one
// node certificate for 127.0.0.1, a client certificate) are made with openssl in a temporary directory, removed
// afterwards.
//
//   node packages/bench/scripts/bench-tls.mjs [--nodes 3] [--rounds 3] [--mtls] [--json]
//     -- mixed -c 32 -d 10s --warmup-time 2s
//
// Reports each run's throughput and p99, and the median over rounds of TLS ÷ plain throughput: what BENCHMARKS.md
// publishes (the goal: TLS costs under 30%). Needs a build (`npm run build`) and openssl. Exits 1 if any request
// failed.
import { spawn } from 'node:child_process';
import { TestCertificateAuthority } from '@kvdb/core/testing';
import { startLocalCluster } from '@kvdb/server';
import { benchBin, scriptArgs } from './bench-common.mjs';

const { values, benchArgs } = scriptArgs({
  nodes: { type: 'string', default: '3' },
  rounds: { type: 'string', default: '3' },
  mtls: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
});
const nodes = Number(values.nodes);
const rounds = Number(values.rounds);
if (!(Number.isInteger(nodes) && nodes >= 1 && Number.isInteger(rounds) && rounds >= 1)) {
  process.stderr.write('bench-tls: expected --nodes and --rounds to be whole numbers from 1 up\n');
  process.exit(2);
}

const ca = await TestCertificateAuthority.create('kvdb bench CA');
const clusters = [];
const stop = async () => {
  await Promise.all(clusters.map((cluster) => cluster.stop()));
  await ca.remove();
};
process.once('SIGINT', () => void stop().finally(() => process.exit(130)));
process.once('SIGTERM', () => void stop().finally(() => process.exit(143)));

/** `kvdb-bench` with `args` and `--json` against `targets`; resolves with its report. */
function benchJson(args, targets) {
  const bench = spawn(process.execPath, [benchBin, ...args, '--targets', targets, '--json'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  bench.stdout.on('data', (chunk) => {
    out += chunk;
  });
  return new Promise((resolve, reject) =>
    bench.once('exit', (code) => {
      try {
        resolve({ code, report: JSON.parse(out) });
      } catch {
        reject(new Error(`kvdb-bench exited ${code} without a report`));
      }
    }),
  );
}

const median = (numbers) => {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

let failed = false;
try {
  const [node, client] = await Promise.all([ca.issue('node'), ca.issue('client', { use: 'client' })]);
  const nodeFlags = ['--tls-cert', node.certFile, '--tls-key', node.keyFile, '--tls-ca', ca.certFile];
  const common = { nodes, replicas: nodes, ready: 'members', logLevel: 'warn' };
  clusters.push(await startLocalCluster(common));
  clusters.push(
    await startLocalCluster({
      ...common,
      args: values.mtls ? [...nodeFlags, '--tls-client-auth'] : nodeFlags,
      tls: { ca: ca.cert, cert: client.cert, key: client.key },
    }),
  );
  const clientFlags = [
    '--tls-ca',
    ca.certFile,
    ...(values.mtls ? ['--tls-cert', client.certFile, '--tls-key', client.keyFile] : []),
  ];
  const setups = [
    { name: 'plain', cluster: clusters[0], args: benchArgs },
    { name: values.mtls ? 'mutual TLS' : 'TLS', cluster: clusters[1], args: [...benchArgs, ...clientFlags] },
  ];
  const runs = { [setups[0].name]: [], [setups[1].name]: [] };
  for (let round = 0; round < rounds; round++) {
    for (const setup of round % 2 === 0 ? setups : [...setups].reverse()) {
      process.stderr.write(`bench-tls: round ${round + 1}/${rounds}, ${setup.name}\n`);
      const { code, report } = await benchJson(setup.args, setup.cluster.addresses.join(','));
      failed ||= code !== 0 || report.errors.total > 0;
      runs[setup.name].push(report);
    }
  }
  const [plain, secure] = setups.map((setup) => runs[setup.name]);
  const ratios = plain.map((run, index) => secure[index].throughput / run.throughput);
  const ratio = median(ratios);
  const summary = {
    nodes,
    rounds,
    bench: benchArgs.join(' '),
    runs,
    ratios: ratios.map((value) => Math.round(value * 1000) / 1000),
    ratio: Math.round(ratio * 1000) / 1000,
    cost: Math.round((1 - ratio) * 1000) / 10,
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    const line = (name, run, index) =>
      `${`${name} ${index + 1}`.padEnd(14)} ${Math.round(run.throughput).toLocaleString('en-US').padStart(9)} ops/s   p99 ${run.latencyMs.p99.toFixed(2).padStart(7)} ms   errors ${run.errors.total}`;
    const lines = setups.flatMap((setup) =>
      runs[setup.name].map((run, index) => line(setup.name, run, index)),
    );
    process.stdout.write(
      `${nodes} nodes, ${benchArgs.join(' ')}\n${lines.join('\n')}\n` +
        `${setups[1].name} ÷ plain throughput: ${summary.ratios.join(', ')} (median ${summary.ratio}): TLS costs ${summary.cost}%\n`,
    );
  }
} finally {
  await stop();
}
process.exit(failed ? 1 : 0);
