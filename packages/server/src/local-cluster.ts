import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_HOST, reasonOf, UnavailableError, UsageError } from '@kvdb/core';
import { LOCAL_CLUSTER_DEFAULTS } from './config.js';
import { type LocalNode, type NodeExit, NodeProcess, probe, type ReadyWhen } from './local-node.js';
import type { LogLevel } from './logger.js';
import type { TlsOptions } from './node-tls.js';

export type { LocalNode, NodeExit, ReadyWhen };

/** The `kvdb-server` shim of this package (this file is `dist/src/local-cluster.js`). */
export const SERVER_BIN = fileURLToPath(new URL('../../bin/kvdb-server.js', import.meta.url));

export interface LocalClusterInit {
  /** How many nodes. @default LOCAL_CLUSTER_DEFAULTS.nodes */
  nodes?: number;
  /** The replication factor, `-R`. @default nodes */
  replicas?: number;
  /** The interface every node listens on, and is reached at. @default DEFAULT_HOST */
  host?: string;
  /** Each node's port, one per node. @default ports free now: from `portBase` up, else picked by the OS */
  ports?: readonly number[];
  /** Look for free ports from here up rather than where the OS picks. @default undefined */
  portBase?: number;
  /** More kvdb-server flags: the same for every node, or per node by index. @default [] */
  args?: readonly string[] | ((index: number) => readonly string[]);
  /**
   * A root directory in which each node keeps `--data-dir <root>/<port>` (so a restarted node finds its disk),
   * or `true` for a fresh temporary root that `stop()` removes. @default undefined: every node in memory
   */
  dataDir?: string | true;
  /** `--log-level` of every node. @default LOCAL_CLUSTER_DEFAULTS.logLevel */
  logLevel?: LogLevel;
  /** The token the readiness probe presents, for nodes started with `--auth-token` (pass it in `args`). @default undefined */
  authToken?: string;
  /**
   * The CA (and client certificate) the readiness probe speaks TLS with, for nodes started with `--tls-cert` (pass
   * the flags in `args`). @default undefined: plain HTTP
   */
  tls?: TlsOptions;
  /** Called with each chunk a node writes to stdout or stderr; its tail is kept in any case. @default undefined */
  output?: (node: LocalNode, chunk: Buffer) => void;
  /** Called whenever a node's process exits, whatever ended it. @default undefined */
  onExit?: (node: LocalNode, exit: NodeExit) => void;
  /** When the start is done: each node answers ping, or each also lists every node alive. @default 'ping' */
  ready?: ReadyWhen;
  /** How long each node gets to be ready. @default 20000 */
  readyTimeoutMs?: number;
  /** The kvdb-server script to run, such as another build's. @default SERVER_BIN */
  bin?: string;
}

export interface StartNodeOptions {
  /** The members it names in `-C`; a joining node may name just one. @default every node of the cluster */
  seeds?: readonly string[];
  /** Flags for this start only, after the cluster's own. @default [] */
  args?: readonly string[];
}

/**
 * Starts `nodes` kvdb-server processes on one host that form one cluster (each names all in `-C`), and resolves
 * once each is ready. On failure every process it started is stopped, and the error carries the output of the
 * node that failed.
 */
export function startLocalCluster(init: LocalClusterInit = {}): Promise<LocalCluster> {
  return LocalCluster.start(init);
}

/**
 * Real kvdb-server processes on one host. Every process is killed by `stop()`, or, should its caller forget, when
 * this process exits (not when a signal it does not handle kills it: a program that runs a cluster handles SIGINT
 * and SIGTERM, as `npm start` does).
 */
export class LocalCluster {
  private readonly slots: NodeProcess[];

  static async start(init: LocalClusterInit = {}): Promise<LocalCluster> {
    const host = init.host ?? DEFAULT_HOST;
    const ports =
      init.ports ?? (await freePorts(init.nodes ?? LOCAL_CLUSTER_DEFAULTS.nodes, init.portBase, host));
    const dataRoot = init.dataDir === true ? await mkdtemp(join(tmpdir(), 'kvdb-cluster-')) : init.dataDir;
    const replicas = init.replicas ?? ports.length;
    const cluster = new LocalCluster(init, host, ports, replicas, dataRoot, init.dataDir === true);
    try {
      await Promise.all(cluster.slots.map((node) => cluster.run(node.index, {}, init.ready ?? 'ping')));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  private constructor(
    private readonly init: LocalClusterInit,
    readonly host: string,
    ports: readonly number[],
    /** `-R` of every node, the ones added or restarted later included. */
    private readonly replicas: number,
    private readonly dataRoot: string | undefined,
    private readonly removeDataRoot: boolean,
  ) {
    this.slots = ports.map((port, index) => this.slot(index, port));
  }

  get nodes(): readonly LocalNode[] {
    return this.slots;
  }

  /** Every node's `host:port`, in index order. */
  get addresses(): string[] {
    return this.slots.map((node) => node.address);
  }

  /** Starts node `index` (again, after it exited) on its port, and resolves once it answers ping. */
  startNode(index: number, options: StartNodeOptions = {}): Promise<void> {
    return this.run(index, options, 'ping');
  }

  /** Starts one more node on a free port, naming only `seeds` in its `-C` (a join); resolves with its index. */
  async addNode(seeds: readonly string[], args: readonly string[] = []): Promise<number> {
    const taken = new Set(this.slots.map((node) => node.port));
    let port: number;
    do [port] = (await freePorts(1, undefined, this.host)) as [number];
    while (taken.has(port));
    const index = this.slots.push(this.slot(this.slots.length, port)) - 1;
    await this.run(index, { seeds, args }, 'ping');
    return index;
  }

  /** Whether node `index` has a process that has not exited (a paused one counts as running). */
  isRunning(index: number): boolean {
    return this.at(index).running;
  }

  /** Sends node `index` a signal and, for one that ends it (SIGKILL, SIGTERM, SIGINT), waits for its exit. */
  async signal(index: number, signal: NodeJS.Signals): Promise<void> {
    await this.at(index).signal(signal);
  }

  /** kill -9 (resuming it first, should it be paused), and waits for the exit. */
  async kill(index: number): Promise<void> {
    await this.at(index).stop(0);
  }

  /** Resolves with how node `index` exited, once it has; rejects if it is still running after `timeoutMs`. */
  exited(index: number, timeoutMs = 10_000): Promise<NodeExit> {
    return this.at(index).exited(timeoutMs);
  }

  /**
   * Stops every node: SIGTERM, then SIGKILL after `graceMs` (at once with 0, the default); a paused node is
   * resumed first. Removes the temporary data root, if the cluster made one.
   */
  async stop(graceMs = 0): Promise<void> {
    await Promise.all(this.slots.map((node) => node.stop(graceMs)));
    if (this.removeDataRoot && this.dataRoot !== undefined) {
      await rm(this.dataRoot, { recursive: true, force: true });
    }
  }

  /** Spawns node `index` and waits until it is ready by `ready`. */
  private async run(index: number, options: StartNodeOptions, ready: ReadyWhen): Promise<void> {
    const node = this.at(index);
    if (node.running) throw new UsageError(`${node.address} is still running`);
    const init = this.init;
    const extra = typeof init.args === 'function' ? init.args(index) : (init.args ?? []);
    node.spawn(init.bin ?? SERVER_BIN, [
      ...['-H', this.host, '-P', String(node.port), '-C', (options.seeds ?? this.addresses).join(',')],
      ...['-R', String(this.replicas), '--log-level', init.logLevel ?? LOCAL_CLUSTER_DEFAULTS.logLevel],
      ...(this.dataRoot === undefined ? [] : ['--data-dir', join(this.dataRoot, String(node.port))]),
      ...extra,
      ...(options.args ?? []),
    ]);
    const timeoutMs = init.readyTimeoutMs ?? LOCAL_CLUSTER_DEFAULTS.readyTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer yet';
    for (;;) {
      const exit = await node.exit();
      if (exit !== undefined) {
        const how = exit.signal ?? `code ${exit.code}`;
        throw new UnavailableError(`${node.address} exited (${how}) before it was ready:\n${node.tail}`);
      }
      try {
        if (await probe(node, ready, this.addresses, init.authToken, init.tls)) return;
        last = ready === 'ping' ? 'no pong' : 'not every member alive yet';
      } catch (error) {
        last = reasonOf(error);
      }
      if (Date.now() > deadline) {
        throw new UnavailableError(
          `${node.address} was not ready within ${timeoutMs} ms (${last}):\n${node.tail}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private slot(index: number, port: number): NodeProcess {
    const node: NodeProcess = new NodeProcess(index, this.host, port, {
      output: (chunk) => this.init.output?.(node, chunk),
      exit: (exit) => this.init.onExit?.(node, exit),
    });
    return node;
  }

  private at(index: number): NodeProcess {
    const node = this.slots[index];
    if (node === undefined) throw new RangeError(`no node ${index}: the cluster has ${this.slots.length}`);
    return node;
  }
}

/**
 * `count` distinct ports that are free on `host` right now: from `base` up (skipping ports in use), else picked by
 * the OS (bound to port 0, then released). Free now is all it promises: another process may take one before it is
 * used. A host this machine cannot bind (not one of its addresses) is refused at once.
 */
export async function freePorts(count: number, base?: number, host = DEFAULT_HOST): Promise<number[]> {
  const ports: number[] = [];
  for (let port = base ?? 0; ports.length < count; port = base === undefined ? 0 : port + 1) {
    if (port > 65_535) throw new UnavailableError(`no ${count} free ports on ${host} from ${base} up`);
    const found = await new Promise<number | undefined>((resolve, reject) => {
      const server = createServer();
      server.once('error', (error: NodeJS.ErrnoException) => {
        const taken = base !== undefined && (error.code === 'EADDRINUSE' || error.code === 'EACCES');
        if (taken) resolve(undefined);
        else reject(new UnavailableError(`cannot bind ${host}:${port}: ${error.message}`, { cause: error }));
      });
      server.listen(port, host, () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : undefined));
      });
    });
    if (found !== undefined && !ports.includes(found)) ports.push(found);
  }
  return ports;
}
