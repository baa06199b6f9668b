import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Consistency, JsonValue, KVRecord } from '@kvdb/core';
import { defined } from '@kvdb/core/testing';
import {
  freePorts,
  type LocalCluster,
  type LogLevel,
  StreamPeerTransport,
  startLocalCluster,
} from '@kvdb/server';
import type { RpcReply } from '../helpers/raw.js';
import { ProxyMesh } from './fault-proxy.js';
import { batch, call } from './rpc.js';

/** `down`: killed (or crashed) and not started again yet; `starting`: spawned, not answering ping yet. */
export type NodeState = 'starting' | 'running' | 'paused' | 'down';

export interface FaultNode {
  index: number;
  /** `n0`, `n1`, … for summaries. */
  name: string;
  address: string;
  port: number;
  /** Set for a durable node: it keeps its data across kill -9. */
  dataDir: string | undefined;
  state: NodeState;
  logFile: string;
}

export interface FaultClusterInit {
  size: number;
  /** How many nodes, the last ones, keep their data in a `--data-dir`. */
  durable: number;
  replicas: number;
  /** Where data dirs and node logs go. */
  runDir: string;
  /** @default 'local' */
  timings?: 'local' | 'lan';
  /** @default 'info' */
  logLevel?: LogLevel;
}

/**
 * Real kvdb-server processes on 127.0.0.1 that reach each other only through a `ProxyMesh`, so links can be cut;
 * clients reach them directly. Nodes can be killed -9 and started again (empty, or with their data dir), and
 * paused with SIGSTOP. Each node's output goes to `<runDir>/<name>.log`, across restarts. The nodes share a
 * `--peer-token`; the checker reads replicas over peer streams with it, as a node does.
 */
export class FaultCluster {
  /** Nodes that exited without being killed: crashes, with how they exited. */
  readonly crashes: string[] = [];
  /** Straight to each node (no proxy), for the checker's `peer.` calls. */
  private readonly peers: StreamPeerTransport;
  private readonly logs = new Map<number, WriteStream>();
  private ringId: string | undefined;
  private local: LocalCluster | undefined;

  private constructor(
    readonly nodes: FaultNode[],
    readonly mesh: ProxyMesh,
    private readonly peerToken: string,
  ) {
    this.peers = new StreamPeerTransport({ peerToken });
  }

  static async start(init: FaultClusterInit): Promise<FaultCluster> {
    // Below the ephemeral range (32768 and up on Linux), so that none of the proxies started next, nor any outgoing
    // connection, can take a node's port between this choice and the node's start.
    const ports = await freePorts(init.size, 20_000 + Math.floor(Math.random() * 10_000));
    const nodes: FaultNode[] = ports.map((port, index) => {
      const name = `n${index}`;
      const durable = index >= init.size - init.durable;
      return {
        index,
        name,
        address: `127.0.0.1:${port}`,
        port,
        dataDir: durable ? join(init.runDir, `${name}-data`) : undefined,
        state: 'starting',
        logFile: join(init.runDir, `${name}.log`),
      };
    });
    mkdirSync(init.runDir, { recursive: true });
    const cluster = new FaultCluster(nodes, await ProxyMesh.start(nodes), randomBytes(16).toString('hex'));
    for (const node of nodes) cluster.logStart(node.index, 1);
    try {
      cluster.local = await startLocalCluster({
        ports,
        replicas: init.replicas,
        logLevel: init.logLevel ?? 'info',
        args: (index) => {
          const node = cluster.node(index);
          const data = node.dataDir === undefined ? [] : ['--data-dir', node.dataDir];
          return [
            '--timings',
            init.timings ?? 'local',
            '--peer-token',
            cluster.peerToken,
            ...cluster.mesh.routeArgs(node.address),
            ...data,
          ];
        },
        output: (node, chunk) => cluster.log(node.index).write(chunk),
        onExit: (node, exit) => cluster.onExit(node.index, exit),
      });
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    for (const node of nodes) node.state = 'running';
    return cluster;
  }

  /** Node `index`; throws for an index the cluster does not have. */
  node(index: number): FaultNode {
    const node = this.nodes[index];
    if (node === undefined) throw new RangeError(`no node ${index}: the cluster has ${this.nodes.length}`);
    return node;
  }

  get addresses(): string[] {
    return this.nodes.map((node) => node.address);
  }

  /** Nodes a client can use now: started, not paused. */
  running(): FaultNode[] {
    return this.nodes.filter((node) => node.state === 'running');
  }

  isDurable(index: number): boolean {
    return this.node(index).dataDir !== undefined;
  }

  /** Starts a node that is down again, with its data dir if it has one, and waits until it answers ping. */
  async startNode(index: number): Promise<void> {
    const local = defined(this.local, 'a started cluster');
    const node = this.node(index);
    this.logStart(index, defined(local.nodes[index]).starts + 1);
    node.state = 'starting';
    await local.startNode(index);
    node.state = 'running';
  }

  /** kill -9, and wait for the exit. */
  async kill(index: number): Promise<void> {
    this.node(index).state = 'down';
    await this.local?.kill(index);
  }

  pause(index: number): void {
    const node = this.node(index);
    if (node.state !== 'running') return;
    void this.local?.signal(index, 'SIGSTOP');
    node.state = 'paused';
  }

  resume(index: number): void {
    const node = this.node(index);
    if (node.state !== 'paused') return;
    void this.local?.signal(index, 'SIGCONT');
    node.state = 'running';
  }

  /**
   * Compares, for two nodes, the digests of the ring segments they both replicate (`peer.digest`): equal when
   * they hold the same records there. Undefined if either does not answer in time.
   */
  async digestsAgree(a: number, b: number): Promise<boolean | undefined> {
    const [x, y] = [this.node(a), this.node(b)];
    const ring = this.ringId ?? (await this.learnRing(x));
    if (ring === undefined) return undefined;
    try {
      const [l, r] = await Promise.all([
        this.peers.call(
          x.address,
          'peer.digest',
          { from: y.address, ring, detail: false },
          { timeoutMs: 1_000 },
        ),
        this.peers.call(
          y.address,
          'peer.digest',
          { from: x.address, ring, detail: false },
          { timeoutMs: 1_000 },
        ),
      ]);
      // Another id in an answer means its digests do not compare (it answers [0, 0]): not an agreement.
      if (l.ring !== ring || r.ring !== ring) return undefined;
      return l.root[0] === r.root[0] && l.root[1] === r.root[1];
    } catch {
      return undefined;
    }
  }

  /** Each key's replicas, primary first, as a running node places them. */
  async locateAll(keys: readonly string[]): Promise<Map<string, string[]>> {
    const node = this.running()[0];
    if (node === undefined) throw new Error('no node is running');
    const located = new Map<string, string[]>();
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const replies = await batch(
        node.port,
        chunk.map((key) => ({ method: 'locate', params: { key } })),
        10_000,
      );
      chunk.forEach((key, index) => {
        const reply = replies[index];
        if (reply?.result === undefined) throw new Error(`locate ${key}: ${JSON.stringify(reply?.error)}`);
        located.set(key, reply.result as string[]);
      });
    }
    return located;
  }

  /** Every key's record on each of its replicas (`peer.get_many` to each node for the keys it replicates). */
  async replicaRecords(
    replicasOf: ReadonlyMap<string, readonly string[]>,
  ): Promise<Map<string, Array<{ address: string; record: KVRecord | null; error?: string }>>> {
    const records = new Map<string, Array<{ address: string; record: KVRecord | null; error?: string }>>();
    for (const key of replicasOf.keys()) records.set(key, []);
    await Promise.all(
      this.nodes.map(async (node) => {
        const keys = [...replicasOf]
          .filter(([, replicas]) => replicas.includes(node.address))
          .map(([key]) => key);
        for (let i = 0; i < keys.length; i += 1_000) {
          const chunk = keys.slice(i, i + 1_000);
          let found: Array<KVRecord | null> | undefined;
          let failure: string | undefined;
          try {
            found = await this.peers.call(
              node.address,
              'peer.get_many',
              { keys: chunk },
              { timeoutMs: 10_000 },
            );
          } catch (error) {
            failure = `${(error as Error).name}: ${(error as Error).message}`;
          }
          chunk.forEach((key, index) => {
            const entry =
              found === undefined
                ? { address: node.address, record: null, error: failure }
                : { address: node.address, record: found[index] ?? null };
            defined(records.get(key), key).push(entry);
          });
        }
      }),
    );
    return records;
  }

  /**
   * Reads every key through node `index` at `consistency`: its value, or the error. Keys whose read failed are
   * read again, up to `attempts` times in all, so a busy moment after healing is not taken for an anomaly.
   */
  async readAll(
    index: number,
    keys: readonly string[],
    consistency: Consistency,
    attempts = 3,
  ): Promise<Map<string, { value?: JsonValue; error?: string }>> {
    const node = this.node(index);
    const values = new Map<string, { value?: JsonValue; error?: string }>();
    let pending = [...keys];
    for (let attempt = 1; attempt <= attempts && pending.length > 0; attempt++) {
      if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, 500));
      const failed: string[] = [];
      for (let i = 0; i < pending.length; i += 200) {
        const chunk = pending.slice(i, i + 200);
        let replies: Array<RpcReply | undefined>;
        try {
          replies = await batch(
            node.port,
            chunk.map((key) => ({ method: 'get', params: { key, consistency } })),
            20_000,
          );
        } catch (error) {
          replies = chunk.map(() => ({ error: { code: 0, message: (error as Error).message } }));
        }
        chunk.forEach((key, at) => {
          const reply = replies[at];
          if (reply !== undefined && reply.error === undefined) {
            values.set(key, { value: reply.result as JsonValue });
          } else {
            values.set(key, { error: JSON.stringify(reply?.error ?? 'no reply') });
            failed.push(key);
          }
        });
      }
      pending = failed;
    }
    return values;
  }

  /** Whether every node answers and lists every member as alive. */
  async allAlive(): Promise<boolean> {
    try {
      const lists = await Promise.all(this.nodes.map((node) => call(node.port, 'list_members', {}, 2_000)));
      return lists.every((reply) =>
        ((reply.result ?? []) as Array<{ status: string }>).every((member) => member.status === 'alive'),
      );
    } catch {
      return false;
    }
  }

  /** Resumes and kills every node (SIGCONT before SIGKILL), closes every proxy and the logs. */
  async stop(): Promise<void> {
    for (const node of this.nodes) node.state = 'down';
    await this.local?.stop();
    await this.peers.close();
    await this.mesh.close();
    await Promise.all(
      [...this.logs.values()].map((log) => new Promise<void>((resolve) => log.end(() => resolve()))),
    );
    this.logs.clear();
  }

  private logStart(index: number, start: number): void {
    const node = this.node(index);
    this.log(index).write(
      `--- ${new Date().toISOString()} start #${start} of ${node.name} ${node.address} ---\n`,
    );
  }

  /** A node that exits while not taken down by `kill` or `stop` has crashed. */
  private onExit(index: number, exit: { code: number | null; signal: NodeJS.Signals | null }): void {
    const node = this.node(index);
    this.log(index).write(`--- ${node.name} exited: code ${exit.code}, signal ${exit.signal} ---\n`);
    if (node.state === 'down') return;
    node.state = 'down';
    this.crashes.push(
      `${node.name} (${node.address}) exited by itself: code ${exit.code}, signal ${exit.signal}`,
    );
  }

  private log(index: number): WriteStream {
    let log = this.logs.get(index);
    if (log === undefined) {
      log = createWriteStream(this.node(index).logFile, { flags: 'a' });
      this.logs.set(index, log);
    }
    return log;
  }

  private async learnRing(node: FaultNode): Promise<string | undefined> {
    try {
      const reply = await this.peers.call(
        node.address,
        'peer.digest',
        { from: node.address, ring: '?', detail: false },
        { timeoutMs: 1_000 },
      );
      this.ringId = reply.ring;
    } catch {}
    return this.ringId;
  }
}
