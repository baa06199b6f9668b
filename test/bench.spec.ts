import { BENCH_BIN } from '@kvdb/bench';
import { freePorts } from '@kvdb/server';
import { expect } from 'chai';
import { TestCluster } from './helpers/cluster.js';
import { runKvdb, runNodeScript } from './helpers/run-kvdb.js';

/** The fields of `kvdb-bench --json` that these tests read. */
interface Summary {
  operation: string;
  targets: string[];
  requests: number;
  ok: number;
  gets: number;
  sets: number;
  ratio?: string;
  errors: { total: number };
  warmupMs?: number;
  latencyMs: { p50: number; p99: number; max: number };
  throughput: number;
  hdrHistogram: string;
  clientCpuMicrosPerRequest: number;
}

interface Comparison {
  reference: Summary;
  target: Summary;
  ratio: number;
  roundRatios: number[];
}

/** Runs `kvdb-bench` with `args` as a user does, through a pipe. */
function runBench(args: string[]) {
  return runNodeScript(BENCH_BIN, args, '', 30_000);
}

/** `kvdb-bench … --json` as a user runs it; the run must exit 0 and print one JSON object. */
async function benchJson<T = Summary>(args: string[]): Promise<T> {
  const run = await runBench([...args, '--json']);
  expect(run.code, run.stderr).to.equal(0);
  return JSON.parse(run.stdout) as T;
}

describe('kvdb-bench against real nodes', function () {
  this.timeout(60_000);
  let cluster: TestCluster;

  before(async () => {
    cluster = await TestCluster.start({ size: 3, replicas: 3 });
  });

  after(async () => {
    await cluster?.stop();
  });

  it('sets over every target, counts every request, and stores what it sent', async () => {
    const targets = cluster.addresses.join(',');
    const report = await benchJson([
      'set',
      ...['--targets', targets, '-n', '2000', '-c', '6', '--keyspace', '40', '--value-size', '30'],
      ...['--warmup-time', '300ms'],
    ]);
    expect(report).to.deep.include({ operation: 'set', requests: 2000, ok: 2000, sets: 2000, gets: 0 });
    expect(report.targets).to.deep.equal(cluster.addresses);
    expect(report.errors.total).to.equal(0);
    expect(report.warmupMs).to.equal(300);
    const { p50, p99, max } = report.latencyMs;
    expect(p50).to.be.greaterThan(0);
    expect(p99).to.be.at.least(p50);
    expect(max).to.be.at.least(p99);
    expect(report.throughput).to.be.greaterThan(0);
    expect(report.hdrHistogram).to.be.a('string').and.not.equal('');
    expect(report.clientCpuMicrosPerRequest).to.be.greaterThan(0);
    // 2,000 sets over 40 keys leave none unset; each reads back, through another node, as the value sent.
    const client = cluster.client(2);
    for (let key = 0; key < 40; key++) expect(await client.get(`key:${key}`)).to.equal('x'.repeat(30));
  });

  it('prefills with --warmup so that every get hits, and mixes gets and sets by --ratio', async () => {
    const targets = cluster.addresses.join(',');
    const gets = await benchJson([
      'get',
      '--targets',
      targets,
      '-n',
      '1000',
      '--keyspace',
      '300',
      '--warmup',
    ]);
    expect(gets).to.deep.include({ requests: 1000, ok: 1000, gets: 1000, misses: 0 });
    const mixed = await benchJson(['mixed', '--targets', targets, '-n', '1000', '--ratio', '1:1']);
    expect(mixed).to.deep.include({ requests: 1000, ok: 1000, ratio: '1:1' });
    expect(mixed.gets + mixed.sets).to.equal(1000);
    expect(mixed.gets).to.be.within(300, 700);
  });

  it('prints a readable report, and no progress bar, when its output is not a terminal', async () => {
    const run = await runBench(['set', '-P', String(cluster.node(0).port), '-n', '300']);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.match(/^====== SET ======\n {2}targets {6}127\.0\.0\.1:\d+\n/);
    expect(run.stdout).to.match(/\n {2}requests {5}300 in [\d.]+ s, no errors\n/);
    expect(run.stdout).to.match(
      /\n {2}latency ms {3}p50 [\d.]+ {2}p90 [\d.]+ {2}p99 [\d.]+ {2}p99\.9 [\d.]+ {2}max /,
    );
    expect(run.stderr).to.equal('');
  });

  it('compares a node with the reference server it starts, round by round', async () => {
    const port = String(cluster.node(1).port);
    const report = await benchJson<Comparison>([
      'set',
      '-P',
      port,
      '-n',
      '2000',
      '--compare-reference',
      '--rounds',
      '2',
    ]);
    expect(report.reference).to.deep.include({ requests: 2000, ok: 2000 });
    expect(report.target).to.deep.include({ requests: 2000, ok: 2000 });
    expect(report.target.targets).to.deep.equal([`127.0.0.1:${port}`]);
    expect(report.reference.targets[0]).to.not.equal(`127.0.0.1:${port}`);
    expect(report.roundRatios).to.have.length(2);
    expect(report.ratio).to.be.greaterThan(0);
  });

  it('says what is wrong, with exit status 2 for a bad option and 1 for a node it cannot reach', async () => {
    const bad = await runBench(['set', '--warmup-time', 'soon']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.contain('kvdb-bench: Expected `--warmup-time` to be a time such as 10s');
    const [nobody] = await freePorts(1);
    const gone = await runBench(['set', '-P', String(nobody), '-n', '10']);
    expect(gone.code).to.equal(1);
    expect(gone.stderr).to.contain(
      `kvdb-bench: cannot reach kvdb at 127.0.0.1:${nobody}: connection refused (is kvdb-server running there?)`,
    );
    expect(gone.stdout).to.equal('');
  });

  it('kvdb points `kvdb bench` at kvdb-bench in one line, with status 2, and sends nothing', async () => {
    const run = await runKvdb(['-P', String(cluster.node(0).port), 'bench', 'set', '-d', '10s']);
    expect(run.code).to.equal(2);
    const port = cluster.node(0).port;
    expect(run.stderr, 'the flags before `bench` kept').to.equal(
      `kvdb: the benchmark is kvdb-bench, not kvdb bench: kvdb-bench -P ${port} set -d 10s\n`,
    );
    expect(run.stdout).to.equal('');
  });
});
