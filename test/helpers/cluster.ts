import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { KVClient, type KVClientOptions } from '@kvdb/client';
import {
  type LocalCluster,
  type LocalNode,
  type LogLevel,
  type NodeExit,
  startLocalCluster,
} from '@kvdb/server';

export { SERVER_BIN } from '@kvdb/server';
/** The `kvdb` shell of the installed @kvdb/client, found as Node finds the package. */
export const SHELL_BIN = fileURLToPath(import.meta.resolve('@kvdb/client/bin/kvdb.js'));

export interface ClusterOptions {
  size: number;
  /** @default 3 */
  replicas?: number;
  /** Extra flags for every node. */
  args?: string[];
  /** `--log-level` of every node. @default 'warn' */
  logLevel?: LogLevel;
  /** Give every node `--data-dir <dataDirRoot>/<port>`, so a restarted node finds its disk again. */
  dataDirRoot?: string;
  /** Token the harness's own clients present, for nodes started with `--auth-token` (pass that in `args`). */
  authToken?: string;
  /**
   * The CA (and client certificate) the harness's own clients and readiness probe speak TLS with, for nodes started
   * with `--tls-cert` (pass the flags in `args`).
   */
  tls?: { ca: string; cert?: string; key?: string };
}

export interface StartNodeOptions {
  /** Members the node names in -C; a joining node may name just one. @default every node of the cluster */
  seeds?: string[];
}

export type Exit = NodeExit;

export interface TestNode {
  port: number;
  address: string;
  process: ChildProcess | undefined;
  /** Everything the node printed, for failure messages. */
  output: string[];
}

/**
 * A `LocalCluster` of real kvdb-server processes on 127.0.0.1 (free ports, all named in each other's -C) with
 * keep-alive clients for the tests and everything each node printed. Every process is killed by `stop()`, and by
 * an exit hook should a test forget.
 */
export class TestCluster {
  private readonly clients = new Map<number, KVClient>();
  private readonly extraClients = new Set<KVClient>();

  private constructor(
    private readonly local: LocalCluster,
    private readonly outputs: Map<number, string[]>,
    readonly options: ClusterOptions,
  ) {}

  static async start(options: ClusterOptions): Promise<TestCluster> {
    const outputs = new Map<number, string[]>();
    const local = await startLocalCluster({
      nodes: options.size,
      replicas: options.replicas ?? 3,
      logLevel: options.logLevel ?? 'warn',
      args: options.args ?? [],
      dataDir: options.dataDirRoot,
      authToken: options.authToken,
      tls: options.tls,
      output: (node, chunk) => linesOf(outputs, node.index).push(chunk.toString()),
    });
    return new TestCluster(local, outputs, options);
  }

  get nodes(): TestNode[] {
    return this.local.nodes.map((node) => this.testNode(node));
  }

  /** Node `index`; throws for an index the cluster never had. */
  node(index: number): TestNode {
    const node = this.local.nodes[index];
    if (node === undefined)
      throw new RangeError(`no node ${index}: the cluster has ${this.local.nodes.length}`);
    return this.testNode(node);
  }

  get addresses(): string[] {
    return this.local.addresses;
  }

  /** A keep-alive client for node `index`, closed by `stop()`. */
  client(index: number): KVClient {
    let client = this.clients.get(index);
    if (client === undefined) {
      client = new KVClient({
        host: '127.0.0.1',
        port: this.node(index).port,
        timeoutMs: 8_000,
        authToken: this.options.authToken,
        tls: this.options.tls,
      });
      this.clients.set(index, client);
    }
    return client;
  }

  /** A new client for node `index` with its own options (the client's default timeout unless given), closed by `stop()`. */
  connect(index: number, options: Omit<KVClientOptions, 'host' | 'port'> = {}): KVClient {
    const client = new KVClient({ ...options, host: '127.0.0.1', port: this.node(index).port });
    this.extraClients.add(client);
    return client;
  }

  /** Starts node `index`, which must have exited, on its port, with `extraArgs` after the cluster's flags. */
  async startNode(index: number, extraArgs: string[] = [], options: StartNodeOptions = {}): Promise<void> {
    await this.dropClient(index);
    const output = linesOf(this.outputs, index);
    if (output.length > 0) output.push(`--- ${this.node(index).address} started again ---\n`);
    await this.local.startNode(index, { seeds: options.seeds, args: extraArgs });
  }

  /** Starts one more node on a free port, naming only `seeds` in its -C (a join); resolves with its index. */
  addNode(seeds: string[], extraArgs: string[] = []): Promise<number> {
    return this.local.addNode(seeds, extraArgs);
  }

  /** Starts node `index` again on its port, with an empty memory store; it must have exited. */
  restartNode(index: number, extraArgs: string[] = []): Promise<void> {
    return this.startNode(index, extraArgs);
  }

  /** Whether node `index` has a process that has not exited (a stopped one counts as running). */
  isRunning(index: number): boolean {
    return this.local.isRunning(index);
  }

  /** Resolves with how node `index` exited, once it has; rejects if it is still running after `timeoutMs`. */
  exited(index: number, timeoutMs = 10_000): Promise<Exit> {
    return this.local.exited(index, timeoutMs);
  }

  /** Every node's output, headed by its address: for failure messages. */
  logs(): string {
    return this.nodes.map((node) => `=== ${node.address}\n${node.output.join('')}`).join('\n');
  }

  /** Sends a signal to node `index` and, for signals that end it, waits for it to exit. */
  signal(index: number, signal: NodeJS.Signals): Promise<void> {
    return this.local.signal(index, signal);
  }

  private testNode(node: LocalNode): TestNode {
    return {
      port: node.port,
      address: node.address,
      process: node.process,
      output: linesOf(this.outputs, node.index),
    };
  }

  private async dropClient(index: number): Promise<void> {
    await this.clients.get(index)?.close();
    this.clients.delete(index);
  }

  /** Closes every client and kills every node (SIGCONT, then SIGKILL). */
  async stop(): Promise<void> {
    await Promise.all([...this.clients.values(), ...this.extraClients].map((client) => client.close()));
    this.clients.clear();
    this.extraClients.clear();
    await this.local.stop();
  }
}

/** A node's log line: its level and message when it is a JSON line (a node whose stderr is not a terminal logs
 * JSON, where quotes in a message are escaped), else undefined. */
function parseLogLine(line: string): { level: string; msg: string } | undefined {
  try {
    const entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
    return typeof entry.msg === 'string' ? { level: String(entry.level ?? ''), msg: entry.msg } : undefined;
  } catch {
    return undefined;
  }
}

/** A node's output split into lines, without empty ones. */
function outputLines(output: readonly string[]): string[] {
  return output
    .join('')
    .split('\n')
    .filter((line) => line !== '');
}

/** A node's log, a line each, as `LEVEL message` for its JSON lines and as printed for any other. */
export function logLines(output: readonly string[]): string[] {
  return outputLines(output).map((line) => {
    const entry = parseLogLine(line);
    return entry === undefined ? line : `${entry.level.toUpperCase()} ${entry.msg}`;
  });
}

/** The messages of a node's log, a line each: the message of each JSON line, and any other line as it is. */
export function logMessages(output: readonly string[]): string[] {
  return outputLines(output).map((line) => parseLogLine(line)?.msg ?? line);
}

/** Node `index`'s output so far, a list that later output is appended to. */
function linesOf(outputs: Map<number, string[]>, index: number): string[] {
  let lines = outputs.get(index);
  if (lines === undefined) {
    lines = [];
    outputs.set(index, lines);
  }
  return lines;
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
