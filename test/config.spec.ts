import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectionError, KVClient, TooLargeError, UnauthorizedError } from '@kvdb/client';
import { defined } from '@kvdb/core/testing';
import { freePorts } from '@kvdb/server';
import { expect } from 'chai';
import { SERVER_BIN, SHELL_BIN } from './helpers/cluster.js';
import { runNodeScript } from './helpers/run-kvdb.js';
import { waitFor } from './helpers/wait.js';

/** Variables a developer's shell may hold that would change what these tests start. */
const CLEAN_ENV = Object.fromEntries(
  Object.keys(process.env)
    .filter((name) => name.startsWith('KVDB_'))
    .map((name) => [name, '']),
);

describe('kvdb-server settings from flags, KVDB_* variables and --config FILE', function () {
  this.timeout(30_000);
  let dir: string;
  const children: ChildProcess[] = [];
  const clients: KVClient[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kvdb-config-'));
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await Promise.all(children.splice(0).map(stopChild));
    rmSync(dir, { recursive: true, force: true });
  });

  const client = (port: number, authToken?: string): KVClient => {
    const made = new KVClient({ port, authToken, timeoutMs: 3_000 });
    clients.push(made);
    return made;
  };
  const start = async (args: string[], env: Record<string, string>, port: number, token?: string) => {
    const child = spawn(process.execPath, [SERVER_BIN, '--log-level', 'error', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...CLEAN_ENV, ...env },
    });
    children.push(child);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    await waitFor(`kvdb-server on port ${port}`, async () => {
      if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}: ${stderr}`);
      return (await client(port, token).ping()) === 'pong';
    });
    return () => stderr;
  };

  it('takes each option from the command line, then the environment, then the file', async () => {
    const [filePort = 0, envPort = 0, flagPort = 0] = await freePorts(3);
    const config = join(dir, 'kvdb.json');
    writeFileSync(config, JSON.stringify({ port: filePort, 'auth-token': 'file-token', 'max-key-bytes': 8 }));
    // KVDB_SIM_SEED names no option: the tests' own variables must not stop a node.
    const env = { KVDB_PORT: String(envPort), KVDB_AUTH_TOKEN: 'env-token', KVDB_SIM_SEED: '7' };

    const stderr = await start(['--config', config], env, envPort, 'env-token');
    await expectRejection(client(filePort, 'file-token').ping(), ConnectionError);
    await expectRejection(client(envPort, 'file-token').ping(), UnauthorizedError);
    const kv = client(envPort, 'env-token');
    expect(await kv.set('short', 1)).to.equal(true);
    await expectRejection(kv.set('longer than 8', 1), TooLargeError);
    // The shell reads the same variables: KVDB_PORT and KVDB_AUTH_TOKEN reach this node.
    const shell = await runNodeScript(SHELL_BIN, ['get', 'short'], '', 15_000, { ...CLEAN_ENV, ...env });
    expect(shell).to.deep.equal({ code: 0, stdout: '1\n', stderr: '' });
    expect(stderr(), 'no warning for KVDB_SIM_SEED').to.equal('');

    await start(
      ['--config', config, '-P', String(flagPort), '--auth-token', 'flag-token'],
      env,
      flagPort,
      'flag-token',
    );
    await expectRejection(client(flagPort, 'env-token').ping(), UnauthorizedError);
  });

  it('starts the clusters --help shows: three founding members that get ready, and a node that joins them', async function () {
    this.timeout(90_000);
    const help = (await runNodeScript(SERVER_BIN, ['--help'], '', 15_000, CLEAN_ENV)).stdout;
    const commands = help
      .split('\n')
      .map((line) => line.trim().match(/^kvdb-server (-P 58\d\d -C 127\.0\.0\.1:5878\S*)/)?.[1])
      .filter((args) => args !== undefined);
    expect(commands).to.have.length(4);
    // The help's ports, 5878 to 5881, become free ones.
    const ports = await freePorts(4);
    const onFreePorts = (args: string) =>
      args.replace(/\b58(7[89]|8[01])\b/g, (port) => String(ports[Number(port) - 5878])).split(' ');
    const ready = (port: number) =>
      waitFor(
        `127.0.0.1:${port} to be ready`,
        async () => {
          const response = await fetch(`http://127.0.0.1:${port}/ready`);
          await response.body?.cancel();
          return response.status === 200;
        },
        { timeoutMs: 30_000 },
      );
    const founders = commands.filter((args) => !args.startsWith('-P 5881'));
    expect(founders).to.have.length(3);
    for (const args of founders) {
      const port = Number(onFreePorts(args)[1]);
      await start(onFreePorts(args), {}, port);
      await ready(port);
    }
    const joiner = defined(
      commands.find((args) => args.startsWith('-P 5881')),
      'a join example',
    );
    expect(joiner).to.equal('-P 5881 -C 127.0.0.1:5878');
    const [first = 0, , , joined = 0] = ports;
    await start(onFreePorts(joiner), {}, joined);
    await ready(joined);
    const members = (await client(first).listMembers()).map((member) => member.address);
    expect(members).to.have.members(ports.map((port) => `127.0.0.1:${port}`));
  });

  it('names an unknown flag first, in two lines, with exit status 2', async () => {
    const typo = await runNodeScript(SERVER_BIN, ['--prot', '1'], '', 15_000, CLEAN_ENV);
    expect(typo).to.deep.equal({
      code: 2,
      stdout: '',
      stderr: 'kvdb-server: unknown option --prot (did you mean --port?)\nsee kvdb-server --help\n',
    });
    const bad = await runNodeScript(SERVER_BIN, ['--port', 'abc'], '', 15_000, CLEAN_ENV);
    expect(bad).to.deep.include({
      code: 2,
      stderr: 'kvdb-server: Expected `--port` to be a number, got "abc"\nsee kvdb-server --help\n',
    });
  });

  it('names the variable or the config file that is wrong, and why, and starts nothing', async () => {
    const [port = 0] = await freePorts(1);
    const config = join(dir, 'kvdb.json');
    writeFileSync(config, '{ "port": 5878, "data-dir": "/var/lib/kvdb", }');
    const broken = await runNodeScript(SERVER_BIN, ['--config', config], '', 15_000, CLEAN_ENV);
    expect(broken.code).to.equal(2);
    expect(broken.stderr).to.match(
      new RegExp(`^kvdb-server: config file ${config} is not valid JSON: .*\\(line 1, column \\d+\\)\\n`),
    );

    writeFileSync(config, JSON.stringify({ port, prot: 1 }));
    const unknown = await runNodeScript(SERVER_BIN, [], '', 15_000, { ...CLEAN_ENV, KVDB_CONFIG: config });
    expect(unknown).to.deep.include({
      code: 2,
      stderr: `kvdb-server: config file ${config}: unknown key "prot" (did you mean "port"?)\nsee kvdb-server --help\n`,
    });
    const env = { ...CLEAN_ENV, KVDB_PORT: String(port), KVDB_REPLICAS: 'three', KVDB_PROT: '1' };
    const wrong = await runNodeScript(SERVER_BIN, [], '', 15_000, env);
    expect(wrong).to.deep.include({
      code: 2,
      stderr:
        'kvdb-server: warning: KVDB_PROT names no option and is ignored (did you mean KVDB_PORT?)\n' +
        'kvdb-server: KVDB_REPLICAS: expected a number, got "three"\nsee kvdb-server --help\n',
    });
    await expectRejection(client(port).ping(), ConnectionError);
  });
});

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const closed = new Promise((resolve) => child.once('close', resolve));
  child.kill('SIGKILL');
  await closed;
}

async function expectRejection(
  promise: Promise<unknown>,
  type: new (...args: never[]) => Error,
): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).to.be.instanceOf(type);
}
