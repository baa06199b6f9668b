import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { KVClient } from '@kvdb/client';
import { freePorts } from '@kvdb/server';
import { expect } from 'chai';
import { TestCluster } from './helpers/cluster.js';
import { type KvdbRun, runNodeScript } from './helpers/run-kvdb.js';
import { waitFor } from './helpers/wait.js';

/** examples/dist/<name>.js, as a user runs it. */
const example = (name: string) => fileURLToPath(new URL(`../../examples/dist/${name}.js`, import.meta.url));

/** Fails with everything the run printed unless it exited with `code`; resolves with its stdout lines. */
function linesOf(run: KvdbRun, code = 0): string[] {
  expect(run.code, `exit code; stdout:\n${run.stdout}\nstderr:\n${run.stderr}`).to.equal(code);
  return run.stdout.split('\n');
}

/** Whether something listens on `address` (host:port) on 127.0.0.1. */
function listening(address: string): Promise<boolean> {
  const port = Number(address.split(':').at(-1));
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('the examples, run as processes against real clusters', function () {
  this.timeout(120_000);
  let cluster: TestCluster;

  before(async () => {
    cluster = await TestCluster.start({ size: 3, replicas: 3 });
  });
  after(async () => {
    await cluster?.stop();
  });

  it('app.js counts page views, keeps a profile and pops it', async () => {
    const lines = linesOf(await runNodeScript(example('app'), [String(cluster.node(0).port)]));
    expect(lines.slice(0, 3)).to.deep.equal(['/ has 1 view(s)', '/about has 1 view(s)', '/ has 2 view(s)']);
    expect(lines).to.include('still there? false');
    expect(lines).to.include('views of / (one replica): 2');
  });

  it('batch.js loads a catalogue with mset, reads pages with mget and updates prices on every replica', async () => {
    const lines = linesOf(await runNodeScript(example('batch'), cluster.addresses));
    expect(lines).to.include.members([
      'loaded 10 products with one mset',
      'page 1: kettle 5.00, teapot 7.50, mug 10.00, saucer 12.50',
      'page 3: caddy 25.00, timer 27.50, (none), (none)',
      'updated 2 prices on every replica',
      'page 1 now: [ 4.5, 7, 10, 12.5 ]',
    ]);
  });

  it('sessions.js refreshes a session on use, lets an idle one expire, and logs one out', async () => {
    const run = await runNodeScript(example('sessions'), [cluster.addresses[1] ?? '']);
    const out = linesOf(run).join('\n');
    expect(out).to.match(/^ada logged in: [0-9a-f-]{36}, (1\.[5-9]|2\.0) s left$/m);
    expect(out).to.match(/^after 1 s idle: (0\.\d|1\.0) s left$/m);
    expect(out).to.match(/^refreshed: (1\.[5-9]|2\.0) s left$/m);
    expect(out).to.contain('ada comes back: session expired, please log in again');
    expect(out).to.contain('bo logged in: bo; logs out: true');
    expect(out).to.contain('bo comes back: logged out, please log in again');
  });

  it('batch.js, with a node down, names the keys the update at `all` failed for and writes them at quorum', async () => {
    await cluster.signal(2, 'SIGKILL');
    const lines = linesOf(await runNodeScript(example('batch'), cluster.addresses));
    expect(lines).to.include('mset failed for 2 of 2 keys (QuorumNotReachedError):');
    expect(lines.filter((line) => /^ {2}\[[01]\] product:[12]: 1001 /.test(line))).to.have.length(2);
    expect(lines).to.include('wrote those 2 again at quorum');
    expect(lines).to.include('page 1 now: [ 4.5, 7, 10, 12.5 ]');
  });
});

describe('examples/failover.js, which runs its own cluster', function () {
  this.timeout(120_000);

  it('keeps reading and writing while a node is killed and restarted, and stops every node it started', async () => {
    const run = await runNodeScript(example('failover'), [], '', 90_000);
    const lines = linesOf(run);
    const addresses = /cluster of 3 on (\S+), (\S+), (\S+),/.exec(run.stdout)?.slice(1) ?? [];
    expect(addresses, run.stdout).to.have.length(3);
    const victim = addresses[0];
    for (const event of [`SIGKILL ${victim}`, `nodeDown ${victim} (ConnectionError)`, `nodeUp ${victim}`]) {
      expect(
        lines.some((line) => line.endsWith(event)),
        `${event} in\n${run.stdout}`,
      ).to.equal(true);
    }
    const phases = lines.filter((line) =>
      /^(before the kill|node down|after restart) +\d+ +\d+ +\d+ ms/.test(line),
    );
    expect(phases, run.stdout).to.have.length(3);
    expect(lines).to.include('reads that contradict an acknowledged write: 0');
    // Reads move to another node and stamped writes are sent again: no call fails.
    expect(lines.filter((line) => /^\d+ × /.test(line))).to.deep.equal([]);
    expect(lines).to.include('writes whose outcome was unknown, written again: 0');
    expect(run.stderr).to.equal('');
    for (const address of addresses) expect(await listening(address), address).to.equal(false);
  });
});

describe('examples/local-cluster.js (npm start)', function () {
  this.timeout(60_000);
  let child: ChildProcess | undefined;

  afterEach(async () => {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    // SIGINT, so that it stops its nodes; SIGKILL if it has not exited 10 s later.
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGINT');
    const timer = setTimeout(() => running.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  });

  it('runs a cluster until Ctrl-C, then stops every node and exits 0', async () => {
    const ports = await consecutiveFreePorts(2);
    const started = spawn(
      process.execPath,
      [example('local-cluster'), '--nodes', '2', '--port', String(ports[0])],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child = started;
    let stdout = '';
    started.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const banner = `kvdb: 2 nodes on 127.0.0.1:${ports[0]}-${ports[1]}, replicas 3.`;
    await waitFor(banner, () => stdout.includes(banner), { timeoutMs: 30_000 });
    const kv = new KVClient({ nodes: ports.map((port) => `127.0.0.1:${port}`) });
    try {
      await kv.set('npm-start', 'works');
      expect(await kv.get('npm-start', null, { consistency: 'all' })).to.equal('works');
    } finally {
      await kv.close();
    }
    const exited = new Promise<number | null>((resolve) => started.once('exit', (code) => resolve(code)));
    started.kill('SIGINT');
    expect(await exited, stdout).to.equal(0);
    for (const port of ports) expect(await listening(`127.0.0.1:${port}`), String(port)).to.equal(false);
  });
});

/** `count` consecutive ports free now (local-cluster.js takes the first and counts up), from a random base. */
async function consecutiveFreePorts(count: number): Promise<number[]> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const ports = await freePorts(count, base);
    if (ports.every((port, i) => port === base + i)) return ports;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}
