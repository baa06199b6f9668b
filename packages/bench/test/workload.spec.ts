import { defined } from '@kvdb/core/testing';
import { expect } from 'chai';
import { resolveBenchOptions } from '../src/options.js';
import { share, warmupLoadPlan, warmupPlan, workerPlans } from '../src/plan.js';
import { Workload } from '../src/workload.js';

function sequence(values: number[]): () => number {
  let index = 0;
  return () => defined(values[index++ % values.length]);
}

describe('bench workload', () => {
  it('builds JSON-RPC set and get bodies with named params that JSON.parse reads back', () => {
    const workload = new Workload({ ratio: { get: 0, set: 1 }, keyspace: 10, valueSize: 5 });
    const set = JSON.parse(workload.body('set', 7));
    expect(set).to.deep.include({ jsonrpc: '2.0', method: 'set', params: { key: 'key:7', value: 'xxxxx' } });
    const get = JSON.parse(workload.body('get', 3));
    expect(get).to.deep.include({ jsonrpc: '2.0', method: 'get', params: { key: 'key:3' } });
    expect(get.id).to.not.equal(set.id);
  });

  it('adds the consistency level when one is given', () => {
    const workload = new Workload({
      ratio: { get: 1, set: 0 },
      keyspace: 10,
      valueSize: 1,
      consistency: 'all',
    });
    expect(JSON.parse(workload.body('get', 1)).params).to.deep.equal({ key: 'key:1', consistency: 'all' });
  });

  it('mixes gets and sets by the ratio, and draws keys within the keyspace', () => {
    const workload = new Workload({
      ratio: { get: 3, set: 1 },
      keyspace: 100,
      valueSize: 1,
      random: sequence([0.1, 0.5, 0.74, 0.75, 0.99]),
    });
    expect([1, 2, 3, 4, 5].map(() => workload.nextMethod())).to.deep.equal([
      'get',
      'get',
      'get',
      'set',
      'set',
    ]);
    const keys = new Workload({
      ratio: { get: 1, set: 0 },
      keyspace: 100,
      valueSize: 1,
      random: sequence([0, 0.999]),
    });
    expect([keys.nextKey(), keys.nextKey()]).to.deep.equal([0, 99]);
  });

  it('walks the keys in order for a warmup', () => {
    const workload = new Workload({ ratio: { get: 0, set: 1 }, keyspace: 3, valueSize: 1, sequential: true });
    expect([1, 2, 3, 4].map(() => workload.nextKey())).to.deep.equal([0, 1, 2, 0]);
  });
});

describe('bench plan', () => {
  it('shares out integers, larger shares first', () => {
    expect([0, 1, 2].map((index) => share(32, 3, index))).to.deep.equal([11, 11, 10]);
  });

  it('gives each worker a contiguous block of slots and its share of --requests', () => {
    const options = resolveBenchOptions({ concurrency: 5, workers: 2, requests: 1001, targets: 'a:1,b:2' });
    const plans = workerPlans(options);
    expect(plans.map((plan) => [plan.firstSlot, plan.concurrency])).to.deep.equal([
      [0, 3],
      [3, 2],
    ]);
    expect(plans.map((plan) => plan.stop.requests)).to.deep.equal([601, 400]);
    expect(plans.every((plan) => plan.targets.length === 2)).to.equal(true);
  });

  it('keeps the duration for every worker', () => {
    const plans = workerPlans(resolveBenchOptions({ concurrency: 4, workers: 4, duration: '2s' }));
    expect(plans.map((plan) => plan.stop)).to.deep.equal(Array(4).fill({ durationMs: 2_000 }));
  });

  it('warms up with one set of every key, in order', () => {
    const plan = warmupPlan(resolveBenchOptions({ operation: 'get', keyspace: 20, concurrency: 32 }));
    expect(plan.stop).to.deep.equal({ requests: 20 });
    expect(plan.concurrency).to.equal(20);
    expect(plan.workload).to.deep.include({ ratio: { get: 0, set: 1 }, sequential: true });
  });

  it('runs the warmup load with the run’s own workload and concurrency, for --warmup-time', () => {
    const options = resolveBenchOptions({ operation: 'mixed', ratio: '3:1', concurrency: 8, requests: 99 });
    const plan = warmupLoadPlan({ ...options, warmupMs: 1_500 });
    expect(plan.stop).to.deep.equal({ durationMs: 1_500 });
    expect(plan.concurrency).to.equal(8);
    expect(plan.workload).to.deep.include({ ratio: { get: 3, set: 1 }, keyspace: 10_000 });
    expect(plan.workload.sequential).to.equal(undefined);
  });
});
