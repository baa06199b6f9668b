import { InvalidParamsError, type SetReplicasResult, UnavailableError, UsageError } from '@kvdb/core';
import { expect } from 'chai';
import { clients, populate } from './utils/clients.js';
import { History } from './utils/history.js';
import { createSimCluster, type SimCluster } from './utils/sim-cluster.js';

/** Whether every running node reads at `replicas`, with no change under way. */
function agreed(cluster: SimCluster, replicas: number): boolean {
  return cluster.upIndices().every((index) => {
    const setting = cluster.node(index).membership.replication;
    return setting?.replicas === replicas && setting.target === undefined;
  });
}

/** Ticks until the promise settles, and resolves with its error (failing if it resolved). */
async function refusal(cluster: SimCluster, promise: Promise<unknown>, withinMs = 30_000): Promise<Error> {
  const outcome = await cluster.settle(promise, withinMs).then(
    () => undefined,
    (error: Error) => error,
  );
  expect(outcome, 'the call was refused').to.be.instanceOf(Error);
  return outcome as Error;
}

// The replication factor of a running cluster: new replicas are pending owners until they hold the data, reads
// stay correct throughout, and extra copies go only once the replicas that stay hold them.
describe('Changing the replication factor (simulated cluster, 4 nodes)', () => {
  let cluster: SimCluster;

  afterEach(async () => {
    await cluster?.teardown();
  });

  for (const seed of [71, 72]) {
    it(`seed ${seed}: R raised from 2 to 3 and lowered back under quorum load: no read misses an acknowledged write, and every key ends on exactly R nodes`, async () => {
      cluster = await createSimCluster({ n: 4, replicas: 2, seed });
      const all = [0, 1, 2, 3];
      const history = new History();
      const keys = await populate(cluster, 300, history);
      await cluster.until(() => cluster.placedExactly(keys, all), {
        withinMs: 10_000,
        what: 'keys on 2 nodes',
      });
      let stop = false;
      const load = clients(cluster, { keys, through: () => all, history, seed, done: () => stop });
      await cluster.tick(500);

      let readsWhileChanging = 0;
      const watch = () => {
        if (cluster.node(2).membership.replication?.target !== undefined) readsWhileChanging += 1;
      };
      const raised = cluster.node(0).setReplicas(3);
      await cluster.until(
        () => {
          watch();
          return agreed(cluster, 3);
        },
        { withinMs: 60_000, what: 'every node at R = 3' },
      );
      expect(await cluster.settle(raised)).to.deep.equal({
        replicas: 3,
        previous: 2,
      } satisfies SetReplicasResult);
      await cluster.until(() => cluster.placedExactly(keys, all), {
        withinMs: 60_000,
        stepMs: 500,
        what: 'every key on exactly its 3 replicas',
      });
      for (const key of keys.slice(0, 20)) expect(await cluster.holders(key)).to.have.length(3);

      const lowered = cluster.node(1).setReplicas(2);
      expect(await cluster.settle(lowered, 60_000)).to.deep.equal({ replicas: 2, previous: 3 });
      await cluster.until(() => agreed(cluster, 2), { withinMs: 10_000, what: 'every node at R = 2' });
      await cluster.until(() => cluster.placedExactly(keys, all), {
        withinMs: 60_000,
        stepMs: 500,
        what: 'every key on exactly its 2 replicas again',
      });
      stop = true;
      await cluster.settle(load);

      expect(readsWhileChanging, 'the clients ran while the factor changed').to.be.above(0);
      expect(history.acked, 'writes acknowledged').to.be.above(50);
      expect(history.staleReads, 'reads that missed an acknowledged write').to.deep.equal([]);
      for (const key of keys.slice(0, 20)) expect(await cluster.holders(key)).to.have.length(2);
    });
  }

  it('R raised from 1 to 3 (two new replicas per key): once the change answers, the new replicas serve every key', async () => {
    cluster = await createSimCluster({ n: 4, replicas: 1, seed: 75 });
    const history = new History();
    const keys = await populate(cluster, 300, history);
    expect(await cluster.settle(cluster.node(3).setReplicas(3), 60_000)).to.deep.equal({
      replicas: 3,
      previous: 1,
    });

    // The only copy each key had before: with node 0 down, its keys are read from the two new replicas alone.
    await cluster.kill(0);
    const reads = keys.map(async (key) => {
      const at = cluster.now();
      history.read(key, await cluster.node(1).coordinator.get(key), at);
    });
    await cluster.settle(Promise.all(reads));
    expect(history.staleReads, 'reads that missed an acknowledged write').to.deep.equal([]);
  });

  it('a restarted node keeps the agreed factor, one started with another -R refuses, and a new one learns it', async () => {
    cluster = await createSimCluster({ n: 4, replicas: 2, seed: 73 });
    await cluster.tick(1_000);
    // A founding member keeps its founding factor too: alone and given none, it has it from its last run.
    const founder = await cluster.restart(3, { seeds: [cluster.address(3)], replicas: null });
    expect(founder.membership.replication).to.include({ replicas: 2, stamp: 0 });
    await cluster.restart(3);
    await cluster.settle(cluster.node(0).setReplicas(3), 30_000);
    const stamp = cluster.node(0).membership.replication?.stamp;
    expect(stamp).to.be.above(0);

    // Alone (it names only itself), it can only have kept the setting from its last run.
    const alone = await cluster.restart(2, { seeds: [cluster.address(2)], replicas: 3 });
    expect(alone.membership.replication).to.include({ replicas: 3, stamp });
    expect(alone.coordinator.replicationFactor).to.equal(3);

    await cluster.restart(2, { replicas: 2 });
    const error = await refusal(cluster, cluster.started(2));
    expect(error).to.be.instanceOf(UsageError);
    expect(error.message).to.match(/replication factor is 3 .*-R 2/);

    const joined = await cluster.add({ seeds: [cluster.address(1)], replicas: null });
    await cluster.settle(cluster.started(joined));
    expect(cluster.node(joined).membership.replication).to.include({ replicas: 3, stamp });
  });

  it('refuses a factor out of range, and a second change while one is under way, which it can roll back', async () => {
    cluster = await createSimCluster({ n: 4, replicas: 2, seed: 74 });
    await populate(cluster, 50, new History());
    for (const replicas of [0, 5, 1.5]) {
      const error = await refusal(cluster, cluster.node(0).setReplicas(replicas));
      expect(error, String(replicas)).to.be.instanceOf(InvalidParamsError);
      expect(error.message).to.match(/`replicas` to be an integer from 1 to 4/);
    }
    expect(agreed(cluster, 2)).to.equal(true);

    // A new replica that is down cannot fetch its data: the raise waits for it.
    await cluster.kill(3);
    const raising = cluster.node(0).setReplicas(3);
    await cluster.until(() => cluster.node(1).membership.replication?.target === 3, {
      withinMs: 5_000,
      what: 'the change under way everywhere',
    });
    const other = await refusal(cluster, cluster.node(1).setReplicas(1));
    expect(other).to.be.instanceOf(UnavailableError);
    expect(other.message).to.match(/from 2 to 3 is under way.*set_replicas 3.*set_replicas 2/);

    expect(await cluster.settle(cluster.node(1).setReplicas(2))).to.deep.equal({ replicas: 2, previous: 2 });
    const replaced = await refusal(cluster, raising);
    expect(replaced).to.be.instanceOf(UnavailableError);
    expect(replaced.message).to.match(/another change/);
    await cluster.until(() => agreed(cluster, 2), { withinMs: 5_000, what: 'R = 2 everywhere again' });
  });
});
