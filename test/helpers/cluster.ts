import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KVClient, type KVClientOptions } from '@kvdb/client';
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
  /** `--log-level` of every node. @default 'warn' */
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Give every node `--data-dir <dataDirRoot>/<port>`, so a restarted node finds its disk again. */
  dataDirRoot?: string;
  /** Token the harness's own clients present, for nodes started with `--auth-token` (pass that in `args`). */
  authToken?: string;
}

export interface StartNodeOptions {
  /** Members the node names in -C; a joining node may name just one. @default every node of the cluster */
  seeds?: string[];
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
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
  private readonly extraClients = new Set<KVClient>();

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
      client = new KVClient({
        host: '127.0.0.1',
        port: this.nodes[index]!.port,
        timeoutMs: 8_000,
        authToken: this.options.authToken,
      });
      this.clients.set(index, client);
    }
    return client;
  }

  /** A new client for node `index` with its own options (the client's default timeout unless given), closed by `stop()`. */
  connect(index: number, options: Omit<KVClientOptions, 'host' | 'port'> = {}): KVClient {
    const client = new KVClient({ ...options, host: '127.0.0.1', port: this.nodes[index]!.port });
    this.extraClients.add(client);
    return client;
  }

  async startNode(index: number, extraArgs: string[] = [], options: StartNodeOptions = {}): Promise<void> {
    const node = this.nodes[index]!;
    await this.dropClient(index);
    if (node.output.length > 0) node.output.push(`--- ${node.address} started again ---\n`);
    const args = [
      SERVER_BIN,
      '-H',
      '127.0.0.1',
      '-P',
      String(node.port),
      '-C',
      (options.seeds ?? this.addresses).join(','),
      '-R',
      String(this.options.replicas ?? 3),
      '--log-level',
      this.options.logLevel ?? 'warn',
      ...(this.options.args ?? []),
      ...(this.options.dataDirRoot === undefined
        ? []
        : ['--data-dir', join(this.options.dataDirRoot, String(node.port))]),
      ...extraArgs,
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    child.once('exit', () => live.delete(child));
    const record = (chunk: Buffer) => node.output.push(chunk.toString());
    child.stdout?.on('data', record);
    child.stderr?.on('data', record);
    node.process = child;
    const probe = new KVClient({
      host: '127.0.0.1',
      port: node.port,
      timeoutMs: 1_000,
      authToken: this.options.authToken,
    });
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

  /** Starts one more node on a free port, naming only `seeds` in its -C (a join); resolves with its index. */
  async addNode(seeds: string[], extraArgs: string[] = []): Promise<number> {
    const [port] = await freePorts(1);
    const index = this.nodes.length;
    this.nodes.push({ port: port!, address: `127.0.0.1:${port}`, process: undefined, output: [] });
    await this.startNode(index, extraArgs, { seeds });
    return index;
  }

  /** Starts node `index` again on its port, with an empty memory store; it must have exited. */
  async restartNode(index: number, extraArgs: string[] = []): Promise<void> {
    if (this.isRunning(index)) throw new Error(`${this.nodes[index]!.address} is still running`);
    await this.startNode(index, extraArgs);
  }

  /** Whether node `index` has a process that has not exited (a stopped one counts as running). */
  isRunning(index: number): boolean {
    const child = this.nodes[index]!.process;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** Resolves with how node `index` exited, once it has; rejects if it is still running after `timeoutMs`. */
  exited(index: number, timeoutMs = 10_000): Promise<Exit> {
    const node = this.nodes[index]!;
    const child = node.process;
    if (child === undefined) return Promise.reject(new Error(`${node.address} was never started`));
    if (!this.isRunning(index)) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.off('exit', onExit);
        reject(new Error(`${node.address} still running after ${timeoutMs} ms`));
      }, timeoutMs);
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        clearTimeout(timer);
        resolve({ code, signal });
      };
      child.once('exit', onExit);
    });
  }

  /** Every node's output, headed by its address: for failure messages. */
  logs(): string {
    return this.nodes.map((node) => `=== ${node.address}\n${node.output.join('')}`).join('\n');
  }

  /** Sends a signal to node `index` and, for signals that end it, waits for it to exit. */
  async signal(index: number, signal: NodeJS.Signals): Promise<void> {
    const child = this.nodes[index]!.process;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    if (signal === 'SIGKILL' || signal === 'SIGTERM' || signal === 'SIGINT') await exited;
  }

  private async dropClient(index: number): Promise<void> {
    await this.clients.get(index)?.close();
    this.clients.delete(index);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.clients.values(), ...this.extraClients].map((client) => client.close()));
    this.clients.clear();
    this.extraClients.clear();
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

/**
 * For a suite whose tests each start their own cluster: registers an `afterEach` that prints the nodes' output
 * when a test failed and stops the cluster, and returns the function that starts it.
 */
export function clusterPerTest(): (options: ClusterOptions) => Promise<TestCluster> {
  let cluster: TestCluster | undefined;
  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && cluster !== undefined) {
      process.stderr.write(`node output:\n${cluster.logs()}\n`);
    }
    await cluster?.stop();
    cluster = undefined;
  });
  return async (options) => {
    cluster = await TestCluster.start(options);
    return cluster;
  };
}
