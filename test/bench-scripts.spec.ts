import { readdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { CHECK_SCRIPT } from '@kvdb/bench';
import { expect } from 'chai';
import { runNodeScript } from './helpers/run-kvdb.js';

// The scripts are the repository's, not the package's: found beside the tests (this file is test/dist/…).
const script = (name: string) =>
  fileURLToPath(new URL(`../../packages/bench/scripts/${name}`, import.meta.url));

/** The temporary directories whose names start with `prefix`: the data roots of local clusters by default. */
async function clusterDataDirs(prefix = 'kvdb-cluster-'): Promise<string[]> {
  return (await readdir(tmpdir())).filter((name) => name.startsWith(prefix));
}

/** Those of `clusterDataDirs(prefix)` that were not there `before`: what a run left behind (others may come and go). */
async function leftBehind(before: readonly string[], prefix = 'kvdb-cluster-'): Promise<string[]> {
  return (await clusterDataDirs(prefix)).filter((name) => !before.includes(name));
}

/** Whether nothing listens on `port` of 127.0.0.1 right now. */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A port base for the scripts that take `--port-base` and use fixed offsets from it: every `base + offset` free.
 * Drawn below Linux's ephemeral range (32768 and up), so that no outgoing connection takes one meanwhile.
 */
async function freeBase(offsets: number[]): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 11_000);
    const free = await Promise.all(offsets.map((offset) => isFree(base + offset)));
    if (free.every(Boolean)) return base;
  }
  throw new Error('found no free port base in 50 tries');
}

describe('the benchmark scripts behind BENCHMARKS.md', function () {
  this.timeout(90_000);

  it('bench-floor: three floor nodes replicate, so that every get after the prefill hits, through any node', async () => {
    const base = await freeBase([0, 1, 2, 1000, 1001, 1002]);
    const run = await runNodeScript(
      script('bench-floor.mjs'),
      ['--port-base', String(base), '--', 'get', '-n', '1000', '-c', '6', '--keyspace', '90', '--json'],
      '',
      60_000,
    );
    expect(run.code, run.stderr).to.equal(0);
    const report = JSON.parse(run.stdout) as { ok: number; gets: number; misses: number; targets: string[] };
    expect(report.targets).to.deep.equal([0, 1, 2].map((offset) => `127.0.0.1:${base + offset}`));
    expect(report).to.deep.include({ ok: 1000, gets: 1000, misses: 0 });
  });

  it('bench:check: runs all seven rows against real processes, measures the one below its threshold again and fails it, and cleans up', async () => {
    const dirsBefore = await clusterDataDirs();
    // Thresholds that make the verdict certain whatever the machine's speed: 0 passes, 1,000 cannot.
    const thresholds = [
      'single-set',
      'single-get',
      'single-set-16k',
      'single-get-16k',
      'cluster-set',
      'cluster-get',
    ].flatMap((name) => [`--min-${name}`, '0']);
    const run = await runNodeScript(
      CHECK_SCRIPT,
      [
        '--rounds',
        '1',
        '--slice',
        '300ms',
        '--warmup-time',
        '0',
        '--json',
        ...thresholds,
        '--min-durable-set',
        '1000',
      ],
      '',
      80_000,
    );
    expect(run.code, run.stderr).to.equal(1);
    const report = JSON.parse(run.stdout) as {
      passed: boolean;
      rows: Array<{
        name: string;
        passed: boolean;
        ratios: number[];
        target: { throughput: number; errors: number };
      }>;
    };
    expect(report.passed).to.equal(false);
    expect(report.rows.map((row) => [row.name, row.passed])).to.deep.equal([
      ['single set', true],
      ['single get', true],
      ['single set 16k', true],
      ['single get 16k', true],
      ['cluster set', true],
      ['cluster get', true],
      ['durable set', false],
    ]);
    for (const row of report.rows) {
      // The run below its threshold is measured again, and judged on both rounds.
      expect(row.ratios, row.name).to.have.length(row.passed ? 1 : 2);
      expect(row.target.throughput, row.name).to.be.above(0);
      expect(row.target.errors, row.name).to.equal(0);
    }
    expect(await leftBehind(dirsBefore)).to.deep.equal([]);
  });

  it('durable-capacity: writes through the cluster, kills and restarts the node under test, reads every value back from it', async () => {
    const dirsBefore = await clusterDataDirs('kvdb-capacity-');
    const run = await runNodeScript(
      script('durable-capacity.mjs'),
      ['--keys', '300', '--value-size', '2000', '--json'],
      '',
      80_000,
    );
    expect(run.code, run.stderr).to.equal(0);
    const report = JSON.parse(run.stdout) as {
      write: { rssPeakMb: number; heldBeforeKill: number };
      restartSeconds: number;
      loaded: string;
      read: { keysAfterRestart: number; missing: number; wrong: number };
    };
    expect(report.write.heldBeforeKill).to.equal(300);
    expect(report.write.rssPeakMb).to.be.above(0);
    expect(report.restartSeconds).to.be.above(0);
    expect(report.loaded).to.match(/^\(300 records and \d+ hints loaded in [\d.]+ s\)$/);
    expect(report.read).to.include({ keysAfterRestart: 300, missing: 0, wrong: 0 });
    expect(await leftBehind(dirsBefore, 'kvdb-capacity-')).to.deep.equal([]);
  });

  it('bench-store: both stores answer the reference comparison, one line each', async () => {
    const base = await freeBase([0, 1]);
    const run = await runNodeScript(
      script('bench-store.mjs'),
      ['--rounds', '1', '--port-base', String(base), '--', 'set', '-n', '1000', '--rounds', '1'],
      '',
      60_000,
    );
    expect(run.code, run.stderr).to.equal(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).to.have.length(2);
    for (const [index, store] of ['compact', 'objects'].entries()) {
      expect(lines[index]).to.match(
        new RegExp(
          `^round 1 {2}${store} +ratio \\d+\\.\\d\\d \\(\\d+\\.\\d\\d\\) {2}\\d+ against \\d+ ops/s$`,
        ),
      );
    }
  });

  it('bench-tls: measures a plain and a mutual-TLS cluster in one run, and removes its certificates', async () => {
    const before = await clusterDataDirs('kvdb-certs-');
    const run = await runNodeScript(
      script('bench-tls.mjs'),
      ['--rounds', '1', '--mtls', '--json', '--', 'get', '-n', '300', '-c', '4', '-k', '50'],
      '',
      60_000,
    );
    expect(run.code, run.stderr).to.equal(0);
    const summary = JSON.parse(run.stdout) as {
      runs: Record<string, Array<{ ok: number; errors: { total: number } }>>;
      ratio: number;
    };
    expect(Object.keys(summary.runs)).to.deep.equal(['plain', 'mutual TLS']);
    for (const runs of Object.values(summary.runs))
      expect(runs.map((report) => report.ok)).to.deep.equal([300]);
    expect(summary.ratio).to.be.above(0);
    expect(await leftBehind(before, 'kvdb-certs-')).to.deep.equal([]);
  });
});
