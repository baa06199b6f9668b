import { KVClient, type KVClientTls } from '@kvdb/client';
import { TestCertificateAuthority } from '@kvdb/core/testing';
import { SERVER_BIN } from '@kvdb/server';
import { expect } from 'chai';
import { logLines } from './helpers/cluster.js';
import { NetnsLab } from './helpers/netns.js';
import { waitFor } from './helpers/wait.js';

const PORT = 5878;
const TOKEN = 'netns-client-token';
const PEER_TOKEN = 'netns-peer-token';
const KEYS = 200;

/** Whether every member `client`'s node knows of is alive, and there are `count` of them. */
async function allAlive(client: KVClient, count: number): Promise<boolean> {
  const members = await client.listMembers();
  return members.length === count && members.every((member) => member.status === 'alive');
}

/** How a failed call failed: its error's class and message, or `answered`. */
function outcome(call: Promise<unknown>): Promise<string> {
  return call.then(
    () => 'answered',
    (error: Error) => `${error.constructor.name}: ${error.message}`,
  );
}

/**
 * Three nodes on three "machines" (network namespaces on a bridge, an address each), as the README's guide to
 * several machines runs them: each binds its own address, names the others with -C, speaks mutual TLS with a
 * certificate for its address, and needs the token from clients and the peer token from peers.
 */
describe('three nodes in three network namespaces, with mutual TLS and tokens', function () {
  this.timeout(120_000);
  let lab: NetnsLab | undefined;
  let ca: TestCertificateAuthority | undefined;
  let tls: KVClientTls = {};
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
    ca = await TestCertificateAuthority.create();
    const app = await ca.issue('app', { use: 'client' });
    tls = { ca: ca.cert, cert: app.cert, key: app.key };
    const members = [0, 1, 2].map((i) => `${machines.address(i)}:${PORT}`).join(',');
    for (let i = 0; i < 3; i++) {
      const host = machines.address(i);
      const certificate = await ca.issue(`node-${i}`, { hosts: [host] });
      const output: string[] = [];
      logs.set(i, output);
      machines.spawnNode(
        i,
        [
          SERVER_BIN,
          ...['-H', host, '-P', String(PORT), '-C', members, '-R', '3', '--timings', 'local'],
          ...['--auth-token', TOKEN, '--peer-token', PEER_TOKEN],
          ...['--tls-cert', certificate.certFile, '--tls-key', certificate.keyFile],
          ...['--tls-ca', ca.certFile, '--tls-client-auth'],
        ],
        (chunk) => output.push(chunk.toString()),
      );
      clients.push(new KVClient({ host, port: PORT, authToken: TOKEN, timeoutMs: 5_000, tls }));
    }
    for (const [i, client] of clients.entries()) {
      await waitFor(`node ${i} to see three alive members`, () => allAlive(client, 3), {
        timeoutMs: 30_000,
        intervalMs: 200,
      });
    }
  });

  after(async () => {
    for (const client of clients) client.close();
    await lab?.destroy();
    await ca?.remove();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      for (const [i, output] of logs)
        console.log(`--- node ${i} ---\n${logLines(output).slice(-40).join('\n')}`);
    }
  });

  const client = (i: number): KVClient => clients[i] as KVClient;

  it('refuses a client without a certificate, or without the token, or in plain HTTP', async () => {
    const host = (lab as NetnsLab).address(0);
    const others = [
      new KVClient({ host, port: PORT, authToken: TOKEN, tls: { ca: tls.ca } }),
      new KVClient({ host, port: PORT, tls }),
      new KVClient({ host, port: PORT, authToken: TOKEN }),
    ];
    try {
      const [noCertificate, noToken, plain] = await Promise.all(others.map((other) => outcome(other.ping())));
      expect(noCertificate).to.match(/^ConnectionError: .*(certificate|reset)/);
      expect(noToken).to.match(/^UnauthorizedError/);
      expect(plain).to.match(/speaks TLS: use https/);
    } finally {
      for (const other of others) other.close();
    }
  });

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
    const cutOff = `${machines.address(2)}:${PORT}`;
    await machines.cut(2);
    try {
      await waitFor(
        'node 0 to see node 2 down',
        async () =>
          (await client(0).listMembers()).find((member) => member.address === cutOff)?.status !== 'alive',
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      for (let k = 0; k < KEYS; k++) expect(await client(k % 2).set(`cut-${k}`, k)).to.equal(true);
      expect(await outcome(client(2).ping()), 'a client cannot reach the cut-off machine').to.not.equal(
        'answered',
      );
    } finally {
      await machines.restore(2);
    }
    for (const i of [0, 1, 2]) {
      await waitFor(`node ${i} to see every member alive again`, () => allAlive(client(i), 3), {
        timeoutMs: 30_000,
        intervalMs: 200,
      });
    }
    await waitFor('node 2 to hold every key again', async () => (await client(2).stats()).keys === 2 * KEYS, {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
    expect(await client(2).get('cut-123')).to.equal(123);
  });
});
