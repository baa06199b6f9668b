import { defined } from '@kvdb/core/testing';
import { expect } from 'chai';
import { CORE_WORKLOAD_NAMES, CORE_WORKLOADS, MAX_SCAN_LENGTH, recordJson } from '../src/core-workloads.js';
import { InsertSequence } from '../src/key-chooser.js';
import { resolveBenchOptions } from '../src/options.js';
import { ratioMix, share, warmupLoadPlan, warmupPlan, workerPlans } from '../src/plan.js';
import { Workload, type WorkloadInit } from '../src/workload.js';
import { zeta } from '../src/zipfian.js';
import { binomialBounds, seededRandom } from './helpers/seeded-random.js';

function sequence(values: number[]): () => number {
  let index = 0;
  return () => defined(values[index++ % values.length]);
}

const sets: WorkloadInit = { mix: { update: 1 }, keys: { loaded: 10 }, valueSize: 5 };

/** How often each value came up. */
function tally<T>(draws: number, draw: () => T): Map<T, number> {
  const counts = new Map<T, number>();
  for (let index = 0; index < draws; index++) {
    const value = draw();
    counts.set(value, (counts.get(value) ?? 0) + 1);
  }
  return counts;
}

describe('bench workload', () => {
  it('builds JSON-RPC set and get bodies with named params that JSON.parse reads back', () => {
    const workload = new Workload(sets);
    const set = JSON.parse(workload.body('set', 7));
    expect(set).to.deep.include({ jsonrpc: '2.0', method: 'set', params: { key: 'key:7', value: 'xxxxx' } });
    const get = JSON.parse(workload.body('get', 3));
    expect(get).to.deep.include({ jsonrpc: '2.0', method: 'get', params: { key: 'key:3' } });
    expect(get.id).to.not.equal(set.id);
  });

  it('adds the consistency level when one is given', () => {
    const workload = new Workload({ ...sets, consistency: 'all' });
    expect(JSON.parse(workload.body('get', 1)).params).to.deep.equal({ key: 'key:1', consistency: 'all' });
    expect(JSON.parse(workload.body('mget', 1, 2)).params).to.deep.equal({
      keys: ['key:1', 'key:2'],
      consistency: 'all',
    });
  });

  it('mixes gets and sets by the ratio, and draws keys within the keyspace', () => {
    const workload = new Workload({
      mix: ratioMix({ get: 3, set: 1 }),
      keys: { loaded: 100 },
      valueSize: 1,
      random: sequence([0.1, 0.5, 0.74, 0.75, 0.99]),
    });
    expect([1, 2, 3, 4, 5].map(() => workload.nextOperation())).to.deep.equal([
      'read',
      'read',
      'read',
      'update',
      'update',
    ]);
    const keys = new Workload({
      mix: { read: 1 },
      keys: { loaded: 100 },
      valueSize: 1,
      random: sequence([0, 0.999]),
    });
    expect([keys.nextKey('read'), keys.nextKey('read')]).to.deep.equal([0, 99]);
  });

  it('walks the keys in order for a warmup', () => {
    const workload = new Workload({ ...sets, keys: { loaded: 3 }, sequential: true });
    expect([1, 2, 3, 4].map(() => workload.nextKey('update'))).to.deep.equal([0, 1, 2, 0]);
  });

  it('writes YCSB records: 10 fields sharing the size, as one JSON value', () => {
    const record = JSON.parse(recordJson(1_000)) as Record<string, string>;
    expect(Object.keys(record)).to.deep.equal([...Array(10).keys()].map((field) => `field${field}`));
    expect(Object.values(record).every((value) => value.length === 100)).to.equal(true);
    const odd = Object.values(JSON.parse(recordJson(1_005)) as Record<string, string>).map(
      (value) => value.length,
    );
    expect(odd).to.deep.equal([101, 101, 101, 101, 101, 100, 100, 100, 100, 100]);
    const workload = new Workload({ ...sets, valueSize: 1_000, records: true });
    expect(JSON.parse(workload.body('set', 1)).params.value).to.deep.equal(record);
  });

  it('scans as one mget of the keys that follow the start, 1 to 100 of them, cut at the last loaded key', () => {
    const workload = new Workload({
      mix: { scan: 1 },
      keys: { loaded: 1_000 },
      valueSize: 1,
      random: seededRandom(7),
    });
    expect(JSON.parse(workload.body('mget', 40, 3)).params).to.deep.equal({
      keys: ['key:40', 'key:41', 'key:42'],
    });
    const lengths = tally(20_000, () => workload.scanLength(0));
    expect(Math.min(...lengths.keys())).to.equal(1);
    expect(Math.max(...lengths.keys())).to.equal(MAX_SCAN_LENGTH);
    const [low, high] = binomialBounds(20_000, 1 / MAX_SCAN_LENGTH);
    for (const count of lengths.values()) expect(count).to.be.within(low, high);
    expect(Math.max(...tally(1_000, () => workload.scanLength(995)).keys())).to.equal(5);
  });
});

describe('bench workload: YCSB core workloads', () => {
  it('runs each workload’s mix: the share of every kind of operation within 5 σ over 20,000 draws', () => {
    for (const name of CORE_WORKLOAD_NAMES) {
      const [plan] = workerPlans(resolveBenchOptions({ workload: name }));
      const workload = new Workload({ ...defined(plan).workload, random: seededRandom(29) });
      const counts = tally(20_000, () => workload.nextOperation());
      const mix = CORE_WORKLOADS[name].mix;
      expect([...counts.keys()].sort(), name).to.deep.equal(Object.keys(mix).sort());
      for (const [kind, count] of counts) {
        const p = defined(mix[kind]);
        const [low, high] = p === 1 ? [20_000, 20_000] : binomialBounds(20_000, p);
        expect(count, `${name} ${kind}`).to.be.within(low, high);
      }
    }
  });

  it('gives the workloads YCSB’s key choice and records, and inserts past the keyspace', () => {
    const [plan] = workerPlans(resolveBenchOptions({ workload: 'd', keyspace: 500 }));
    expect(defined(plan).workload).to.deep.include({
      distribution: 'latest',
      records: true,
      valueSize: 1_000,
    });
    const workload = new Workload(defined(plan).workload);
    expect([workload.nextKey('insert'), workload.nextKey('insert')]).to.deep.equal([500, 501]);
    for (const name of ['a', 'b', 'c', 'e', 'f'] as const) {
      expect(CORE_WORKLOADS[name].distribution, name).to.equal('zipfian');
    }
  });

  it('gives each worker its own keys to insert, every workers-th one', () => {
    const plans = workerPlans(
      resolveBenchOptions({ workload: 'e', keyspace: 100, workers: 2, concurrency: 4 }),
    );
    const inserts = plans.map((plan) => {
      const workload = new Workload(plan.workload);
      return [workload.nextKey('insert'), workload.nextKey('insert')];
    });
    expect(inserts).to.deep.equal([
      [100, 102],
      [101, 103],
    ]);
  });

  it('counts an insert present once it and every insert before it completed', () => {
    const inserts = new InsertSequence({ loaded: 10, offset: 1, stride: 3 });
    const keys = [inserts.next(), inserts.next(), inserts.next()];
    expect(keys).to.deep.equal([11, 14, 17]);
    inserts.completed(14);
    inserts.completed(17);
    expect(inserts.present).to.equal(0);
    inserts.completed(11);
    expect(inserts.present).to.equal(3);
  });

  it('reads the latest records most: the newest insert takes 1/ζ(n) of the reads, a key in flight none', () => {
    const loaded = 1_000;
    const workload = new Workload({
      mix: CORE_WORKLOADS.d.mix,
      distribution: 'latest',
      keys: { loaded },
      valueSize: 1,
      random: seededRandom(4),
    });
    for (let insert = 0; insert < 50; insert++) workload.inserts.completed(workload.nextKey('insert'));
    const inFlight = workload.nextKey('insert');
    const draws = 50_000;
    const counts = tally(draws, () => workload.nextKey('read'));
    const present = loaded + 50;
    expect(counts.get(inFlight)).to.equal(undefined);
    expect(Math.max(...counts.keys())).to.equal(loaded + 49);
    expect(Math.min(...counts.keys())).to.be.at.least(0);
    const [low, high] = binomialBounds(draws, 1 / zeta(present, 0.99));
    expect(defined(counts.get(loaded + 49))).to.be.within(low, high);
    // The 50 new records and the 55 highest loaded keys, the newest tenth, take about ζ(105)/ζ(1050) of the reads.
    let newest = 0;
    for (const [key, count] of counts) if (key >= loaded - 55) newest += count;
    const expected = zeta(105, 0.99) / zeta(present, 0.99);
    expect(newest / draws).to.be.within(expected - 0.02, expected + 0.02);
  });
});

describe('bench plan', () => {
  it('shares out integers, larger shares first', () => {
    expect([0, 1, 2].map((index) => share(32, 3, index))).to.deep.equal([11, 11, 10]);
  });

  it('gives each worker a contiguous block of slots and its share of --requests and --rate', () => {
    const options = resolveBenchOptions({
      concurrency: 5,
      workers: 2,
      requests: 1001,
      rate: 1_000,
      targets: 'a:1,b:2',
    });
    const plans = workerPlans(options);
    expect(plans.map((plan) => [plan.firstSlot, plan.concurrency])).to.deep.equal([
      [0, 3],
      [3, 2],
    ]);
    expect(plans.map((plan) => plan.stop.requests)).to.deep.equal([601, 400]);
    expect(plans.map((plan) => plan.rate)).to.deep.equal([600, 400]);
    expect(plans.every((plan) => plan.targets.length === 2)).to.equal(true);
  });

  it('keeps the duration for every worker, and a closed loop without --rate', () => {
    const plans = workerPlans(resolveBenchOptions({ concurrency: 4, workers: 4, duration: '2s' }));
    expect(plans.map((plan) => plan.stop)).to.deep.equal(Array(4).fill({ durationMs: 2_000 }));
    expect(plans.map((plan) => plan.rate)).to.deep.equal(Array(4).fill(undefined));
  });

  it('warms up with one set of every key, in order, as fast as it goes', () => {
    const plan = warmupPlan(
      resolveBenchOptions({ operation: 'get', keyspace: 20, concurrency: 32, rate: 10 }),
    );
    expect(plan.stop).to.deep.equal({ requests: 20 });
    expect(plan.concurrency).to.equal(20);
    expect(plan.rate).to.equal(undefined);
    expect(plan.workload).to.deep.include({ mix: { update: 1 }, sequential: true });
    const records = warmupPlan(resolveBenchOptions({ workload: 'c', keyspace: 20 }));
    expect(records.workload).to.deep.include({ mix: { update: 1 }, records: true, valueSize: 1_000 });
  });

  it('runs the warmup load with the run’s own workload, concurrency and rate, for --warmup-time', () => {
    const options = resolveBenchOptions({
      operation: 'mixed',
      ratio: '3:1',
      concurrency: 8,
      requests: 99,
      rate: 50,
    });
    const plan = warmupLoadPlan({ ...options, warmupMs: 1_500 });
    expect(plan.stop).to.deep.equal({ durationMs: 1_500 });
    expect(plan.concurrency).to.equal(8);
    expect(plan.rate).to.equal(50);
    expect(plan.workload).to.deep.include({ mix: { read: 0.75, update: 0.25 }, keys: { loaded: 10_000 } });
    expect(plan.workload.sequential).to.equal(undefined);
  });
});
