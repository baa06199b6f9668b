import { UsageError } from '@kvdb/core';
import { expect } from 'chai';
import {
  formatTarget,
  parseDuration,
  parseRate,
  parseRatio,
  parseTargets,
  type RawBenchArgs,
  resolveBenchOptions,
} from '../src/options.js';

describe('bench options: parseDuration', () => {
  it('reads ms, s and m, and a bare number as seconds', () => {
    expect(parseDuration('500ms')).to.equal(500);
    expect(parseDuration('10s')).to.equal(10_000);
    expect(parseDuration('1.5s')).to.equal(1_500);
    expect(parseDuration('2m')).to.equal(120_000);
    expect(parseDuration('3')).to.equal(3_000);
    expect(parseDuration(4)).to.equal(4_000);
  });

  it('refuses anything else, naming the flag and what it expects', () => {
    for (const bad of ['', '10x', 's', '-1s', '0s', '0.1ms', '1h', '10 s s']) {
      expect(() => parseDuration(bad), bad).to.throw(UsageError, /Expected `--duration` to be a time/);
    }
  });

  it('takes no time at all only when asked to', () => {
    expect(() => parseDuration('0s')).to.throw(/to be a time of at least 1 ms/);
    expect(parseDuration('0s', '--warmup-time', 0)).to.equal(0);
    expect(parseDuration('0', '--warmup-time', 0)).to.equal(0);
    expect(() => parseDuration('-1s', '--warmup-time', 0)).to.throw(
      UsageError,
      /^Expected `--warmup-time` to be a time such as 10s, 500ms or 2m, got "-1s"$/,
    );
  });
});

describe('bench options: parseRatio', () => {
  it('reads get:set', () => {
    expect(parseRatio('9:1')).to.deep.equal({ get: 9, set: 1 });
    expect(parseRatio(' 1 : 3 ')).to.deep.equal({ get: 1, set: 3 });
    expect(parseRatio('0:1')).to.deep.equal({ get: 0, set: 1 });
  });

  it('refuses malformed ratios and 0:0', () => {
    for (const bad of ['9', '9:1:1', 'a:b', '-1:2', '1.5:1', '0:0', '']) {
      expect(() => parseRatio(bad), bad).to.throw(UsageError, /Expected `--ratio` to be get:set/);
    }
  });
});

describe('bench options: parseTargets', () => {
  it('reads comma-separated and repeated host:port, and bracketed IPv6', () => {
    expect(parseTargets('127.0.0.1:7100,127.0.0.1:7101')).to.deep.equal([
      { host: '127.0.0.1', port: 7100 },
      { host: '127.0.0.1', port: 7101 },
    ]);
    expect(parseTargets(['a:1', 'b:2,c:3'])).to.have.length(3);
    expect(parseTargets('[::1]:5878')).to.deep.equal([{ host: '::1', port: 5878 }]);
    expect(formatTarget({ host: '::1', port: 5878 })).to.equal('[::1]:5878');
  });

  it('refuses missing ports, bad ports, duplicates and empty lists', () => {
    expect(() => parseTargets('localhost')).to.throw(/host:port/);
    expect(() => parseTargets('a:0')).to.throw(/port from 1 to 65535/);
    expect(() => parseTargets('a:70000')).to.throw(/port from 1 to 65535/);
    expect(() => parseTargets('a:1,a:1')).to.throw(/a:1 twice/);
    expect(() => parseTargets(',')).to.throw(/at least one/);
  });
});

describe('bench options: resolveBenchOptions', () => {
  it('resolves every default: set, 32 in flight, 10 s, 10,000 keys, 100-byte values, the -H/-P node', () => {
    expect(resolveBenchOptions({})).to.deep.equal({
      operation: 'set',
      targets: [{ host: '127.0.0.1', port: 5878 }],
      concurrency: 32,
      stop: { durationMs: 10_000 },
      ratio: { get: 0, set: 1 },
      keyspace: 10_000,
      valueSize: 100,
      warmup: false,
      warmupMs: 0,
      workers: 1,
      timeoutMs: 5_000,
    });
  });

  it('reads --warmup-time as a duration, 0 included', () => {
    expect(resolveBenchOptions({ 'warmup-time': '3s' }).warmupMs).to.equal(3_000);
    expect(resolveBenchOptions({ 'warmup-time': '0' }).warmupMs).to.equal(0);
    expect(() => resolveBenchOptions({ 'warmup-time': 'soon' })).to.throw(
      UsageError,
      /`--warmup-time` to be a time/,
    );
  });

  it('takes the node from -H/-P unless --targets is given', () => {
    expect(resolveBenchOptions({ host: '10.0.0.1', port: 7000 }).targets).to.deep.equal([
      { host: '10.0.0.1', port: 7000 },
    ]);
    expect(resolveBenchOptions({ port: 7000, targets: ['127.0.0.1:7100'] }).targets).to.deep.equal([
      { host: '127.0.0.1', port: 7100 },
    ]);
  });

  it('warms up get and mixed runs by default, and gives mixed runs the 9:1 ratio', () => {
    expect(resolveBenchOptions({ operation: 'get' })).to.include({ warmup: true });
    expect(resolveBenchOptions({ operation: 'get' }).ratio).to.deep.equal({ get: 1, set: 0 });
    expect(resolveBenchOptions({ operation: 'get', warmup: false })).to.include({ warmup: false });
    const mixed = resolveBenchOptions({ operation: 'mixed' });
    expect(mixed.ratio).to.deep.equal({ get: 9, set: 1 });
    expect(mixed.warmup).to.equal(true);
    expect(resolveBenchOptions({ operation: 'mixed', ratio: '1:1' }).ratio).to.deep.equal({ get: 1, set: 1 });
  });

  it('stops on --requests instead of a duration, and refuses both', () => {
    expect(resolveBenchOptions({ requests: 1000 }).stop).to.deep.equal({ requests: 1000 });
    expect(resolveBenchOptions({ duration: '500ms' }).stop).to.deep.equal({ durationMs: 500 });
    expect(() => resolveBenchOptions({ requests: 10, duration: '1s' })).to.throw(
      /either `--duration` or `--requests`/,
    );
  });

  it('names the expectation of each bad flag', () => {
    const cases: Array<[Parameters<typeof resolveBenchOptions>[0], RegExp]> = [
      [{ concurrency: 0 }, /`--concurrency` to be an integer from 1 and up, got 0/],
      [{ concurrency: 1.5 }, /`--concurrency` to be an integer/],
      [{ workers: 0 }, /`--workers` to be an integer from 1 to 64/],
      [{ workers: 4, concurrency: 2 }, /`--workers` \(4\) to be at most `--concurrency` \(2\)/],
      [{ requests: 0 }, /`--requests` to be an integer from 1 and up/],
      [{ requests: 1, workers: 2 }, /`--requests` to be at least `--workers`/],
      [{ keyspace: 0 }, /`--keyspace` to be an integer from 1 and up/],
      [{ 'value-size': -1 }, /`--value-size` to be an integer from 0 to 1000000/],
      [{ operation: 'del' }, /operation to be one of set, get, mixed/],
      [{ ratio: '9:1' }, /`--ratio` applies to the mixed operation only/],
      [{ operation: 'mixed', ratio: 'x' }, /`--ratio` to be get:set/],
      [{ consistency: 'most' }, /`--consistency` to be one of one, quorum, all/],
      [{ port: 0 }, /`--port` to be an integer from 1 to 65535/],
      [{ timeout: 0 }, /`--timeout`/],
      [{ 'auth-token': 'token\r\nx-injected: 1' }, /`--auth-token` to be one line/],
    ];
    for (const [raw, message] of cases) {
      expect(() => resolveBenchOptions(raw), JSON.stringify(raw)).to.throw(UsageError, message);
    }
  });

  it('passes the consistency level and the auth token through', () => {
    const options = resolveBenchOptions({ consistency: 'one', 'auth-token': 's3cret' });
    expect(options.consistency).to.equal('one');
    expect(options.authToken).to.equal('s3cret');
  });
});

describe('bench options: --workload and --rate', () => {
  it('runs a YCSB core workload as a mix, on 1 KB records, with the load phase on', () => {
    const options = resolveBenchOptions({ workload: 'a' });
    expect(options).to.deep.include({ operation: 'mixed', workload: 'a', valueSize: 1_000, warmup: true });
    expect(options.ratio).to.deep.equal({ get: 0, set: 0 });
    expect(resolveBenchOptions({ workload: 'F ' }).workload).to.equal('f');
    expect(resolveBenchOptions({ workload: 'c', 'value-size': 100, warmup: false })).to.deep.include({
      valueSize: 100,
      warmup: false,
    });
  });

  it('refuses an unknown workload, and a workload beside an operation or a ratio', () => {
    const cases: Array<[RawBenchArgs, RegExp]> = [
      [
        { workload: 'g' },
        /^Expected `--workload` to be one of YCSB's core workloads a, b, c, d, e, f, got "g"$/,
      ],
      [{ workload: '' }, /`--workload` to be one of/],
      [
        { workload: 'a', operation: 'get' },
        /either an operation \(set, get, mixed\) or `--workload`, not both/,
      ],
      [{ workload: 'a', ratio: '1:1' }, /`--ratio` applies to the mixed operation only/],
      [{ workload: 'b', keyspace: 10_000_000_001 }, /`--keyspace` to be an integer from 1 to 10000000000/],
    ];
    for (const [raw, message] of cases) {
      expect(() => resolveBenchOptions(raw), JSON.stringify(raw)).to.throw(UsageError, message);
    }
  });

  it('reads --rate as operations per second, fractions allowed, and leaves it out for a closed loop', () => {
    expect(resolveBenchOptions({ rate: '5000' }).rate).to.equal(5_000);
    expect(resolveBenchOptions({ rate: 0.5 }).rate).to.equal(0.5);
    expect(resolveBenchOptions({}).rate).to.equal(undefined);
    expect('rate' in resolveBenchOptions({})).to.equal(false);
  });

  it('refuses a rate that is not a number above 0, naming the flag', () => {
    for (const bad of ['0', '-5', 'fast', '', '1e400', 0, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => parseRate(bad), String(bad)).to.throw(
        UsageError,
        /^Expected `--rate` to be a number of operations per second above 0, such as 5000, got /,
      );
    }
    expect(() => resolveBenchOptions({ rate: 'fast' })).to.throw(UsageError, /got "fast"$/);
    expect(() => resolveBenchOptions({ rate: Number.NaN })).to.throw(UsageError, /got NaN$/);
  });
});
