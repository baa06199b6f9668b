import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Consistency } from '@kvdb/client';
import { expect } from 'chai';
import { clusterPerTest, type TestCluster } from './helpers/cluster.js';
import { waitFor } from './helpers/wait.js';

const LEVELS: readonly Consistency[] = ['one', 'quorum', 'all'];

/** What `get` answers for `key` on each of `nodes` at each level, as `node/level=value` lines. */
async function reads(cluster: TestCluster, key: string, nodes: number[], levels = LEVELS): Promise<string[]> {
  const lines: string[] = [];
  for (const node of nodes) {
    for (const consistency of levels) {
      const value = await cluster.client(node).get(key, null, { consistency });
      lines.push(`${node}/${consistency}=${JSON.stringify(value)}`);
    }
  }
  return lines;
}

const absent = (nodes: number[], levels = LEVELS) =>
  nodes.flatMap((node) => levels.map((consistency) => `${node}/${consistency}=null`));

describe('ttl on a 3-node cluster of real processes', function () {
  this.timeout(90_000);
  const startCluster = clusterPerTest();
  let root: string;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'kvdb-ttl-'));
  });

  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('expires a key set with ttl 2 on every node, and a replica that missed it brings back nothing', async () => {
    // A grace of 1 s drops the hint of the expiring write before node 2 is back: it returns with its stale copy.
    const cluster = await startCluster({
      size: 3,
      dataDirRoot: root,
      args: ['--timings', 'local', '--tombstone-grace', '1'],
    });
    const kv = cluster.client(0);
    await kv.set('k', 'old', { consistency: 'all' });
    await kv.set('plain', 'stays', { consistency: 'all' });
    await cluster.signal(2, 'SIGKILL');

    const start = Date.now();
    await kv.set('k', 'new', { ttl: 2 });
    const { exists, ttl } = await cluster.client(1).ttl('k');
    if (Date.now() - start < 1_500) {
      expect(exists).to.equal(true);
      expect(ttl).to.be.within(0.5, 2);
    }

    // Absent on every running node at every level it can reach (node 2 is down: `all` fails) within 3 s.
    await waitFor(
      'the key to read as absent on nodes 0 and 1',
      async () => {
        const lines = await reads(cluster, 'k', [0, 1], ['one', 'quorum']);
        return lines.join() === absent([0, 1], ['one', 'quorum']).join();
      },
      { timeoutMs: 3_000 - (Date.now() - start) + 1_000, intervalMs: 100 },
    );
    expect(Date.now() - start).to.be.at.least(1_900);
    for (const node of [0, 1]) {
      expect(await cluster.client(node).ttl('k')).to.deep.equal({ exists: false, ttl: null });
      expect(await cluster.client(node).listKeys(), `list_keys on node ${node}`).to.deep.equal(['plain']);
    }

    // Node 2 returns with its data dir, which still holds 'old': the expired write wins over it.
    await cluster.startNode(2);
    expect(await reads(cluster, 'k', [0, 1, 2], ['quorum', 'all'])).to.deep.equal(
      absent([0, 1, 2], ['quorum', 'all']),
    );
    await waitFor('node 2 to read the key as absent on its own', async () => {
      const value = await cluster.client(2).get('k', null, { consistency: 'one' });
      return value === null;
    });
    const until = Date.now() + 2_000;
    for (let round = 0; round === 0 || Date.now() < until; round++) {
      expect(await reads(cluster, 'k', [0, 1, 2]), `round ${round}`).to.deep.equal(absent([0, 1, 2]));
      for (const node of [0, 1, 2]) {
        expect(await cluster.client(node).has('k'), `has on node ${node}`).to.equal(false);
        expect(await cluster.client(node).listKeys(), `list_keys on node ${node}`).to.deep.equal(['plain']);
      }
    }
    expect(await cluster.client(2).get('plain', null, { consistency: 'all' })).to.equal('stays');
  });

  it('refuses a bad ttl with -32602 and keeps the value', async () => {
    const cluster = await startCluster({ size: 3 });
    const kv = cluster.client(1);
    await kv.set('k', 'kept');
    for (const ttl of [0, -3, 1e12]) {
      const error = await kv.set('k', 'lost', { ttl }).catch((e: unknown) => e);
      expect(error, String(ttl)).to.have.property('code', -32602);
      expect((error as Error).message).to.match(/`ttl`/);
    }
    expect(await cluster.client(2).get('k', null, { consistency: 'all' })).to.equal('kept');
    expect(await cluster.client(2).ttl('k', { consistency: 'all' })).to.deep.equal({
      exists: true,
      ttl: null,
    });
  });
});
