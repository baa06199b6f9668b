import type { KVClient } from '@kvdb/client';
import { expect } from 'chai';
import { clusterPerTest, type TestCluster } from './helpers/cluster.js';
import { type Expected, inParallel, roundRobin, waitForKeyCounts, waitForPhase } from './helpers/observe.js';

const KEYS = 3_000;
const READ_FOR_MS = 25_000;

/** Writes KEYS keys at quorum through the clients; resolves with what each must read as. */
async function populate(clients: readonly KVClient[]): Promise<Expected> {
  const expected: Expected = new Map();
  for (let i = 0; i < KEYS; i++) expected.set(`move:${i}`, { i });
  await inParallel([...expected], 32, ([key, value], index) => roundRobin(clients, index).set(key, value));
  return expected;
}

/**
 * Quorum reads of random keys through `clients` for `ms`, 16 at a time: the reads that answered something other
 * than the acknowledged value (misses), and the count of reads and of errors.
 */
async function readFor(
  clients: readonly KVClient[],
  expected: Expected,
  ms: number,
): Promise<{ reads: number; errors: number; misses: string[] }> {
  const keys = [...expected.keys()];
  const deadline = Date.now() + ms;
  const result = { reads: 0, errors: 0, misses: [] as string[] };
  await Promise.all(
    Array.from({ length: 16 }, async (_, worker) => {
      for (let n = worker; Date.now() < deadline; n += 16) {
        const key = keys[Math.floor(Math.random() * keys.length)] ?? '';
        const client = roundRobin(clients, n);
        try {
          const got = await client.get(key);
          result.reads += 1;
          if (JSON.stringify(got) !== JSON.stringify(expected.get(key))) {
            result.misses.push(`${key} via ${client.address}: ${JSON.stringify(got)}`);
          }
        } catch {
          result.errors += 1;
        }
      }
    }),
  );
  return result;
}

/** Waits until each node holds exactly the keys it replicates, as `locate` on the first client names them. */
async function waitForPlacement(c: TestCluster, indices: number[], expected: Expected, timeoutMs: number) {
  const clients = indices.map((index) => c.client(index));
  const owned = new Map(indices.map((index) => [c.addresses[index], 0]));
  await inParallel([...expected.keys()], 16, async (key) => {
    const replicas = await c.client(indices[0] ?? 0).locate(key);
    expect(replicas, key).to.have.length(3);
    for (const address of replicas) owned.set(address, (owned.get(address) ?? 0) + 1);
  });
  const counts = indices.map((index) => owned.get(c.addresses[index]) ?? 0);
  await waitForKeyCounts(clients, counts, { timeoutMs });
}

describe(`moves in a cluster of real processes (R=3, ${KEYS.toLocaleString('en-US')} keys)`, function () {
  this.timeout(150_000);
  const start = clusterPerTest();

  it('two nodes join at once: no quorum read through the old nodes misses, and every key ends on exactly 3 of the 5', async () => {
    const c = await start({ size: 3, replicas: 3 });
    const old = [0, 1, 2].map((index) => c.client(index));
    const expected = await populate(old);

    const reads = readFor(old, expected, READ_FOR_MS);
    const joinedAt = Date.now();
    const joined = await Promise.all([c.addNode([c.node(0).address]), c.addNode([c.node(1).address])]);
    const all = c.nodes.map((_, index) => index);
    await waitForPhase(
      all.map((index) => c.client(index)),
      joined.map((index) => c.node(index).address),
      'normal',
      60_000,
    );
    await waitForPlacement(c, all, expected, Math.max(1_000, joinedAt + 60_000 - Date.now()));
    const { reads: count, misses } = await reads;
    expect(count, 'quorum reads made').to.be.above(1_000);
    expect(misses, 'reads that missed an acknowledged write').to.deep.equal([]);
  });

  it('a join and a leave at once: no quorum read misses, and every key ends on exactly 3 of the 3 left', async () => {
    const c = await start({ size: 3, replicas: 3 });
    const expected = await populate([0, 1, 2].map((index) => c.client(index)));

    const reads = readFor([c.client(0), c.client(1)], expected, READ_FOR_MS);
    const startedAt = Date.now();
    const [joined, left] = await Promise.all([c.addNode([c.node(0).address]), c.client(2).leave()]);
    expect(left.left).to.equal(c.node(2).address);
    const rest = [0, 1, joined];
    await waitForPhase(
      rest.map((index) => c.client(index)),
      [c.node(joined).address],
      'normal',
      60_000,
    );
    await waitForPlacement(c, rest, expected, Math.max(1_000, startedAt + 60_000 - Date.now()));
    const { reads: count, misses } = await reads;
    expect(count, 'quorum reads made').to.be.above(1_000);
    expect(misses, 'reads that missed an acknowledged write').to.deep.equal([]);
  });
});
