import { isDeepStrictEqual } from 'node:util';
import { isTombstone, type KVRecord, type MemberAddress, NULL_TEXT } from '@kvdb/core';
import { expect } from 'chai';
import type { Coordinator } from '../src/coordinator.js';
import { defined } from './utils/assertions.js';
import { History, type Outcome } from './utils/history.js';
import { seededRandom } from './utils/memory-network.js';
import { createSimCluster, SimCluster } from './utils/sim-cluster.js';
import { text } from './utils/values.js';

const NODES = 5;
const FAULTS_UNTIL_MS = 60_000;
const SETTLE_WITHIN_MS = 60_000;
const SHARED_KEYS = Array.from({ length: 8 }, (_, i) => `shared:${i}`);

interface Run {
  cluster: SimCluster;
  history: History;
  /** The faults injected, in order, with their fake time: the log to read when a seed fails. */
  events: string[];
  /** Addresses restarted with an empty store, with when. */
  wiped: Map<MemberAddress, number>;
}

/**
 * A seeded run: 60 s of faults (kills that refuse or hang, restarts that keep the store or come back empty,
 * partitions, drop rates) on 5 nodes with R = 3, while clients write, pop and read at quorum through random
 * running nodes, each key's operations one after another; then every fault is healed.
 */
async function simulate(seed: number): Promise<Run> {
  const cluster = await createSimCluster({ n: NODES, seed, timeoutMs: 1_000 });
  const random = seededRandom(seed * 977 + 13);
  const pick = <T>(items: readonly T[]): T => defined(items[Math.floor(random() * items.length)]);
  const history = new History();
  const events: string[] = [];
  const wiped = new Map<MemberAddress, number>();
  const start = cluster.now();
  const at = () => cluster.now() - start;
  const log = (event: string) => events.push(`${at()} ms: ${event}`);
  let partitioned = false;
  let nextFault = 2_000;
  let written = 0;

  const fault = async (): Promise<void> => {
    const up = cluster.upIndices();
    const down = [...Array(NODES).keys()].filter((index) => !cluster.isUp(index));
    const roll = random();
    if (roll < 0.25 && down.length < 2) {
      const victim = pick(up);
      const mode = random() < 0.5 ? 'refuse' : 'hang';
      await cluster.kill(victim, mode);
      log(`kill ${cluster.address(victim)} (${mode})`);
    } else if (roll < 0.5 && down.length > 0) {
      const back = pick(down);
      const empty = wiped.size === 0 && random() < 0.3;
      await cluster.restart(back, { empty });
      if (empty) wiped.set(cluster.address(back), at());
      log(`restart ${cluster.address(back)}${empty ? ' EMPTY' : ''}`);
    } else if (roll < 0.65 && !partitioned) {
      const minority = cluster.addresses.filter(() => random() < 0.3).slice(0, 2);
      if (minority.length === 0) return;
      cluster.network.partition(
        minority,
        cluster.addresses.filter((address) => !minority.includes(address)),
      );
      partitioned = true;
      log(`partition ${minority.join(' ')} away`);
    } else if (roll < 0.75) {
      cluster.network.heal();
      partitioned = false;
      log('heal');
    } else if (roll < 0.9) {
      const rate = Math.round((0.02 + random() * 0.13) * 100) / 100;
      cluster.network.setDropRate(rate);
      log(`drop rate ${rate}`);
    } else {
      cluster.network.setDropRate(0);
      log('drop rate 0');
    }
  };

  type Action = 'set' | 'pop' | 'get';
  const operate = async (coordinator: Coordinator, key: string, action: Action): Promise<void> => {
    if (action === 'set') {
      const value = text(`${key}#${written++}`);
      const ok = await coordinator.set(key, value).then(
        () => true,
        () => false,
      );
      history.wrote(key, value, ok);
    } else if (action === 'pop') {
      const got = await coordinator.pop(key).then(
        (value): { ok: true; got: Outcome } => ({ ok: true, got: value }),
        () => ({ ok: false as const }),
      );
      history.popped(key, got, at());
    } else {
      const got = await coordinator.get(key).catch(() => undefined);
      if (got !== undefined) history.read(key, got, at());
    }
  };

  let unique = 0;
  while (at() < FAULTS_UNTIL_MS) {
    if (at() >= nextFault) {
      await fault();
      nextFault = at() + 1_500 + Math.floor(random() * 2_500);
    }
    const actions = new Map<string, Action>();
    for (let i = 1 + Math.floor(random() * 3); i > 0; i--) {
      const roll = random();
      if (roll < 0.4) actions.set(`unique:${unique++}`, 'set');
      else if (roll < 0.5 && unique > 0)
        actions.set(`unique:${Math.floor(random() * unique)}`, pick(['pop', 'get']));
      else actions.set(pick(SHARED_KEYS), random() < 0.65 ? 'set' : pick(['pop', 'get']));
    }
    const up = cluster.upIndices();
    const batch = [...actions].map(([key, action]) =>
      operate(cluster.node(pick(up)).coordinator, key, action),
    );
    await cluster.settle(Promise.all(batch), 20_000);
    await cluster.tick(1 + Math.floor(random() * 100));
  }

  cluster.network.heal();
  cluster.network.setDropRate(0);
  for (let index = 0; index < NODES; index++) {
    if (!cluster.isUp(index)) await cluster.restart(index);
  }
  log('healed everything');
  return { cluster, history, events, wiped };
}

/** Disagreements between each key's replicas, and records held where the key does not belong. */
async function disagreements(cluster: SimCluster, keys: readonly string[]): Promise<string[]> {
  const problems: string[] = [];
  for (const key of keys) {
    const replicas = cluster
      .node(0)
      .coordinator.locate(key)
      .map((address) => cluster.indexOf(address));
    const records = await Promise.all(replicas.map((index) => cluster.store(index).get(key)));
    if (records.some((record) => !isDeepStrictEqual(record, records[0]))) {
      problems.push(`${key}: replicas ${replicas.join(',')} hold ${JSON.stringify(records)}`);
    }
    const strays = (await cluster.holders(key)).filter((index) => !replicas.includes(index));
    if (strays.length > 0) problems.push(`${key}: also held by non-replicas ${strays.join(',')}`);
  }
  return problems;
}

function outcomeOf(record: KVRecord | undefined): Outcome {
  return record === undefined || isTombstone(record) ? NULL_TEXT : record.value;
}

/** Settles a healed run and checks the invariants; resolves with every store's records, for comparing runs. */
async function check(run: Run): Promise<Array<Array<[string, KVRecord]>>> {
  const { cluster, history, events } = run;
  const keys = history.keyList();
  const context = () => `\nfaults:\n  ${events.join('\n  ')}`;

  await cluster
    .until(async () => (await disagreements(cluster, keys)).length === 0, {
      withinMs: SETTLE_WITHIN_MS,
      stepMs: 1_000,
      what: 'every replica of every key holding the same record',
    })
    .catch(async (error: Error) => {
      const problems = await disagreements(cluster, keys);
      throw new Error(`${error.message}: ${problems.slice(0, 5).join('; ')}${context()}`);
    });
  await cluster.until(() => cluster.addresses.every((address) => cluster.seenAs(address, 'alive')), {
    withinMs: 10_000,
    what: `every node alive on every node${context()}`,
  });
  expect(await disagreements(cluster, keys)).to.deep.equal([]);

  const wrong: string[] = [];
  for (const key of keys) {
    const primary = cluster.indexOf(defined(cluster.node(0).coordinator.locate(key)[0]));
    const final = outcomeOf(await cluster.store(primary).get(key));
    if (!history.allows(key, final)) {
      wrong.push(`${key} ended as ${JSON.stringify(final)}, allowed ${JSON.stringify(history.allowed(key))}`);
    }
  }
  expect(wrong, `no acknowledged write lost, no popped key back${context()}`).to.deep.equal([]);

  const excused = (key: string, at: number) =>
    cluster
      .node(0)
      .coordinator.locate(key)
      .some((address) => (run.wiped.get(address) ?? Number.POSITIVE_INFINITY) <= at);
  const stale = history.staleReads.filter(({ key, at }) => !excused(key, at));
  expect(stale, `quorum reads see the last acknowledged write${context()}`).to.deep.equal([]);

  return cluster.addresses.map((_, index) => SimCluster.dump(cluster.store(index)));
}

// Seeded fault schedules over 60 s of fake time; the seed is in each title so a failure replays exactly.
describe('Randomized faults (5 nodes, R = 3, 60 s of fake time)', () => {
  let run: Run | undefined;

  afterEach(async () => {
    await run?.cluster.teardown();
    run = undefined;
  });

  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: replicas converge, no acknowledged write is lost, no popped key comes back`, async () => {
      run = await simulate(seed);
      expect(run.history.acked, 'operations acknowledged').to.be.above(100);
      expect(run.events.length, 'faults injected').to.be.at.least(10);
      await check(run);
    });
  }

  it('seed 1 replays exactly: the same faults, the same acknowledgements, the same final stores', async () => {
    run = await simulate(1);
    const first = { events: run.events, acked: run.history.acked, failed: run.history.failed };
    const firstStores = await check(run);
    await run.cluster.teardown();

    run = await simulate(1);
    expect({ events: run.events, acked: run.history.acked, failed: run.history.failed }).to.deep.equal(first);
    expect(await check(run)).to.deep.equal(firstStores);
  });
});
