import type { KVClient } from '@kvdb/client';
import { ErrorCode, type JsonValue, type NodeStats } from '@kvdb/core';
import { StreamPeerTransport } from '@kvdb/server';
import { expect } from 'chai';
import { clusterPerTest, type TestCluster } from './helpers/cluster.js';
import { inParallel, roundRobin, waitForPlacement } from './helpers/observe.js';
import { runKvdb } from './helpers/run-kvdb.js';
import { waitFor } from './helpers/wait.js';

const KEYS = 10_000;

/**
 * What each key may read as: the last acknowledged write, or a failed one after it (which may have landed). Each
 * key is read and written by one worker, one operation at a time, so a later write always wins.
 */
class Ledger {
  private readonly keys = new Map<string, { acked: JsonValue; maybe: JsonValue[] }>();
  readonly misses: string[] = [];
  reads = 0;
  writes = 0;

  wrote(key: string, value: JsonValue, ok: boolean): void {
    const entry = this.keys.get(key);
    if (ok || entry === undefined) this.keys.set(key, { acked: value, maybe: [] });
    else entry.maybe.push(value);
    if (ok) this.writes += 1;
  }

  read(key: string, got: JsonValue, via: string): void {
    this.reads += 1;
    const entry = this.keys.get(key);
    const allowed = entry === undefined ? [null] : [entry.acked, ...entry.maybe];
    const text = JSON.stringify(got);
    if (!allowed.some((value) => JSON.stringify(value) === text)) {
      this.misses.push(`${key} via ${via}: ${text}, acknowledged ${JSON.stringify(entry?.acked)}`);
    }
  }
}

/** Quorum reads and writes (one in four) of the keys through `clients`, by 8 workers, until `done()`. */
function load(clients: readonly KVClient[], keys: readonly string[], ledger: Ledger, done: () => boolean) {
  const workers = 8;
  return Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      const mine = keys.filter((_, index) => index % workers === worker);
      for (let n = 0; !done(); n++) {
        const key = mine[Math.floor(Math.random() * mine.length)] ?? '';
        const client = roundRobin(clients, n + worker);
        if (n % 4 === 0) {
          const value = { worker, n };
          const ok = await client.set(key, value).then(
            () => true,
            () => false,
          );
          ledger.wrote(key, value, ok);
        } else {
          await client.get(key).then(
            (got) => ledger.read(key, got, client.address),
            () => undefined,
          );
        }
      }
    }),
  );
}

/** The replication `stats` shows on every node. */
async function replicationOn(clients: readonly KVClient[]): Promise<Array<NodeStats['replication']>> {
  return Promise.all(clients.map(async (client) => (await client.stats()).replication));
}

describe(`changing the replication factor of a cluster of real processes (4 nodes, ${KEYS.toLocaleString('en-US')} keys)`, function () {
  this.timeout(120_000);
  const start = clusterPerTest();

  it('R raised from 2 to 3 and lowered back under quorum reads and writes: no read misses, each key ends on exactly R nodes', async () => {
    const c: TestCluster = await start({ size: 4, replicas: 2 });
    const all = [0, 1, 2, 3];
    const clients = all.map((index) => c.client(index));
    const ledger = new Ledger();
    const keys = Array.from({ length: KEYS }, (_, i) => `r:${i}`);
    await inParallel(keys, 32, async (key, index) => {
      await roundRobin(clients, index).set(key, { i: index });
      ledger.wrote(key, { i: index }, true);
    });
    expect(await replicationOn(clients)).to.deep.equal(all.map(() => ({ replicas: 2 })));

    let stop = false;
    const running = load(clients, keys, ledger, () => stop);
    // The whole change may take longer than a request: a client of its own waits for it.
    const raised = c.connect(0, { timeoutMs: 60_000 }).setReplicas(3);
    const seen = await waitFor('a change under way in stats', async () => {
      const [stats] = await replicationOn([c.client(2)]);
      return stats?.target === 3 ? stats : undefined;
    });
    expect(seen).to.deep.equal({ replicas: 2, target: 3 });
    expect(await raised).to.deep.equal({ replicas: 3, previous: 2 });
    await waitFor('R = 3 on every node', async () =>
      (await replicationOn(clients)).every((stats) => stats?.replicas === 3 && stats.target === undefined),
    );
    await waitForPlacement(clients, keys, { replicas: 3, timeoutMs: 30_000 });

    // A node given the old -R (the cluster's flags give every node -R 2) refuses to join, naming both.
    const refused = await c.addNode([c.node(0).address]).catch(() => c.nodes.length - 1);
    const exit = await c.exited(refused, 15_000);
    expect(exit.code).to.equal(1);
    expect(c.node(refused).output.join('')).to.match(/replication factor is 3 .*started with -R 2/);

    expect(await c.connect(1, { timeoutMs: 60_000 }).setReplicas(2)).to.deep.equal({
      replicas: 2,
      previous: 3,
    });
    await waitFor('R = 2 on every node', async () =>
      (await replicationOn(clients)).every((stats) => stats?.replicas === 2 && stats.target === undefined),
    );
    stop = true;
    await running;
    await waitForPlacement(clients, keys, { replicas: 2, timeoutMs: 30_000 });

    expect(ledger.reads, 'quorum reads made').to.be.above(1_000);
    expect(ledger.writes, 'writes acknowledged under the change').to.be.above(300);
    expect(ledger.misses, 'reads that missed an acknowledged write').to.deep.equal([]);
  });

  it('refuses set_replicas out of range, of the wrong type, or in the shell, and a malformed setting from a peer, changing nothing', async () => {
    const c = await start({ size: 3, replicas: 2 });
    const client = c.client(0);
    for (const [params, message] of [
      [{ replicas: 0 }, /`replicas` to be an integer from 1 to 3 .*got `0`/],
      [{ replicas: 4 }, /from 1 to 3 .*got `4`/],
      [{ replicas: 2.5 }, /got `2.5`/],
      [{ replicas: '3' }, /`replicas` to be an integer, got "3"/],
      [{}, /`replicas` to be an integer, got none/],
    ] as const) {
      const error = await client.call('set_replicas', params).then(
        () => undefined,
        (thrown: Error & { code?: number }) => thrown,
      );
      expect(error?.code, JSON.stringify(params)).to.equal(ErrorCode.INVALID_PARAMS);
      expect(error?.message).to.match(message);
    }
    const forged = { members: [], replication: { replicas: 0, stamp: Number.MAX_SAFE_INTEGER, by: 'x' } };
    // As a node would send it: peer. methods are served on peer streams only.
    const transport = new StreamPeerTransport();
    const peer = await transport
      .call(c.node(0).address, 'peer.sync', forged as never)
      .then(
        () => undefined,
        (thrown: Error & { code?: number }) => thrown,
      )
      .finally(() => transport.close());
    expect(peer?.code).to.equal(ErrorCode.INVALID_PARAMS);
    expect(peer?.message).to.match(/`replication` to be a replication setting/);

    const shell = await runKvdb(['-P', String(c.node(1).port), 'set_replicas', 'two']);
    expect(shell.code).to.not.equal(0);
    expect(shell.stderr + shell.stdout).to.contain('N must be a whole number from 1 up');
    const same = await runKvdb(['-P', String(c.node(1).port), 'set_replicas', '2']);
    expect(same.stdout).to.contain('replication stays at 2');

    expect(await replicationOn([0, 1, 2].map((index) => c.client(index)))).to.deep.equal([
      { replicas: 2 },
      { replicas: 2 },
      { replicas: 2 },
    ]);
  });
});
