import { KVClient } from '@kvdb/client';
import { SERVER_BIN } from '@kvdb/server';
import { expect } from 'chai';
import { NetnsLab } from './helpers/netns.js';
import { waitFor } from './helpers/wait.js';

const PORT = 5878;
const TOKEN = 'netns-client-token';
const PEER_TOKEN = 'netns-peer-token';
const KEYS = 200;

/**
 * Three nodes on three "machines" (network namespaces on a bridge, an address each), as the README's guide to
 * several machines runs them: each binds its own address, names the others with -C, and needs the token from
 * clients and the peer token from peers.
 */
describe('three nodes in three network namespaces', function () {
  this.timeout(120_000);
  let lab: NetnsLab | undefined;
  const logs = new Map<number, string[]>();
  const clients: KVClient[] = [];

  before(async function () {
    const why = await NetnsLab.unavailable();
    if (why !== undefined) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    lab = await NetnsLab.create(3);
    const machines = lab;
    const members = [0, 1, 2].map((i) => `${machines.address(i)}:${PORT}`).join(',');
    for (let i = 0; i < 3; i++) {
      logs.set(i, []);
      machines.spawnNode(
        i,
        [
          SERVER_BIN,
          ...['-H', machines.address(i), '-P', String(PORT), '-C', members, '-R', '3'],
          ...['--timings', 'local', '--log-level', 'info', '--auth-token', TOKEN, '--peer-token', PEER_TOKEN],
        ],
        (chunk) => logs.get(i)?.push(chunk.toString()),
      );
      clients.push(
        new KVClient({ host: machines.address(i), port: PORT, authToken: TOKEN, timeoutMs: 5_000 }),
      );
    }
    for (const [i, client] of clients.entries()) {
      await waitFor(
        `node ${i} to see three alive members`,
        async () => {
          const members = await client.listMembers();
          return members.filter((member) => member.status === 'alive').length === 3;
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );
    }
  });

  after(async () => {
    for (const client of clients) client.close();
    await lab?.destroy();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      for (const [i, lines] of logs) console.log(`--- node ${i} ---\n${lines.join('').slice(-4_000)}`);
    }
  });

  const client = (i: number): KVClient => clients[i] as KVClient;

  it('replicates what one machine is told to every machine', async () => {
    for (let k = 0; k < KEYS; k++) expect(await client(k % 3).set(`m-${k}`, { k })).to.equal(true);
    for (let i = 0; i < 3; i++) {
      expect(await client(i).get('m-17'), `read through node ${i}`).to.deep.equal({ k: 17 });
      const stats = await client(i).stats();
      expect(stats.keys, `keys stored on node ${i}`).to.equal(KEYS);
    }
  });

  it('keeps serving quorum writes with a machine cut off, and brings it up to date when it returns', async () => {
    const machines = lab as NetnsLab;
    await machines.cut(2);
    try {
      await waitFor(
        'node 0 to see node 2 down',
        async () => {
          const members = await client(0).listMembers();
          return (
            members.find((member) => member.address === `${machines.address(2)}:${PORT}`)?.status !== 'alive'
          );
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      for (let k = 0; k < KEYS; k++) expect(await client(k % 2).set(`cut-${k}`, k)).to.equal(true);
      const unreachable = await client(2)
        .ping()
        .then(
          () => 'answered',
          (error: Error) => error.constructor.name,
        );
      expect(unreachable, 'a client cannot reach the cut-off machine').to.not.equal('answered');
    } finally {
      await machines.restore(2);
    }
    await waitFor('node 2 to hold every key again', async () => (await client(2).stats()).keys === 2 * KEYS, {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
    expect(await client(2).get('cut-123')).to.equal(123);
  });
});
