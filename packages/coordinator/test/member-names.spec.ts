import { QuorumNotReachedError } from '@kvdb/core';
import { expect } from 'chai';
import type { Logger } from '../src/logger.js';
import { defined } from './utils/assertions.js';
import { createSimCluster, type SimCluster } from './utils/sim-cluster.js';
import { testAddress } from './utils/test-cluster.js';
import { text } from './utils/values.js';

/** Another name of node 0, and of node 1: what a DNS name or a second address of theirs would be. */
const ALIAS_0 = 'node-0.example:5878';
const ALIAS_1 = 'node-1.example:5878';
/** An address in -C that no node answers at. */
const TYPO = '10.0.0.99:5878';

/** Warnings by node address, for counting. */
function warnings(): { logger: (address: string) => Logger; of: (address: string) => string[] } {
  const lines = new Map<string, string[]>();
  const of = (address: string) => {
    let list = lines.get(address);
    if (list === undefined) {
      list = [];
      lines.set(address, list);
    }
    return list;
  };
  const logger = (address: string): Logger => ({
    debug: () => {},
    info: () => {},
    warn: (message) => of(address).push(message),
    error: () => {},
  });
  return { logger, of };
}

/** The addresses every running node lists, each node's list sorted. */
function lists(cluster: SimCluster): string[][] {
  return cluster.upIndices().map((index) =>
    cluster
      .node(index)
      .coordinator.listMembers()
      .map(({ address }) => address),
  );
}

/** Whether every running node lists exactly `addresses`, all alive and normal, and they agree on the ring. */
function settledOn(cluster: SimCluster, addresses: readonly string[]): boolean {
  const wanted = [...addresses].sort().join();
  const ids = new Set(cluster.upIndices().map((index) => cluster.node(index).membership.placement.id));
  return (
    ids.size === 1 &&
    cluster.upIndices().every((index) => {
      const members = cluster.node(index).coordinator.listMembers();
      return (
        members.map(({ address }) => address).join() === wanted &&
        members.every(({ status, phase }) => status === 'alive' && phase === 'normal')
      );
    })
  );
}

/** Writes the keys through every running node in turn; resolves with the keys whose write failed. */
async function write(cluster: SimCluster, keys: readonly string[]): Promise<string[]> {
  const up = cluster.upIndices();
  const failed: string[] = [];
  await cluster.settle(
    Promise.all(
      keys.map((key, i) =>
        cluster
          .node(defined(up[i % up.length]))
          .coordinator.set(key, text(key))
          .catch((error: unknown) => {
            expect(error, key).to.be.instanceOf(QuorumNotReachedError);
            failed.push(key);
          }),
      ),
    ),
  );
  return failed;
}

describe('Member names: one node, one member (simulated cluster)', () => {
  let cluster: SimCluster;

  afterEach(async () => {
    await cluster?.teardown();
  });

  it('a node that joins through another name of a member: every node lists each member once, and writes reach distinct replicas', async () => {
    cluster = await createSimCluster({ n: 3, seed: 71 });
    cluster.network.alias(ALIAS_0, cluster.address(0));
    const joiner = await cluster.add({ seeds: [ALIAS_0] });
    const real = cluster.addresses;
    await cluster.until(() => settledOn(cluster, real), {
      withinMs: 30_000,
      what: 'every node listing the four members once, alive and normal, on one ring',
    });
    for (const index of cluster.upIndices()) {
      const { membership } = cluster.node(index);
      expect(membership.placement.all.has(ALIAS_0), `the alias on node ${index}'s ring`).to.equal(false);
      const alias = membership.get(ALIAS_0);
      if (alias !== undefined) expect(alias).to.include({ status: 'left', aliasOf: cluster.address(0) });
    }
    expect(lists(cluster)).to.deep.equal(real.map(() => [...real].sort()));

    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
    expect(await write(cluster, keys), 'writes that failed').to.deep.equal([]);
    for (const key of keys) {
      const replicas = cluster.node(joiner).coordinator.locate(key);
      expect(new Set(replicas).size, key).to.equal(3);
      expect((await cluster.holders(key)).length, `stores holding ${key}`).to.equal(3);
    }
  });

  it('founding members that name each other, and themselves, by other names agree on one ring of their own addresses', async () => {
    // Node 1 names itself only by another name: it finds out at its first sync, and is a founding member.
    cluster = await createSimCluster({
      n: 3,
      seed: 72,
      seedsOf: (index, addresses) =>
        index === 1 ? [ALIAS_0, ALIAS_1, testAddress(2)] : [...addresses, ALIAS_1],
      aliases: [
        [ALIAS_0, 0],
        [ALIAS_1, 1],
      ],
    });
    await cluster.until(() => settledOn(cluster, cluster.addresses), {
      withinMs: 5_000,
      what: 'every node listing the three members once, alive and normal, on one ring',
    });
    expect(cluster.node(1).membership.replication?.replicas, "node 1's -R, as a founding member's").to.equal(
      3,
    );
    expect(cluster.node(1).rangeFill.stats.segments.done, 'node 1 fetched nothing').to.equal(0);
    expect(await write(cluster, ['a', 'b', 'c', 'd']), 'writes that failed').to.deep.equal([]);
  });

  it('a member in -C that never answers: one warning per node, listed as not answered, and `leave` removes it at once', async () => {
    const logs = warnings();
    cluster = await createSimCluster({
      n: 3,
      replicas: 2,
      seed: 73,
      seedsOf: (_, addresses) => [...addresses, TYPO],
      logger: logs.logger,
    });
    await cluster.until(() => cluster.seenAs(TYPO, 'dead'), { withinMs: 10_000, what: 'the typo dead' });
    for (const index of cluster.upIndices()) {
      expect(cluster.node(index).coordinator.listMembers()).to.deep.include({
        address: TYPO,
        status: 'dead',
        answered: false,
      });
    }
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
    const failed = await write(cluster, keys);
    expect(failed.length, 'writes whose two replicas include the typo fail').to.be.above(0);

    await cluster.tick(10_000);
    for (const address of cluster.addresses) {
      const about = logs.of(address).filter((line) => line.includes(TYPO));
      expect(about, `warnings on ${address}`).to.have.length(1);
      expect(about[0]).to.contain('has never answered').and.to.contain(`leave ${TYPO}`);
    }

    const result = await cluster.settle(cluster.node(0).leave(TYPO), 5_000);
    expect(result).to.deep.equal({ left: TYPO, handedOff: 0 });
    await cluster.until(() => cluster.seenAs(TYPO, 'left'), { withinMs: 5_000, what: 'the typo left' });
    const placements = () => cluster.upIndices().map((index) => cluster.node(index).membership.placement);
    await cluster.until(
      () =>
        placements().every((placement) => !placement.all.has(TYPO) && placement.id === placements()[0]?.id),
      { withinMs: 5_000, what: 'one ring without the typo' },
    );
    expect(await write(cluster, keys), 'writes that failed once the typo is gone').to.deep.equal([]);
  });

  it('a member whose address comes to answer as another node is not counted alive: it goes dead, with a warning', async () => {
    const logs = warnings();
    cluster = await createSimCluster({ n: 3, seed: 74, logger: logs.logger });
    const moved = cluster.address(2);
    await cluster.kill(2);
    cluster.network.alias(moved, cluster.address(0));
    await cluster.until(() => cluster.seenAs(moved, 'dead'), { withinMs: 10_000, what: `${moved} dead` });
    await cluster.tick(5_000);
    expect(cluster.seenAs(moved, 'dead'), 'still dead').to.equal(true);
    const warned = logs.of(cluster.address(1)).filter((line) => line.includes(`now answers as`));
    expect(warned).to.have.length(1);
  });
});
