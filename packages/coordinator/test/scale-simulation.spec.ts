import type { MemberAddress } from '@kvdb/core';
import { expect } from 'chai';
import { LAN_TIMINGS } from '../src/defaults.js';
import { defined } from './utils/assertions.js';
import { clients, populate } from './utils/clients.js';
import { History } from './utils/history.js';
import { seededRandom } from './utils/memory-network.js';
import { createSimCluster, type SimCluster } from './utils/sim-cluster.js';

const FOUNDERS = 20;
const WAVES = 4;
const PER_WAVE = 20;
const KEYS = 400;

/** The seeds CI runs; `KVDB_SIM_SEED=n` runs just that one (the command each test's title prints). */
const SEEDS = process.env.KVDB_SIM_SEED === undefined ? [101, 102] : [Number(process.env.KVDB_SIM_SEED)];

interface Run {
  cluster: SimCluster;
  history: History;
  keys: string[];
  /** What happened, with its fake time: the log to read when a seed fails. */
  events: string[];
  /** Nodes found dead by another although neither was ever killed, partitioned away or gone. */
  wronglyDead: string[];
}

/**
 * 100 nodes on one in-memory network and one fake clock, with the LAN timings real nodes default to: 20 founders,
 * then four waves of 20 joins, then a leave, a crash and recovery, and a partition that heals, while clients read
 * and write at quorum through random running nodes.
 */
async function simulate(seed: number): Promise<Run> {
  const cluster = await createSimCluster({ n: FOUNDERS, seed, vnodes: 16, timings: LAN_TIMINGS });
  const random = seededRandom(seed * 31 + 7);
  const history = new History();
  const events: string[] = [];
  const start = cluster.now();
  const log = (event: string) => events.push(`${cluster.now() - start} ms: ${event}`);
  const excused = new Set<MemberAddress>();
  const wronglyDead = new Set<string>();
  const watch = (index: number) => {
    const node = cluster.node(index);
    // A node's own verdict (its suspicion ran out), not news of one: a healthy node must never be its subject,
    // unless the verdict was reached across a partition.
    const update = node.membership.update.bind(node.membership);
    node.membership.update = (address, status, incarnation) => {
      if (status === 'dead' && !excused.has(address) && !excused.has(node.self)) {
        wronglyDead.add(`${address} by ${node.self} at ${cluster.now() - start} ms`);
      }
      return update(address, status, incarnation);
    };
  };
  for (let index = 0; index < FOUNDERS; index++) watch(index);

  const keys = await populate(cluster, KEYS, history);
  let stop = false;
  const load = clients(cluster, {
    keys,
    through: () => cluster.upIndices(),
    history,
    seed,
    done: () => stop,
  });
  const normalOnAll = (addresses: MemberAddress[]) =>
    cluster
      .upIndices()
      .every((index) =>
        addresses.every((address) => cluster.node(index).membership.get(address)?.phase === 'normal'),
      );

  for (let wave = 0; wave < WAVES; wave++) {
    const joined: MemberAddress[] = [];
    for (let i = 0; i < PER_WAVE; i++) {
      const seedNode = cluster.address(Math.floor(random() * FOUNDERS));
      const index = await cluster.add({ seeds: [seedNode] });
      watch(index);
      joined.push(cluster.address(index));
    }
    log(`wave ${wave + 1}: ${PER_WAVE} nodes join`);
    await cluster.until(() => normalOnAll(joined), {
      withinMs: 120_000,
      stepMs: 500,
      what: `wave ${wave + 1} normal everywhere`,
    });
    log(`wave ${wave + 1} serving reads everywhere`);
  }

  const leaver = 1 + Math.floor(random() * (FOUNDERS - 1));
  excused.add(cluster.address(leaver));
  log(`${cluster.address(leaver)} leaves`);
  await cluster.settle(cluster.node(leaver).leave(), 120_000, 100);
  await cluster.kill(leaver);

  const crashed = FOUNDERS + Math.floor(random() * WAVES * PER_WAVE);
  excused.add(cluster.address(crashed));
  log(`${cluster.address(crashed)} crashes`);
  await cluster.kill(crashed, 'hang');
  await cluster.until(() => cluster.seenAs(cluster.address(crashed), 'dead'), {
    withinMs: 60_000,
    stepMs: 500,
    what: 'the crash seen everywhere',
  });
  await cluster.restart(crashed, { seeds: [cluster.address(0)] });
  watch(crashed);
  log(`${cluster.address(crashed)} restarts`);

  const up = cluster.upIndices();
  const cut = up
    .filter(() => random() < 0.03)
    .slice(0, 3)
    .map((index) => cluster.address(index));
  for (const address of cut) excused.add(address);
  cluster.network.partition(
    cut,
    cluster.addresses.filter((address) => !cut.includes(address)),
  );
  log(`partition ${cut.join(' ')} away`);
  await cluster.tick(8_000);
  cluster.network.heal();
  log('heal');

  await cluster.until(
    () =>
      cluster.addresses.every((address, index) => !cluster.isUp(index) || cluster.seenAs(address, 'alive')),
    {
      withinMs: 60_000,
      stepMs: 500,
      what: 'every running node alive everywhere',
    },
  );
  stop = true;
  await cluster.settle(load, 30_000, 100);
  return { cluster, history, keys, events, wronglyDead: [...wronglyDead] };
}

// The seed is in each title; `KVDB_SIM_SEED=<seed> npx mocha packages/coordinator/dist/test/scale-simulation.spec.js`
// replays it exactly (fake time, seeded network and choices).
describe(`Scale simulation (${FOUNDERS + WAVES * PER_WAVE} nodes, R = 3, LAN timings, fake time)`, function () {
  this.timeout(600_000);
  let run: Run | undefined;

  afterEach(async () => {
    await run?.cluster.teardown();
    run = undefined;
  });

  for (const seed of SEEDS) {
    it(`seed ${seed}: joins in waves, a leave, a crash and a partition: no read misses, every key on its 3 owners, no healthy node dead`, async () => {
      run = await simulate(seed);
      const { cluster, history, keys, events } = run;
      const context = `\nevents:\n  ${events.join('\n  ')}`;
      expect(history.acked, 'writes acknowledged').to.be.above(500);
      expect(
        history.staleReads.slice(0, 10),
        `reads that missed an acknowledged write${context}`,
      ).to.deep.equal([]);
      expect(
        run.wronglyDead.slice(0, 12),
        `healthy nodes declared dead (${run.wronglyDead.length})${context}`,
      ).to.deep.equal([]);
      await cluster.until(() => cluster.placedExactly(keys, cluster.upIndices()), {
        withinMs: 120_000,
        stepMs: 1_000,
        what: `every key on exactly its 3 owners${context}`,
      });
      for (const key of keys) expect(defined(cluster.node(0).coordinator.locate(key))).to.have.length(3);
    });
  }
});
