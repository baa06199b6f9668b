import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { KVClient } from '@kvdb/client';
import { freePorts } from './ports.js';
import { waitFor } from './wait.js';

export const SERVER_BIN = fileURLToPath(
  new URL('../../../packages/server/bin/kvdb-server.js', import.meta.url),
);
export const SHELL_BIN = fileURLToPath(new URL('../../../packages/client/bin/kvdb.js', import.meta.url));

export interface ClusterOptions {
  size: number;
  replicas?: number;
  /** Extra flags for every node. */
  args?: string[];
}

export interface TestNode {
  port: number;
  address: string;
  process: ChildProcess | undefined;
  /** Everything the node printed, for failure messages. */
  output: string[];
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * Real kvdb-server processes on 127.0.0.1, each on a free port, all named in each other's -C. Every process is
 * killed by `stop()`, and by an exit hook should a test forget.
 */
export class TestCluster {
  readonly nodes: TestNode[];
  private readonly clients = new Map<number, KVClient>();

  private constructor(
    ports: number[],
    readonly options: ClusterOptions,
  ) {
    this.nodes = ports.map((port) => ({
      port,
      address: `127.0.0.1:${port}`,
      process: undefined,
      output: [],
    }));
  }

  static async start(options: ClusterOptions): Promise<TestCluster> {
    const cluster = new TestCluster(await freePorts(options.size), options);
    try {
      await Promise.all(cluster.nodes.map((_, index) => cluster.startNode(index)));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  get addresses(): string[] {
    return this.nodes.map((node) => node.address);
  }

  /** A keep-alive client for node `index`, closed by `stop()`. */
  client(index: number): KVClient {
    let client = this.clients.get(index);
    if (client === undefined) {
      client = new KVClient({ host: '127.0.0.1', port: this.nodes[index]!.port, timeoutMs: 8_000 });
      this.clients.set(index, client);
    }
    return client;
  }

  async startNode(index: number, extraArgs: string[] = []): Promise<void> {
    const node = this.nodes[index]!;
    const args = [
      SERVER_BIN,
      '-H',
      '127.0.0.1',
      '-P',
      String(node.port),
      '-C',
      this.addresses.join(','),
      '-R',
      String(this.options.replicas ?? 3),
      '--log-level',
      'warn',
      ...(this.options.args ?? []),
      ...extraArgs,
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    child.once('exit', () => live.delete(child));
    const record = (chunk: Buffer) => node.output.push(chunk.toString());
    child.stdout?.on('data', record);
    child.stderr?.on('data', record);
    node.process = child;
    const probe = new KVClient({ host: '127.0.0.1', port: node.port, timeoutMs: 1_000 });
    try {
      await waitFor(`${node.address} to answer ping`, async () => {
        if (child.exitCode !== null)
          throw new Error(`exited with ${child.exitCode}: ${node.output.join('')}`);
        return (await probe.ping()) === 'pong';
      });
    } finally {
      await probe.close();
    }
  }

  /** Sends a signal to node `index` and, for signals that end it, waits for it to exit. */
  async signal(index: number, signal: NodeJS.Signals): Promise<void> {
    const child = this.nodes[index]!.process;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    if (signal === 'SIGKILL' || signal === 'SIGTERM' || signal === 'SIGINT') await exited;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.clients.values()].map((client) => client.close()));
    this.clients.clear();
    await Promise.all(
      this.nodes.map(async (node) => {
        const child = node.process;
        if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGCONT');
        child.kill('SIGKILL');
        await exited;
      }),
    );
  }
}
