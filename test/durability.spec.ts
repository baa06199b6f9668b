import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonValue } from '@kvdb/client';
import { defined } from '@kvdb/core/testing';
import { freePorts } from '@kvdb/server';
import { expect } from 'chai';
import { SERVER_BIN, TestCluster } from './helpers/cluster.js';
import { inParallel, waitForPhase, waitForPlacement } from './helpers/observe.js';
import { waitFor } from './helpers/wait.js';

/** Writes `count` keys concurrently through node 0 and pops every `popEvery`-th; resolves with what is expected. */
async function writeAndPop(cluster: TestCluster, prefix: string, count: number, popEvery: number) {
  const expected = new Map<string, JsonValue>();
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const key = `${prefix}${i}`;
      await cluster.client(i % 3).set(key, { i, text: `value ${i}` });
      expected.set(key, { i, text: `value ${i}` });
    }),
  );
  for (let i = 0; i < count; i += popEvery) {
    await cluster.client(0).pop(`${prefix}${i}`);
    expected.set(`${prefix}${i}`, null);
  }
  return expected;
}

/** Keys whose value read from node `index` alone (consistency one) is not what was last acknowledged. */
async function wrongOn(
  cluster: TestCluster,
  index: number,
  expected: Map<string, JsonValue>,
): Promise<string[]> {
  const wrong: string[] = [];
  for (const [key, value] of expected) {
    const got = await cluster.client(index).get(key, null, { consistency: 'one' });
    if (JSON.stringify(got) !== JSON.stringify(value)) wrong.push(`${key}: ${JSON.stringify(got)}`);
  }
  return wrong;
}

function runServer(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SERVER_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('durable nodes (--data-dir) as real processes', function () {
  this.timeout(90_000);
  let root: string;
  let cluster: TestCluster | undefined;

  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'kvdb-durable-'));
    cluster = await TestCluster.start({
      size: 3,
      replicas: 3,
      dataDirRoot: root,
      args: ['--timings', 'local'],
    });
  });

  afterEach(async () => {
    if (this.ctx.currentTest?.state === 'failed' && cluster !== undefined)
      process.stderr.write(cluster.logs());
    await cluster?.stop();
    cluster = undefined;
    rmSync(root, { recursive: true, force: true });
  });

  it('keeps every acknowledged write, and every pop, through kill -9 of every node', async () => {
    const c = defined(cluster, 'the cluster');
    const expected = await writeAndPop(c, 'k', 300, 7);
    for (const index of [0, 1, 2]) await c.signal(index, 'SIGKILL');
    await Promise.all([0, 1, 2].map((index) => c.restartNode(index)));
    for (const index of [0, 1, 2])
      expect(await wrongOn(c, index, expected), `node ${index}`).to.deep.equal([]);
    const stats = await Promise.all([0, 1, 2].map((index) => c.client(index).stats()));
    const live = [...expected.values()].filter((value) => value !== null).length;
    expect(stats.map((s) => s.keys)).to.deep.equal([live, live, live]);
  });

  it('lets pops win over a replica that returns with a stale disk, on every node, also read from it alone', async () => {
    const c = defined(cluster, 'the cluster');
    const expected = await writeAndPop(c, 'p', 200, 1_000);
    const live = [...expected.values()].filter((value) => value !== null).length;
    await waitFor('every replica to hold every key', async () => {
      const stats = await Promise.all([0, 1, 2].map((index) => c.client(index).stats()));
      return stats.every((s) => s.keys === live);
    });
    await c.signal(2, 'SIGKILL');
    for (let i = 2; i < 200; i += 2) {
      await c.client(i % 4 < 2 ? 0 : 1).pop(`p${i}`);
      expected.set(`p${i}`, null);
    }
    await c.restartNode(2);
    await waitFor(
      'the returning replica to hold every tombstone',
      async () => (await c.client(2).stats()).tombstones === 100,
      { timeoutMs: 30_000 },
    );
    for (const index of [0, 1, 2])
      expect(await wrongOn(c, index, expected), `node ${index}`).to.deep.equal([]);
    await c.signal(0, 'SIGKILL');
    await c.signal(1, 'SIGKILL');
    expect(await wrongOn(c, 2, expected), 'node 2 alone').to.deep.equal([]);
  });

  it('hands a joining node its ranges from the disks of the others, which it serves from its own after kill -9', async () => {
    const c = defined(cluster, 'the cluster');
    const expected = new Map<string, JsonValue>();
    for (let i = 0; i < 400; i++) expected.set(`j${i}`, { i, text: `${i}`.padEnd(2_000, 'x') });
    await inParallel([...expected], 16, ([key, value], i) => c.client(i % 3).set(key, value));
    const joined = await c.addNode([c.node(0).address]);
    const clients = [0, 1, 2, joined].map((index) => c.client(index));
    const address = c.node(joined).address;
    await waitForPhase(clients, [address], 'normal', 60_000);
    await waitForPlacement(clients, [...expected.keys()], { replicas: 3, timeoutMs: 60_000 });
    const owned = new Map<string, JsonValue>();
    for (const [key, value] of expected)
      if ((await c.client(0).locate(key)).includes(address)) owned.set(key, value);
    expect(owned.size, 'keys the joining node replicates').to.be.above(100);
    await c.signal(joined, 'SIGKILL');
    await c.restartNode(joined);
    for (const index of [0, 1, 2]) await c.signal(index, 'SIGKILL');
    expect(await wrongOn(c, joined, owned), 'the joined node alone').to.deep.equal([]);
  });

  it('refuses, with a clear message, a data dir written by another address or another cluster', async () => {
    const c = defined(cluster, 'the cluster');
    const dir = join(root, String(c.node(0).port));
    await c.signal(0, 'SIGKILL');
    const [port] = await freePorts(1);
    const otherAddress = await runServer(['-P', String(port), '--data-dir', dir]);
    expect(otherAddress.code).to.equal(1);
    expect(otherAddress.output).to.contain(`was written by the node at ${c.node(0).address}`);
    const otherCluster = await runServer([
      '-P',
      String(c.node(0).port),
      '--data-dir',
      dir,
      '--cluster-name',
      'other',
    ]);
    expect(otherCluster.code).to.equal(1);
    expect(otherCluster.output).to.contain('belongs to cluster "kvdb", not "other"');
  });
});
