import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KVClient } from '@kvdb/client';
import { freePorts } from '@kvdb/server';
import { expect } from 'chai';
import { type KvdbRun, type RunOptions, runCommand } from './helpers/run-kvdb.js';
import { waitFor } from './helpers/wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PACKAGES = ['core', 'coordinator', 'store-level', 'server', 'client', 'bench'];
/** Each package's version in the repository: what its tarball is named after and what the others pin. */
const VERSIONS = new Map(
  PACKAGES.map((name) => {
    const manifest = JSON.parse(
      readFileSync(join(ROOT, 'packages', name, 'package.json'), 'utf8'),
    ) as Manifest;
    return [`@kvdb/${name}`, manifest.version];
  }),
);

/**
 * This process's environment without what would tie the programs run here to the repository: `npm test` names the
 * repository as the project (npm_config_local_prefix, INIT_CWD) and the package being run, and KVDB_* variables
 * would configure the programs under test. The registry and cache settings stay.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const tied = /^(npm_package_|npm_lifecycle_|npm_config_local_prefix$|INIT_CWD$|KVDB_)/;
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !tied.test(name)));
}

/** Runs `command` in `cwd` with the clean environment. */
function run(command: string, args: string[], cwd: string, options: RunOptions = {}): Promise<KvdbRun> {
  return runCommand(command, args, { timeoutMs: 60_000, ...options, env: cleanEnv(), cwd });
}

function succeeded(result: KvdbRun, what: string): KvdbRun {
  expect(result.code, `${what}:\n${result.stdout}\n${result.stderr}`).to.equal(0);
  return result;
}

describe('the npm packages, packed and installed together outside the repository', function () {
  this.timeout(60_000);
  let packDir: string;
  let appDir: string;
  let tarballs: string[];
  let node: ChildProcess | undefined;
  let port: number;
  const clients: KVClient[] = [];

  before(async function () {
    this.timeout(180_000);
    packDir = mkdtempSync(join(tmpdir(), 'kvdb-pack-'));
    appDir = mkdtempSync(join(tmpdir(), 'kvdb-app-'));
    const packed = succeeded(
      await run('npm', ['pack', '--workspaces', '--pack-destination', packDir, '--json'], ROOT),
      'npm pack',
    );
    tarballs = (JSON.parse(packed.stdout) as Array<{ filename: string }>).map((pack) =>
      join(packDir, pack.filename),
    );
    succeeded(await run('npm', ['init', '-y'], appDir), 'npm init');
    // Third-party dependencies come from the registry, through the npm cache the repository's install filled.
    const install = ['install', ...tarballs, '--prefer-offline', '--no-audit', '--no-fund'];
    succeeded(await run('npm', install, appDir, { timeoutMs: 150_000 }), 'npm install');
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    if (node?.pid !== undefined && node.exitCode === null && node.signalCode === null) {
      const closed = new Promise((resolve) => node?.once('close', resolve));
      // npx runs the binary under a shell: the whole process group goes.
      process.kill(-node.pid, 'SIGKILL');
      await closed;
    }
    for (const dir of [packDir, appDir]) if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('packs each public package with its README, LICENSE and built code, and no tests or source maps', () => {
    expect(tarballs.map((path) => path.slice(packDir.length + 1)).sort()).to.deep.equal(
      PACKAGES.map((name) => `kvdb-${name}-${VERSIONS.get(`@kvdb/${name}`)}.tgz`).sort(),
    );
    for (const name of PACKAGES) {
      const dir = join(appDir, 'node_modules', '@kvdb', name);
      const files = listFiles(dir);
      expect(files, name).to.include.members(['package.json', 'README.md', 'LICENSE']);
      expect(
        files.filter((file) => /\.spec\.|\.map$|\.ts$/.test(file) && !file.endsWith('.d.ts')),
        `${name}: tests, sources or maps`,
      ).to.deep.equal([]);
    }
  });

  it('pins the packages to each other at the exact version, and every `types` and export resolves', () => {
    for (const name of PACKAGES) {
      const dir = join(appDir, 'node_modules', '@kvdb', name);
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
      expect(manifest.private, `${name} is public`).to.equal(undefined);
      for (const [dependency, range] of Object.entries(manifest.dependencies ?? {})) {
        if (dependency.startsWith('@kvdb/'))
          expect(range, `${name} → ${dependency}`).to.equal(VERSIONS.get(dependency));
      }
      const exported = Object.values(manifest.exports).flatMap((target) =>
        typeof target === 'string' ? [target] : Object.values(target),
      );
      const targets = [manifest.types, ...exported];
      for (const target of targets)
        expect(existsSync(join(dir, target)), `${name}: ${target}`).to.equal(true);
      for (const bin of Object.values(manifest.bin ?? {}))
        expect(existsSync(join(dir, bin)), bin).to.equal(true);
    }
  });

  it('runs the binaries with npx: kvdb-server as a durable node on 127.0.0.1, and kvdb against it', async () => {
    for (const bin of ['kvdb-server', 'kvdb', 'kvdb-bench']) {
      const version = succeeded(
        await run('npx', ['--no', '--', bin, '--version'], appDir),
        `${bin} --version`,
      );
      expect(version.stdout, bin).to.equal(`${VERSIONS.get('@kvdb/server')}\n`);
    }
    [port = 0] = await freePorts(1);
    const args = ['--no', '--', 'kvdb-server', '-P', String(port), '--data-dir', join(appDir, 'data')];
    node = spawn('npx', [...args, '--log-level', 'warn'], {
      cwd: appDir,
      env: cleanEnv(),
      stdio: 'ignore',
      detached: true,
    });
    const client = new KVClient({ port, timeoutMs: 2_000 });
    clients.push(client);
    await waitFor('the installed node to answer', async () => (await client.ping()) === 'pong', {
      timeoutMs: 20_000,
    });

    const shell = await run('npx', ['--no', '--', 'kvdb', '-P', String(port)], appDir, {
      input: 'set greeting "hello from npx"\nget greeting\n',
    });
    expect(shell).to.deep.equal({ code: 0, stdout: 'OK\n"hello from npx"\n', stderr: '' });
  });

  it("imports { KVClient } from '@kvdb/client' in an ES module of the new project", async () => {
    expect(node, 'the node of the test before').to.not.equal(undefined);
    const script = join(appDir, 'check.mjs');
    writeFileSync(
      script,
      [
        "import { KVClient } from '@kvdb/client';",
        "import { KVNode } from '@kvdb/server';",
        'const kv = new KVClient({ port: Number(process.argv[2]) });',
        "await kv.set('from-esm', { typeofNode: typeof KVNode });",
        "console.log(JSON.stringify([await kv.get('from-esm'), await kv.get('greeting')]));",
        'await kv.close();',
      ].join('\n'),
    );
    const result = succeeded(await run('node', [script, String(port)], appDir), 'the ES module');
    expect(JSON.parse(result.stdout)).to.deep.equal([{ typeofNode: 'function' }, 'hello from npx']);
  });
});

interface Manifest {
  version: string;
  private?: boolean;
  types: string;
  exports: Record<string, string | Record<string, string>>;
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
}

/** Every file under `dir`, as paths relative to it. */
function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1));
}
