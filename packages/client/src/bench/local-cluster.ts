import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KVClient } from '../kv-client.js';
import { type Child, spawnNode } from './child-process.js';
import type { Target } from './options.js';

/** The kvdb-server shim of this repository, from packages/client/dist/src/bench/. */
export const SERVER_SCRIPT = new URL('../../../../server/bin/kvdb-server.js', import.meta.url);

export interface LocalClusterInit {
  /** @default 3 */
  nodes?: number;
  /** The replication factor, `-R`. @default nodes */
  replicas?: number;
  /** Give every node a data dir in a fresh temporary directory, removed at stop. @default false */
  dataDir?: boolean;
  /** Take ports from here up; else the OS picks free ones. */
  portBase?: number;
  /** @default SERVER_SCRIPT */
  serverScript?: string | URL;
  /** Extra kvdb-server flags for every node. @default ['--log-level', 'warn'] */
  args?: readonly string[];
  /** How long the nodes get to answer and see each other alive. @default 20000 */
  readyTimeoutMs?: number;
}

export interface LocalCluster {
  targets: Target[];
  children: Child[];
  stop(): Promise<void>;
}

/** Starts `nodes` kvdb-server processes on 127.0.0.1 that form one cluster, and waits until each sees all alive. */
export async function startLocalCluster(init: LocalClusterInit = {}): Promise<LocalCluster> {
  const nodes = init.nodes ?? 3;
  const ports = await freePorts(nodes, init.portBase);
  const targets = ports.map((port) => ({ host: '127.0.0.1', port }));
  const members = targets.map((target) => `${target.host}:${target.port}`).join(',');
  const dataRoot = init.dataDir ? await mkdtemp(join(tmpdir(), 'kvdb-bench-')) : undefined;
  const children = targets.map((target) =>
    spawnNode(`kvdb-server ${target.port}`, init.serverScript ?? SERVER_SCRIPT, [
      ...['-H', target.host, '-P', String(target.port), '-C', members, '-R', String(init.replicas ?? nodes)],
      ...(dataRoot ? ['--data-dir', join(dataRoot, String(target.port))] : []),
      ...(init.args ?? ['--log-level', 'warn']),
    ]),
  );
  const stop = async () => {
    await Promise.all(children.map((child) => child.stop()));
    if (dataRoot) await rm(dataRoot, { recursive: true, force: true });
  };
  try {
    await Promise.all(
      targets.map((target, index) =>
        waitReady(target, nodes, children[index]!, init.readyTimeoutMs ?? 20_000),
      ),
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { targets, children, stop };
}

/** Polls a node until it answers and sees `members` members alive. */
async function waitReady(node: Target, members: number, child: Child, timeoutMs: number): Promise<void> {
  const client = new KVClient({ host: node.host, port: node.port, timeoutMs: 1_000 });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (child.process.exitCode !== null) {
        throw new Error(`${child.name} exited (code ${child.process.exitCode}):\n${child.output()}`);
      }
      try {
        const list = await client.listMembers();
        if (list.filter((member) => member.status === 'alive').length >= members) return;
      } catch {}
      if (Date.now() > deadline)
        throw new Error(`${child.name} was not ready within ${timeoutMs} ms:\n${child.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await client.close();
  }
}

/** `count` ports on 127.0.0.1 that are free now: from `base` up, else picked by the OS. */
export async function freePorts(count: number, base?: number): Promise<number[]> {
  const ports: number[] = [];
  for (let port = base ?? 0; ports.length < count; port = base === undefined ? 0 : port + 1) {
    if (port > 65_535) throw new Error(`no ${count} free ports from ${base}`);
    const found = await new Promise<number | undefined>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(undefined));
      server.listen(port, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : undefined));
      });
    });
    if (found !== undefined && !ports.includes(found)) ports.push(found);
  }
  return ports;
}
