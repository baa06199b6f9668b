import { expect } from 'chai';
import { clients, populate } from './utils/clients.js';
import { History } from './utils/history.js';
import { createSimCluster, type SimCluster } from './utils/sim-cluster.js';
import { text } from './utils/values.js';

function phaseEverywhere(cluster: SimCluster, address: string, phase: string, observers: number[]): boolean {
  return observers.every((index) => cluster.node(index).membership.get(address)?.phase === phase);
}

// Pending ownership: members that join or leave move data while clients read and write at quorum, and no read
// misses an acknowledged write at any point.
describe('Moves under load (simulated cluster, R = 3)', () => {
  let cluster: SimCluster;

  afterEach(async () => {
    await cluster?.teardown();
  });

  for (const seed of [61, 62, 63]) {
    it(`seed ${seed}: two nodes joining at once serve no read before they hold the data, and end with exactly their share`, async () => {
      cluster = await createSimCluster({ n: 3, seed });
      const history = new History();
      const keys = await populate(cluster, 300, history);
      let stop = false;
      const load = clients(cluster, { keys, through: () => [0, 1, 2], history, seed, done: () => stop });
      await cluster.tick(500);

      const joined = [
        await cluster.add({ seeds: [cluster.address(1)] }),
        await cluster.add({ seeds: [cluster.address(2)] }),
      ];
      const all = [0, 1, 2, ...joined];
      let readsWhileJoining = 0;
      await cluster.until(
        () => {
          if (
            joined.some(
              (index) => cluster.node(0).membership.get(cluster.address(index))?.phase === 'joining',
            )
          ) {
            readsWhileJoining += 1;
          }
          return joined.every((index) => phaseEverywhere(cluster, cluster.address(index), 'normal', all));
        },
        { withinMs: 30_000, what: 'both new nodes serving reads on every node' },
      );
      await cluster.until(() => cluster.placedExactly(keys, all), {
        withinMs: 60_000,
        stepMs: 500,
        what: 'every key on exactly its 3 replicas of 5',
      });
      stop = true;
      await cluster.settle(load);

      expect(readsWhileJoining, 'the clients ran while the new nodes were joining').to.be.above(0);
      expect(history.staleReads, 'reads that missed an acknowledged write').to.deep.equal([]);
      for (const index of joined) expect((await cluster.store(index).counts()).live).to.be.above(0);
    });
  }

  it('a join and a leave at once: no read misses an acknowledged write, and the leaver ends with nothing', async () => {
    cluster = await createSimCluster({ n: 4, seed: 64 });
    const history = new History();
    const keys = await populate(cluster, 300, history);
    let stop = false;
    const load = clients(cluster, { keys, through: () => [0, 1, 2], history, seed: 64, done: () => stop });
    await cluster.tick(500);

    const joined = await cluster.add({ seeds: [cluster.address(0)] });
    const leaving = cluster.node(3).leave();
    const result = await cluster.settle(leaving, 60_000);
    expect(result.left).to.equal(cluster.address(3));
    const rest = [0, 1, 2, joined];
    await cluster.until(() => phaseEverywhere(cluster, cluster.address(joined), 'normal', rest), {
      withinMs: 30_000,
      what: 'the new node serving reads everywhere',
    });
    await cluster.kill(3);
    await cluster.until(() => cluster.placedExactly(keys, rest), {
      withinMs: 60_000,
      stepMs: 500,
      what: 'every key on exactly its 3 replicas of the 4 left',
    });
    stop = true;
    await cluster.settle(load);

    expect(history.staleReads, 'reads that missed an acknowledged write').to.deep.equal([]);
    expect((await cluster.store(3).counts()).live, 'the leaver kept nothing').to.equal(0);
  });

  it('a node joining while another is down fetches from the replicas that are up, and serves once it holds the data', async () => {
    cluster = await createSimCluster({ n: 4, seed: 65 });
    const history = new History();
    const keys = await populate(cluster, 300, history);
    await cluster.tick(3_000);
    await cluster.kill(3);
    await cluster.until(() => cluster.seenAs(cluster.address(3), 'dead'), {
      withinMs: 10_000,
      what: 'dead everywhere',
    });
    let stop = false;
    const load = clients(cluster, { keys, through: () => [0, 1, 2], history, seed: 65, done: () => stop });

    const joined = await cluster.add({ seeds: [cluster.address(0)] });
    const up = [0, 1, 2, joined];
    await cluster.until(() => phaseEverywhere(cluster, cluster.address(joined), 'normal', up), {
      withinMs: 30_000,
      what: 'the new node serving reads on every node that is up',
    });
    await cluster.tick(5_000);
    stop = true;
    await cluster.settle(load);

    expect(history.staleReads, 'reads that missed an acknowledged write').to.deep.equal([]);
    expect((await cluster.store(joined).counts()).live).to.be.above(0);
  });

  it('a node still joining that leaves goes at once: it owned nothing, and never served a read', async () => {
    cluster = await createSimCluster({ n: 3, seed: 66 });
    const history = new History();
    await populate(cluster, 100, history);
    const joined = await cluster.add({ seeds: [cluster.address(0)] });
    const address = cluster.address(joined);
    await cluster.until(() => cluster.node(0).membership.get(address)?.phase === 'joining', {
      withinMs: 5_000,
      what: 'the new node joining',
    });
    const result = await cluster.settle(cluster.node(joined).leave(), 5_000);
    expect(result.left).to.equal(address);
    await cluster.until(() => cluster.seenAs(address, 'left', [0, 1, 2]), {
      withinMs: 5_000,
      what: 'left everywhere',
    });
    for (const index of [0, 1, 2]) {
      expect(cluster.node(index).membership.get(address)?.phase, 'never served reads').to.equal('joining');
      expect(cluster.node(index).membership.placement.moving).to.equal(false);
    }
  });

  it('a leave whose new owner is down fails with a timeout and stays leaving, serving its ranges', async () => {
    cluster = await createSimCluster({ n: 4, seed: 67 });
    const history = new History();
    const keys = await populate(cluster, 200, history);
    await cluster.tick(3_000);
    await cluster.kill(2);
    await cluster.until(() => cluster.seenAs(cluster.address(2), 'dead'), {
      withinMs: 10_000,
      what: 'dead everywhere',
    });
    const error = await cluster.settle(
      cluster
        .node(3)
        .leave()
        .then(
          () => undefined,
          (reason: unknown) => reason,
        ),
      70_000,
      100,
    );
    expect(error).to.be.instanceOf(Error).with.property('name', 'TimeoutError');
    expect((error as Error).message).to.include(cluster.address(2));
    for (const index of [0, 1, 3]) {
      expect(cluster.node(index).membership.get(cluster.address(3))).to.include({
        status: 'alive',
        phase: 'leaving',
      });
    }
    const reads = await cluster.settle(Promise.all(keys.map((key) => cluster.node(0).coordinator.get(key))));
    expect(reads).to.deep.equal(keys.map((key) => text(`v:${key}`)));
  });

  it('a node joining through a seed that does not answer takes no request until it has heard from a member', async () => {
    cluster = await createSimCluster({ n: 3, seed: 68 });
    cluster.network.stop(cluster.address(0));
    const joined = await cluster.add({ seeds: [cluster.address(0)] });
    const refused = await cluster.settle(
      cluster
        .node(joined)
        .coordinator.set('k', text(1))
        .then(
          () => undefined,
          (reason: unknown) => reason,
        ),
    );
    expect(refused).to.be.instanceOf(Error).with.property('name', 'UnavailableError');
    cluster.network.start(cluster.address(0));
    await cluster.until(() => cluster.node(joined).membership.get(cluster.address(2)) !== undefined, {
      withinMs: 30_000,
      what: 'the new node hearing of the cluster',
    });
    await cluster.settle(cluster.node(joined).coordinator.set('k', text(2)));
    expect(await cluster.settle(cluster.node(1).coordinator.get('k'))).to.equal(text(2));
  });
});
