import { lookup } from 'node:dns/promises';
import { type KVClient, QuorumNotReachedError } from '@kvdb/client';
import { freePorts } from '@kvdb/server';
import { expect } from 'chai';
import { clusterPerTest, SERVER_BIN } from './helpers/cluster.js';
import { runKvdb, runNodeScript } from './helpers/run-kvdb.js';
import { waitFor } from './helpers/wait.js';

/** Each node's member list as `address status`, sorted, and with `(never answered)` where it says so. */
async function memberLists(clients: readonly KVClient[]): Promise<string[][]> {
  return Promise.all(
    clients.map(async (kv) =>
      (await kv.listMembers())
        .map(
          ({ address, status, answered }) =>
            `${address} ${status}${answered === false ? ' (never answered)' : ''}`,
        )
        .sort(),
    ),
  );
}

/** Sets each key through the clients in turn; resolves with the keys whose write missed its quorum. */
async function setAll(clients: readonly KVClient[], keys: readonly string[]): Promise<string[]> {
  const failed: string[] = [];
  await Promise.all(
    keys.map((key, i) =>
      clients[i % clients.length]?.set(key, key).catch((error: unknown) => {
        if (!(error instanceof QuorumNotReachedError)) throw error;
        failed.push(key);
      }),
    ),
  );
  return failed;
}

describe('addresses and members (real processes)', function () {
  this.timeout(60_000);
  const start = clusterPerTest();

  it('refuses a wildcard --host without --advertise, and a wildcard --advertise, naming the flag', async () => {
    const [port] = await freePorts(1);
    const wildcard = await runNodeScript(SERVER_BIN, ['-H', '0.0.0.0', '-P', String(port)]);
    expect(wildcard.code).to.equal(1);
    expect(wildcard.stderr).to.contain('cannot start').and.to.contain(`--advertise 10.0.0.5:${port}`);
    const ipv6 = await runNodeScript(SERVER_BIN, ['-H', '::', '-P', String(port)]);
    expect(ipv6.code).to.equal(1);
    expect(ipv6.stderr).to.contain('give --advertise HOST:PORT');
    const advertised = await runNodeScript(SERVER_BIN, [
      '-P',
      String(port),
      '--advertise',
      `0.0.0.0:${port}`,
    ]);
    expect(advertised.code).to.equal(1);
    expect(advertised.stderr).to.contain('a wildcard');
  });

  it('a node named in a peer’s -C by another name (localhost) is one member on every node, and quorum writes work', async function () {
    const resolved = await lookup('localhost');
    if (resolved.address !== '127.0.0.1') this.skip(); // the alias must reach the node on 127.0.0.1
    const c = await start({ size: 2, replicas: 3, args: ['--timings', 'local'] });
    const joiner = await c.addNode([`localhost:${c.node(0).port}`], ['--timings', 'local']);
    const all = [0, 1, joiner].map((index) => c.client(index));
    const wanted = [...c.addresses].sort().map((address) => `${address} alive`);
    await waitFor(
      'every node to list the three members once, alive',
      async () => (await memberLists(all)).every((list) => list.join() === wanted.join()),
      { timeoutMs: 20_000 },
    );
    await waitFor(
      'the new node to serve reads',
      async () =>
        (await all[0]?.listMembers())?.every(({ phase }) => phase === 'normal') === true &&
        (await all[2]?.locate('x'))?.length === 3,
      { timeoutMs: 30_000 },
    );

    const keys = Array.from({ length: 60 }, (_, i) => `alias:${i}`);
    expect(await setAll(all, keys), 'writes that missed their quorum').to.deep.equal([]);
    for (const key of keys.slice(0, 20)) {
      const replicas = await c.client(0).locate(key);
      expect(new Set(replicas).size, `distinct replicas of ${key}`).to.equal(3);
      expect(replicas).to.have.members(c.addresses);
    }
    // Three members and -R 3: each node holds every key, once.
    await waitFor(
      'every node to hold every key',
      async () =>
        (await Promise.all(all.map((kv) => kv.stats()))).every(({ keys: held }) => held === keys.length),
      { timeoutMs: 20_000 },
    );
  });

  it('a member in -C that never answers: a WARN line, `(never answered)` in list_members, and `leave` removes it', async () => {
    const c = await start({ size: 2, replicas: 2, args: ['--timings', 'local'] });
    const [typoPort] = await freePorts(1);
    const typo = `127.0.0.1:${typoPort}`;
    await c.signal(1, 'SIGKILL');
    await c.startNode(1, [], { seeds: [...c.addresses, typo] });
    const all = [c.client(0), c.client(1)];
    const dead = `${typo} dead (never answered)`;
    await waitFor(
      'both nodes to list the typo as dead, never answered',
      async () => (await memberLists(all)).every((list) => list.includes(dead)),
      { timeoutMs: 15_000 },
    );
    const warned = await waitFor(
      'the warning',
      () =>
        c
          .node(1)
          .output.join('')
          .match(new RegExp(`.*${typo} has never answered.*`, 'i'))?.[0],
    );
    expect(warned, 'a warning, in text or JSON (pino level 40)').to.match(/warn|"level":40/i);
    expect(warned).to.contain(`leave ${typo}`);
    const shell = await runKvdb(['-P', String(c.node(0).port), 'list_members']);
    expect(shell.stdout).to.match(new RegExp(`${typo} +dead \\(never answered\\)`));

    const keys = Array.from({ length: 40 }, (_, i) => `typo:${i}`);
    expect((await setAll(all, keys)).length, 'writes whose replicas include the typo').to.be.above(0);

    const leave = await runKvdb(['-P', String(c.node(0).port), '--yes', 'leave', typo]);
    expect(leave.stdout).to.contain(`${typo} left the cluster`);
    await waitFor(
      'both nodes to list the typo as left',
      async () =>
        (await memberLists(all)).every((list) => list.some((line) => line.startsWith(`${typo} left`))),
      { timeoutMs: 10_000 },
    );
    await waitFor('every write to reach its quorum', async () => (await setAll(all, keys)).length === 0, {
      timeoutMs: 10_000,
    });
    const warnings = c.node(1).output.join('').split(`${typo} has never answered`).length - 1;
    expect(warnings, 'warned once').to.equal(1);
  });
});
