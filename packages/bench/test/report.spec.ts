import { expect } from 'chai';
import { DEFAULT_THRESHOLDS, evaluateChecks, failures, formatCheckTable } from '../src/check-verdict.js';
import {
  countErrors,
  emptyTally,
  mergeTallies,
  noteRpcError,
  noteTransportError,
} from '../src/errors-tally.js';
import {
  createHistogram,
  decodeHistogram,
  encodeHistogram,
  mergeHistograms,
  recordMillis,
  summarize,
} from '../src/histogram.js';
import { formatLatencyChart, latencyBuckets } from '../src/latency-chart.js';
import { resolveBenchOptions } from '../src/options.js';
import {
  type BenchSummary,
  formatComparison,
  formatErrors,
  formatReport,
  summarizeResult,
  throughputRatio,
} from '../src/report.js';
import { combineResults, median, roundOptions, roundRatios } from '../src/rounds.js';
import type { BenchResult } from '../src/runner.js';

function histogramOf(millis: number[]) {
  const histogram = createHistogram();
  for (const ms of millis) recordMillis(histogram, ms);
  return histogram;
}

function result(overrides: Partial<BenchResult> = {}): BenchResult {
  const histogram = histogramOf([...Array(98).fill(1), 5, 20]);
  return {
    options: resolveBenchOptions({ targets: '127.0.0.1:7100,127.0.0.1:7101' }),
    completed: 100,
    ok: 100,
    gets: 0,
    sets: 100,
    misses: 0,
    operations: { update: histogram },
    unsent: 0,
    errors: emptyTally(),
    durationMs: 2_000,
    throughput: 50,
    histogram,
    clientCpuMs: 1_000,
    ...overrides,
  };
}

describe('bench histogram', () => {
  it('records milliseconds as microseconds and reports percentiles in ms', () => {
    const latency = summarize(histogramOf([...Array(90).fill(1), ...Array(9).fill(2), 10]));
    expect(latency.p50).to.be.closeTo(1, 0.01);
    expect(latency.p90).to.be.closeTo(1, 0.01);
    expect(latency.p99).to.be.closeTo(2, 0.01);
    expect(latency.p999).to.be.closeTo(10, 0.01);
    expect(latency.max).to.be.closeTo(10, 0.01);
    expect(latency.min).to.be.closeTo(1, 0.01);
  });

  it('counts sub-microsecond latencies as 1 µs, and an empty histogram as zeros', () => {
    expect(summarize(histogramOf([0.0001])).max).to.equal(0.001);
    expect(summarize(createHistogram())).to.deep.include({ p50: 0, max: 0, mean: 0 });
  });

  it('merges histograms, encoded or not, as if every value went into one', () => {
    const a = histogramOf([1, 1, 1]);
    const b = histogramOf([4, 8]);
    const merged = mergeHistograms([a, encodeHistogram(b)]);
    expect(merged.totalCount).to.equal(5);
    expect(summarize(merged).max).to.be.closeTo(8, 0.01);
    expect(summarize(merged).p50).to.be.closeTo(1, 0.01);
    expect(decodeHistogram(encodeHistogram(merged)).totalCount).to.equal(5);
  });
});

describe('bench latency chart', () => {
  it('puts the requests in doubling buckets from the fastest to the slowest', () => {
    const buckets = latencyBuckets(histogramOf([...Array(50).fill(0.7), ...Array(50).fill(3)]));
    expect(buckets.map((bucket) => [bucket.fromMs, bucket.toMs])).to.deep.equal([
      [0.5, 1],
      [1, 2],
      [2, 4],
    ]);
    expect(buckets.map((bucket) => bucket.share)).to.deep.equal([0.5, 0, 0.5]);
    const chart = formatLatencyChart(buckets, 10);
    expect(chart).to.equal(
      ['  0.5–1 ms  50.0% ██████████', '    1–2 ms   0.0%', '    2–4 ms  50.0% ██████████'].join('\n'),
    );
  });

  it('says so when nothing succeeded', () => {
    expect(latencyBuckets(createHistogram())).to.deep.equal([]);
    expect(formatLatencyChart([])).to.match(/no successful requests/);
  });
});

describe('bench errors', () => {
  it('counts JSON-RPC error replies by code and transport errors by kind, keeping the first message', () => {
    const tally = emptyTally();
    noteRpcError(tally, { code: 1001, message: 'quorum not reached: 1 of 2' });
    noteRpcError(tally, { code: 1001, message: 'another' });
    noteTransportError(tally, 'ECONNRESET', 'socket hang up');
    expect(tally.rpc).to.deep.equal({ 1001: 2 });
    expect(tally.transport).to.deep.equal({ ECONNRESET: 1 });
    expect(tally.samples['1001']).to.equal('quorum not reached: 1 of 2');
    const merged = mergeTallies([tally, tally]);
    expect(countErrors(merged)).to.deep.equal({ rpc: 4, transport: 2, total: 6 });
  });
});

describe('bench report', () => {
  it('summarizes a run into one JSON-ready object', () => {
    const summary = summarizeResult(result(), { chart: true });
    expect(summary).to.deep.include({
      operation: 'set',
      targets: ['127.0.0.1:7100', '127.0.0.1:7101'],
      concurrency: 32,
      workers: 1,
      requests: 100,
      ok: 100,
      throughput: 50,
      durationMs: 2_000,
      errors: { total: 0, rpc: {}, transport: {} },
      clientCpuMicrosPerRequest: 10_000,
      clientCpuCores: 0.5,
    });
    expect(summary.latencyMs.p50).to.be.closeTo(1, 0.01);
    expect(summary.latencyChart).to.be.an('array').that.is.not.empty;
    expect(decodeHistogram(summary.hdrHistogram).totalCount).to.equal(100);
    expect(JSON.parse(JSON.stringify(summary))).to.deep.equal(summary);
  });

  it('prints throughput and p50/p90/p99/p99.9/max in ms', () => {
    const text = formatReport(summarizeResult(result()));
    expect(text).to.match(/^====== SET ======/);
    expect(text).to.include('127.0.0.1:7100, 127.0.0.1:7101');
    expect(text).to.include('32 in flight (1 worker), 10,000 keys, 100-byte values');
    expect(text).to.include('100 in 2.00 s, no errors');
    expect(text).to.match(/throughput\s+50 ops\/s/);
    expect(text).to.match(
      /latency ms\s+p50 1\.000 {2}p90 1\.000 {2}p99 5\.00\d {2}p99\.9 20\.0\d\d {2}max 20\.0\d\d/,
    );
    expect(text).to.include('client cpu   50% of a core (10000 µs a request)');
    expect(text).to.not.include('!!!');
  });

  it('says loudly that a run with errors is not a healthy one', () => {
    const errors = emptyTally();
    noteRpcError(errors, { code: 1001, message: 'quorum not reached' });
    noteTransportError(errors, 'ECONNREFUSED', 'connect ECONNREFUSED');
    const summary = summarizeResult(result({ completed: 102, errors }));
    const text = formatReport(summary);
    expect(text).to.include('2 ERRORS');
    expect(formatErrors(summary)).to.equal(
      [
        '!!! 2 of 102 requests FAILED (1.96%): the figures above do not describe a healthy run',
        '!!!   JSON-RPC error 1001 × 1: quorum not reached',
        '!!!   transport ECONNREFUSED × 1: connect ECONNREFUSED',
      ].join('\n'),
    );
    expect(text.endsWith(formatErrors(summary))).to.equal(true);
  });

  it('points at --warmup when gets miss, and shows the mix of a mixed run', () => {
    const options = resolveBenchOptions({ operation: 'mixed', ratio: '3:1' });
    const text = formatReport(summarizeResult(result({ options, gets: 75, sets: 25, misses: 15 })));
    expect(text).to.include('get:set 3:1');
    expect(text).to.include('75 gets, 25 sets');
    expect(text).to.include('15 gets (20.0%) found no value; --warmup sets every key first');
  });

  it('says when an unmeasured warmup load ran before the run, and not otherwise', () => {
    const options = resolveBenchOptions({ 'warmup-time': '1.5s' });
    const summary = summarizeResult(result({ options }));
    expect(summary.warmupMs).to.equal(1_500);
    expect(formatReport(summary)).to.match(/workload\s+32 in flight .*, after 1\.5 s of unmeasured load\n/);
    const plain = summarizeResult(result());
    expect(plain).to.not.have.property('warmupMs');
    expect(formatReport(plain)).to.not.include('unmeasured');
  });

  it('names a YCSB workload, and gives the latencies of each kind of operation', () => {
    const options = resolveBenchOptions({ workload: 'f', targets: '127.0.0.1:7100' });
    const reads = histogramOf([1, 1, 1]);
    const rmws = histogramOf([2, 2, 4]);
    const summary = summarizeResult(
      result({
        options,
        gets: 3,
        sets: 0,
        misses: 3,
        operations: { read: reads, rmw: rmws },
        completed: 6,
        ok: 6,
      }),
    );
    expect(summary).to.deep.include({ operation: 'mixed', workload: 'f', valueSize: 1_000 });
    expect(summary).to.not.have.property('ratio');
    expect(summary).to.not.have.property('rate');
    expect(summary.operations?.rmw?.count).to.equal(3);
    expect(summary.operations?.rmw?.latencyMs.max).to.be.closeTo(4, 0.01);
    const text = formatReport(summary);
    expect(text).to.match(/^====== YCSB F ======/);
    expect(text).to.include('ycsb         F, read-modify-write: 50% reads, 50% a read then a write');
    expect(text).to.include('1,000-byte records (10 fields)');
    expect(text).to.match(
      /\n {4}read {7}p50 1\.000 .*\(3\)\n {4}rmw {8}p50 2\.000 .* max 4\.00\d {2}\(3\)\n/,
    );
    expect(text).to.include('3 gets (50.0%) found no value');
    expect(text).to.not.include('gets, ');
  });

  it('compares a target with the reference as a ratio of throughputs', () => {
    const reference: BenchSummary = summarizeResult(result({ throughput: 20_000 }));
    const target: BenchSummary = summarizeResult(result({ throughput: 15_000 }));
    expect(throughputRatio(target, reference)).to.equal(0.75);
    const text = formatComparison(reference, target);
    expect(text).to.include('20,000');
    expect(text).to.include('15,000');
    expect(text).to.include('ratio        0.75 (target ops/s ÷ reference ops/s)');
  });
});

describe('bench:check verdict', () => {
  const reference = { throughput: 20_000, p99Ms: 5, errors: 0 };
  const run = (throughput: number, errors = 0) => ({ throughput, p99Ms: 6, errors });

  it('derives the thresholds from the targets', () => {
    expect(DEFAULT_THRESHOLDS['single set']).to.equal(0.7);
    expect(DEFAULT_THRESHOLDS['single get']).to.equal(0.7);
    expect(DEFAULT_THRESHOLDS['single set 16k']).to.equal(0.7);
    expect(DEFAULT_THRESHOLDS['single get 16k']).to.equal(0.7);
    // The absolute targets over the reference's throughput on the machine they were set for.
    expect(DEFAULT_THRESHOLDS['cluster set']).to.equal(0.34); // 10,000 / 29,500
    expect(DEFAULT_THRESHOLDS['cluster get']).to.equal(0.44); // 15,000 / 33,800
    expect(DEFAULT_THRESHOLDS['durable set']).to.equal(0.17); // 5,000 / 29,500
  });

  it('passes a run whose median round ratio reaches its threshold, and fails one below it or with errors', () => {
    const rows = evaluateChecks(
      {
        'single set': { target: run(14_000), reference, ratios: [0.2, 0.7, 0.9] },
        'single get': { target: run(13_000), reference, ratios: [0.65, 0.6, 0.8] },
        'cluster set': { target: run(19_000, 3), reference, ratios: [0.95] },
      },
      {
        'single set': 0.7,
        'single get': 0.7,
        'single set 16k': 0.7,
        'single get 16k': 0.7,
        'cluster set': 0.5,
        'cluster get': 0.5,
        'durable set': 0.2,
      },
    );
    expect(rows.map((row) => [row.name, row.ratio, row.passed])).to.deep.equal([
      ['single set', 0.7, true],
      ['single get', 0.65, false],
      ['cluster set', 0.95, false],
    ]);
    expect(failures(rows)).to.deep.equal([
      'single get: 0.65 of the reference, below 0.70',
      'cluster set: 3 requests failed',
    ]);
    const table = formatCheckTable(rows);
    expect(table.split('\n')[0]).to.match(
      /^run\s+ops\/s\s+p99 ms\s+reference ops\/s\s+errors\s+rounds\s+ratio\s+threshold\s+result$/,
    );
    expect(table).to.match(
      /single get\s+13,000\s+6\.00\s+20,000\s+0\s+0\.65 0\.60 0\.80\s+0\.65\s+≥ 0\.70\s+FAIL/,
    );
  });
});

describe('bench rounds', () => {
  it('splits a duration or a request count over the rounds and warms up in the first only, load included', () => {
    const timed = resolveBenchOptions({ operation: 'get', duration: '10s' });
    expect(roundOptions(timed, 3, 0)).to.deep.include({ stop: { durationMs: 3_333 }, warmup: true });
    expect(roundOptions(timed, 3, 2)).to.deep.include({ stop: { durationMs: 3_333 }, warmup: false });
    const loaded = resolveBenchOptions({ duration: '10s', 'warmup-time': '2s' });
    expect([0, 1].map((round) => roundOptions(loaded, 2, round).warmupMs)).to.deep.equal([2_000, 0]);
    const counted = resolveBenchOptions({ requests: 10 });
    expect([0, 1, 2].map((round) => roundOptions(counted, 3, round).stop)).to.deep.equal([
      { requests: 4 },
      { requests: 3 },
      { requests: 3 },
    ]);
    expect(() => roundOptions(counted, 0, 0)).to.throw(/`--rounds` to be an integer from 1 and up/);
    expect(() => roundOptions(counted, 11, 10)).to.throw(/at least `--rounds` × `--workers`/);
  });

  it('combines slices into one run, and takes the ratio round by round', () => {
    const a = result({ ok: 100, completed: 100, durationMs: 1_000, throughput: 100 });
    const b = result({ ok: 300, completed: 301, durationMs: 1_000, throughput: 300 });
    const combined = combineResults([a, b]);
    expect(combined).to.deep.include({
      ok: 400,
      completed: 401,
      durationMs: 2_000,
      throughput: 200,
      clientCpuMs: 2_000,
    });
    expect(combined.histogram.totalCount).to.equal(200);
    expect(roundRatios([a, b], [b, a])).to.deep.equal([3, 1 / 3]);
    expect(median([3, 1, 2])).to.equal(2);
    expect(median([4, 1, 2, 3])).to.equal(2.5);
    expect(median([])).to.equal(0);
  });

  it('shows the median of the round ratios in the comparison', () => {
    const reference = summarizeResult(result({ throughput: 20_000 }));
    const target = summarizeResult(result({ throughput: 10_000 }));
    expect(formatComparison(reference, target, [0.4, 0.6, 0.5])).to.include(
      'ratio        0.50 (median of 3 alternating rounds: 0.40, 0.60, 0.50)',
    );
  });
});
