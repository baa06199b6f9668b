import { expect } from 'chai';
import { defined } from './utils/assertions.js';
import { createSimCluster, type SimCluster } from './utils/sim-cluster.js';
import { live, text } from './utils/values.js';

const R = 3;

async function populate(cluster: SimCluster, count: number): Promise<string[]> {
  const keys = Array.from({ length: count }, (_, i) => `key:${i}`);
  await cluster.settle(
    Promise.all(keys.map((key) => cluster.node(0).coordinator.set(key, text(`v:${key}`)))),
  );
  return keys;
}

/** Whether every node in `indices` locates every key to the same replicas. */
/** Waits until every node in `rest` lists `removed` as left and holds each key exactly where the ring says. */
async function expectRemovedAndReplaced(
  cluster: SimCluster,
  removed: string,
  keys: readonly string[],
  rest: number[],
): Promise<void> {
  await cluster.until(() => rest.every((index) => cluster.statusOf(index, removed) === 'left'), {
    withinMs: 5_000,
    what: 'left everywhere',
  });
  await cluster.until(() => cluster.placedExactly(keys, rest), {
    withinMs: 30_000,
    stepMs: 500,
    what: 'every key on exactly R of the remaining nodes',
  });
  await expectPlaced(cluster, keys, rest);
}

function locateAgrees(cluster: SimCluster, keys: readonly string[], indices: number[]): boolean {
  return keys.every((key) => {
    const first = cluster.node(defined(indices[0])).coordinator.locate(key).join(',');
    return indices.every((index) => cluster.node(index).coordinator.locate(key).join(',') === first);
  });
}

/** Asserts the final placement: each key live on exactly R of `indices`, its replicas, with its value. */
async function expectPlaced(cluster: SimCluster, keys: readonly string[], indices: number[]): Promise<void> {
  expect(await cluster.totalLiveKeys(indices), 'R live copies of every key in all').to.equal(R * keys.length);
  for (const key of keys) {
    expect(await cluster.liveCopies(key, indices), key).to.equal(R);
    const replica = cluster.indexOf(defined(cluster.node(defined(indices[0])).coordinator.locate(key)[0]));
    expect(await cluster.store(replica).get(key), key).to.include({ value: text(`v:${key}`) });
  }
}

// Join and leave on ClusterNodes: the ring changes, data moves to the new owners, and old owners drop what they
// no longer replicate once the new owners confirm.
describe('Membership changes (simulated cluster)', () => {
  let cluster: SimCluster;

  afterEach(async () => {
    await cluster?.teardown();
  });

  it('a node joining through one seed is alive everywhere within 15 s and gets exactly its share within 30 s', async () => {
    cluster = await createSimCluster({ n: 3, seed: 51 });
    const keys = await populate(cluster, 200);
    await cluster.tick(1_000);
    expect(await cluster.totalLiveKeys()).to.equal(3 * keys.length);

    const joined = await cluster.add({ seeds: [cluster.address(1)] });
    const address = cluster.address(joined);
    const all = [0, 1, 2, 3];
    await cluster.until(
      () =>
        all.every((index) => cluster.statusOf(index, address) === 'alive') &&
        all.every((index) => cluster.node(index).membership.get(address)?.phase === 'normal') &&
        locateAgrees(cluster, keys, all),
      { withinMs: 15_000, what: 'the new node alive, serving reads, and the ring the same on every node' },
    );
    expect(
      cluster
        .node(joined)
        .coordinator.listMembers()
        .every(({ status }) => status === 'alive'),
    ).to.equal(true);
    const moved = keys.filter((key) => cluster.node(0).coordinator.locate(key).includes(address));
    expect(moved.length, 'the new node replicates a fair share').to.be.within(100, 200);

    await cluster.until(() => cluster.placedExactly(keys, all), {
      withinMs: 30_000,
      stepMs: 500,
      what: 'every key on exactly its R replicas',
    });
    await expectPlaced(cluster, keys, all);
    expect((await cluster.store(joined).counts()).live).to.equal(moved.length);
  });

  it('a node that leaves hands its data over: every key on exactly R of the rest, the leaver left everywhere', async () => {
    cluster = await createSimCluster({ n: 4, seed: 52 });
    const keys = await populate(cluster, 200);
    await cluster.tick(3_000);
    expect(await cluster.placedExactly(keys, [0, 1, 2, 3])).to.equal(true);
    const leaver = cluster.address(3);
    expect((await cluster.store(3).counts()).live).to.be.above(0);

    const result = await cluster.settle(cluster.node(3).leave(), 60_000);
    expect(result.left).to.equal(leaver);
    expect(result.handedOff).to.be.above(0);
    expect((await cluster.store(3).counts()).live, 'the leaver kept nothing').to.equal(0);
    await cluster.kill(3);

    const rest = [0, 1, 2];
    await expectRemovedAndReplaced(cluster, leaver, keys, rest);
    for (const index of rest) {
      expect(cluster.node(index).coordinator.listMembers()).to.deep.include({
        address: leaver,
        status: 'left',
        phase: 'leaving',
      });
      expect(cluster.node(index).membership.ring.has(leaver)).to.equal(false);
    }
    expect(await cluster.settle(cluster.node(0).coordinator.listAllKeys())).to.deep.equal([...keys].sort());
  });

  it('a leaver holding more records than one scan page hands over every one of them', async () => {
    cluster = await createSimCluster({ n: 4, seed: 56 });
    await cluster.tick(3_000);
    const keys = Array.from({ length: 5_000 }, (_, i) => `key:${i}`);
    const version = { wall: cluster.now(), counter: 0, node: cluster.address(3) };
    for (const key of keys) await cluster.store(3).merge(key, live(version, `v:${key}`));

    const result = await cluster.settle(cluster.node(3).leave(), 60_000);
    // The records of keys the leaver does not replicate may go before it leaves, when its phase changes the ring.
    expect(result.handedOff).to.be.above(0);
    expect(cluster.node(3).rebalancer.handedOff).to.equal(keys.length);
    expect(await cluster.store(3).counts(), 'the leaver kept nothing').to.deep.equal({
      live: 0,
      tombstones: 0,
    });
    await cluster.kill(3);
    await expectRemovedAndReplaced(cluster, cluster.address(3), keys, [0, 1, 2]);
  });

  it('a dead member removed through another node is re-replicated to exactly R of the rest', async () => {
    cluster = await createSimCluster({ n: 5, seed: 53 });
    const keys = await populate(cluster, 200);
    await cluster.tick(3_000);
    const dead = cluster.address(4);
    await cluster.kill(4);
    await cluster.until(() => cluster.seenAs(dead, 'dead'), { withinMs: 5_000, what: 'dead everywhere' });

    await cluster.settle(cluster.node(1).leave(dead));
    const rest = [0, 1, 2, 3];
    await expectRemovedAndReplaced(cluster, dead, keys, rest);
    expect(locateAgrees(cluster, keys, rest)).to.equal(true);
  });

  it('refuses to remove a member that is alive', async () => {
    cluster = await createSimCluster({ n: 3, seed: 54 });
    const error = await cluster
      .node(0)
      .leave(cluster.address(1))
      .then(
        () => undefined,
        (reason: unknown) => reason,
      );
    expect(error).to.be.instanceOf(Error).with.property('name', 'InvalidParamsError');
    expect(cluster.statusOf(0, cluster.address(1))).to.equal('alive');
  });

  it('a node that left stays left when it then stops with the default announce', async () => {
    cluster = await createSimCluster({ n: 4, seed: 55 });
    await populate(cluster, 50);
    await cluster.tick(3_000);
    const leaver = cluster.address(3);
    await cluster.settle(cluster.node(3).leave(), 60_000);
    await cluster.settle(cluster.node(3).stop());
    await cluster.tick(5_000);
    for (const index of [0, 1, 2]) {
      expect(cluster.statusOf(index, leaver), `on node ${index}`).to.equal('left');
      expect(cluster.node(index).membership.ring.has(leaver), `on node ${index}`).to.equal(false);
    }
  });
});
