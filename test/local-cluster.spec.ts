import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KVClient } from '@kvdb/client';
import { UnavailableError } from '@kvdb/core';
import { defined } from '@kvdb/core/testing';
import { freePorts, type LocalCluster, type NodeExit, startLocalCluster } from '@kvdb/server';
import { expect } from 'chai';

describe('startLocalCluster: kvdb-server processes on 127.0.0.1', function () {
  this.timeout(60_000);
  let cluster: LocalCluster | undefined;
  const clients: KVClient[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await cluster?.stop();
    cluster = undefined;
  });

  const client = (port: number) => {
    const kv = new KVClient({ host: '127.0.0.1', port, timeoutMs: 5_000 });
    clients.push(kv);
    return kv;
  };

  it('starts nodes that see each other alive, and stop() kills every one and removes its temporary data root', async () => {
    const exits: string[] = [];
    cluster = await startLocalCluster({
      nodes: 2,
      ready: 'members',
      dataDir: true,
      onExit: (node, exit) => exits.push(`${node.address} ${exit.signal}`),
    });
    const c = cluster;
    expect(c.addresses).to.deep.equal(c.nodes.map((node) => `127.0.0.1:${node.port}`));
    for (const node of c.nodes) {
      const members = await client(node.port).listMembers();
      expect(members.map((member) => [member.address, member.status]).sort()).to.deep.equal(
        c.addresses.map((address) => [address, 'alive']).sort(),
      );
    }
    const spawnargs = defined(defined(c.nodes[0]).process, 'a process').spawnargs;
    const dataDir = defined(spawnargs.at(spawnargs.indexOf('--data-dir') + 1), 'a --data-dir');
    expect(existsSync(dataDir), dataDir).to.equal(true);
    await c.stop();
    expect(c.nodes.map((node) => node.process?.signalCode)).to.deep.equal(['SIGKILL', 'SIGKILL']);
    expect(exits.sort()).to.deep.equal(c.addresses.map((address) => `${address} SIGKILL`).sort());
    expect(existsSync(dataDir), dataDir).to.equal(false);
  });

  it('gives a node it adds the replication factor the cluster started with', async () => {
    cluster = await startLocalCluster({ nodes: 2 });
    const added = await cluster.addNode([cluster.addresses[0] ?? '']);
    const spawnargs = defined(defined(cluster.nodes[added]).process, 'a process').spawnargs;
    expect(spawnargs[spawnargs.indexOf('-R') + 1], '-R of the third node').to.equal('2');
  });

  it('refuses at once to find ports on an address this machine does not have', async () => {
    const error = await freePorts(1, undefined, '192.0.2.1').catch((failure: unknown) => failure);
    expect(error).to.be.instanceOf(UnavailableError);
    expect((error as Error).message).to.match(/^cannot bind 192\.0\.2\.1:0: /);
  });

  it('kills a node, says how it exited, and starts it again on its port', async () => {
    cluster = await startLocalCluster({ nodes: 2, replicas: 2 });
    const c = cluster;
    await c.kill(1);
    expect(c.isRunning(1)).to.equal(false);
    expect(await c.exited(1)).to.deep.equal({ code: null, signal: 'SIGKILL' });
    await c.startNode(1);
    const restarted = defined(c.nodes[1]);
    expect(restarted.starts).to.equal(2);
    expect(await client(restarted.port).ping()).to.equal('pong');
    await c.signal(1, 'SIGTERM');
    expect(await c.exited(1)).to.deep.equal({ code: 0, signal: null });
    await expectRejection(c.exited(0, 100), /still running after 100 ms/);
  });

  it('fails with the output of a node that exits before it is ready, and stops the others', async () => {
    const exits: NodeExit[] = [];
    const error = await expectRejection(
      startLocalCluster({
        nodes: 2,
        args: (index) => (index === 1 ? ['--bogus'] : []),
        onExit: (_, exit) => exits.push(exit),
      }),
      /exited \(code 2\) before it was ready:\nkvdb-server: unknown option --bogus\nsee kvdb-server --help$/,
    );
    expect(error).to.be.instanceOf(UnavailableError);
    expect(exits).to.have.length(2);
  });

  it('fails with how long it waited for a node that never answers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvdb-silent-'));
    try {
      const silent = join(dir, 'silent.js');
      writeFileSync(silent, "process.stdout.write('up, not listening\\n'); setInterval(() => {}, 1_000);\n");
      const [port] = await freePorts(1);
      await expectRejection(
        startLocalCluster({ ports: [defined(port, 'a free port')], bin: silent, readyTimeoutMs: 1_000 }),
        new RegExp(
          `127\\.0\\.0\\.1:${port} was not ready within 1000 ms \\(.*ECONNREFUSED.*\\):\nup, not listening$`,
        ),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

async function expectRejection(promise: Promise<unknown>, pattern: RegExp): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).to.be.instanceOf(Error);
  expect((error as Error).message).to.match(pattern);
  return error as Error;
}
