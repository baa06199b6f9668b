import { InvalidParamsError, type KVClient, UnavailableError } from '@kvdb/client';
import { defined } from '@kvdb/core/testing';
import { expect } from 'chai';
import { clusterPerTest, logMessages } from './helpers/cluster.js';
import {
  type Expected,
  expectNoMismatch,
  inParallel,
  liveKeys,
  mismatches,
  roundRobin,
  waitForKeyCounts,
  waitForPhase,
  waitForStatus,
  waitForTotalKeys,
} from './helpers/observe.js';
import { waitFor } from './helpers/wait.js';

/** Writes `count` keys `prefix:i` through the clients and pops every fifth; resolves with what each reads as. */
async function fill(clients: readonly KVClient[], prefix: string, count: number): Promise<Expected> {
  const expected: Expected = new Map();
  for (let i = 0; i < count; i++) expected.set(`${prefix}:${i}`, { i, prefix });
  await inParallel([...expected], 16, ([key, value], index) => roundRobin(clients, index).set(key, value));
  const popped = [...expected.keys()].filter((_, index) => index % 5 === 0);
  await inParallel(popped, 16, (key, index) => roundRobin(clients, index).pop(key));
  for (const key of popped) expected.set(key, null);
  return expected;
}

/** Every listed node's member list, as `address → status`. */
async function views(clients: readonly KVClient[]): Promise<Array<Map<string, string>>> {
  return Promise.all(
    clients.map(
      async (kv) => new Map((await kv.listMembers()).map(({ address, status }) => [address, status])),
    ),
  );
}

describe('membership changes in a cluster of real processes (R=3)', function () {
  this.timeout(60_000);
  const start = clusterPerTest();

  it('a node started with -C naming one member joins: all agree on it, and keys move to it', async () => {
    const c = await start({ size: 3, replicas: 3 });
    const expected = await fill([c.client(0), c.client(1), c.client(2)], 'join', 500);
    const live = liveKeys(expected).length;
    await waitForTotalKeys([c.client(0), c.client(1), c.client(2)], 3 * live, { timeoutMs: 10_000 });

    const joinedAt = Date.now();
    const joiner = await c.addNode([c.node(1).address]);
    const all = c.nodes.map((_, index) => c.client(index));
    const everyoneAlive = (seen: Array<Map<string, string>>) =>
      seen.every((view) => c.addresses.every((address) => view.get(address) === 'alive'));
    await waitFor('every node to list all four members alive', async () => everyoneAlive(await views(all)), {
      timeoutMs: Math.max(0, joinedAt + 15_000 - Date.now()),
    });
    // It serves reads, and `locate` names it, once it holds the data of its ranges.
    await waitForPhase(all, [c.node(joiner).address], 'normal', Math.max(0, joinedAt + 30_000 - Date.now()));

    const owned = new Map(c.addresses.map((address) => [address, 0]));
    await inParallel(liveKeys(expected), 8, async (key) => {
      const answers = await Promise.all(all.map((kv) => kv.locate(key)));
      expect(answers[0], key).to.have.length(3);
      expect(new Set(answers[0]).size, key).to.equal(3);
      for (const answer of answers) expect(answer, `locate ${key} on every node`).to.deep.equal(answers[0]);
      for (const address of defined(answers[0])) owned.set(address, (owned.get(address) ?? 0) + 1);
    });
    const counts = c.addresses.map((address) => owned.get(address) ?? 0);
    expect(counts.reduce((sum, n) => sum + n, 0)).to.equal(3 * live);
    expect(counts[joiner], 'live keys the new node replicates').to.be.above(0);

    await waitForKeyCounts(all, counts, { timeoutMs: Math.max(0, joinedAt + 30_000 - Date.now()) });
    expectNoMismatch(await mismatches(all, expected));
    for (const keys of await Promise.all(all.map((kv) => kv.listKeys()))) {
      expect(keys).to.deep.equal(liveKeys(expected));
    }
  });

  it('a node sent `leave` hands its data over, answers, exits 0, and is listed as left', async () => {
    const c = await start({ size: 4, replicas: 3 });
    const all = [0, 1, 2, 3].map((index) => c.client(index));
    const expected = await fill(all, 'leave', 300);
    const live = liveKeys(expected).length;
    await waitForTotalKeys(all, 3 * live, { timeoutMs: 10_000 });
    const held = await c.client(3).stats();

    const leaving = c.node(3).address;
    const result = await c.client(3).leave();
    expect(result.left).to.equal(leaving);
    expect(result.handedOff, 'records handed off').to.equal(held.keys + held.tombstones);
    const exit = await c.exited(3, 5_000);
    expect(exit).to.deep.equal({ code: 0, signal: null });

    const rest = all.slice(0, 3);
    await waitForStatus(rest, leaving, (status) => status === 'left', {
      timeoutMs: 5_000,
      what: 'status left',
    });
    await waitForTotalKeys(rest, 3 * live, { timeoutMs: 30_000 });
    expectNoMismatch(await mismatches(rest, expected));
    for (const key of [...expected.keys()].slice(0, 50)) {
      expect(await c.client(0).locate(key)).not.to.include(leaving);
    }
  });

  it('`leave` naming a dead member removes it, and the rest re-replicate its keys', async () => {
    const c = await start({ size: 4, replicas: 3 });
    const all = [0, 1, 2, 3].map((index) => c.client(index));
    const expected = await fill(all, 'remove', 300);
    const live = liveKeys(expected).length;
    await waitForTotalKeys(all, 3 * live, { timeoutMs: 10_000 });

    const dead = c.node(3).address;
    const rest = all.slice(0, 3);
    const refused = await c
      .client(0)
      .leave(c.addresses[2])
      .catch((error: unknown) => error);
    expect(refused, 'leave naming a member that is alive').to.be.instanceOf(InvalidParamsError);
    const unknown = await c
      .client(0)
      .leave('127.0.0.1:1')
      .catch((error: unknown) => error);
    expect(unknown, 'leave naming a non-member').to.be.instanceOf(InvalidParamsError);
    await c.signal(3, 'SIGKILL');
    await waitForStatus([c.client(0)], dead, (status) => status !== 'alive', { what: 'a non-alive status' });
    expect(await c.client(0).leave(dead)).to.deep.equal({ left: dead, handedOff: 0 });
    await waitForStatus(rest, dead, (status) => status === 'left', { timeoutMs: 5_000, what: 'status left' });
    await waitForTotalKeys(rest, 3 * live, { timeoutMs: 30_000 });
    expectNoMismatch(await mismatches(rest, expected));
    for (const key of [...expected.keys()].slice(0, 50)) {
      expect(await c.client(1).locate(key)).not.to.include(dead);
    }
  });

  it('nodes of two clusters whose -C lists cross stay apart, and each side logs why', async () => {
    const c = await start({ size: 2, replicas: 2 });
    const stranger = await c.addNode([c.node(0).address], ['--cluster-name', 'other']);
    const strangerAddress = c.node(stranger).address;
    const output = (index: number) => logMessages(c.node(index).output).join('\n');
    await waitFor(
      'both sides to log the refusal',
      async () =>
        output(stranger).includes(
          `peer stream to ${c.addresses[0]} refused: ${c.addresses[0]} is in cluster "kvdb", not "other"`,
        ) && output(0).includes('refused a peer stream from a node of cluster "other"'),
      { timeoutMs: 10_000 },
    );
    // The stranger reaches no member named in its -C, so it stays joining and takes no request: it has no view of
    // any cluster to plan one on.
    const own = (await c.client(stranger).listMembers()).find(({ address }) => address === strangerAddress);
    expect(own?.phase).to.equal('joining');
    const refused = await c
      .client(stranger)
      .set('stranger', 1, { consistency: 'one' })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(refused).to.be.instanceOf(UnavailableError);
    for (const seen of await views([c.client(0), c.client(1)])) {
      expect([...seen.keys()].sort(), 'members of cluster kvdb').to.deep.equal(
        [...c.addresses.slice(0, 2)].sort(),
      );
      expect(seen.has(strangerAddress)).to.equal(false);
    }
    expect(await c.client(0).get('stranger')).to.equal(null);
    expect(
      output(stranger)
        .split('\n')
        .filter((line) => line.includes('peer stream to')),
      'logged once',
    ).to.have.length(1);
  });
});
