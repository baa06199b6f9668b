import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import {
  ConnectionError,
  errorFromRpc,
  formatAddress,
  type MemberInfo,
  TimeoutError,
  UsageError,
} from '@kvdb/core';
import type { TlsOptions } from './node-tls.js';

/** When a started node counts as ready: it answers ping, or it also lists every node of the cluster alive. */
export type ReadyWhen = 'ping' | 'members';

export interface NodeExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One node of a `LocalCluster`. */
export interface LocalNode {
  readonly index: number;
  readonly host: string;
  readonly port: number;
  /** `host:port`, as the other members name it. */
  readonly address: string;
  /** Its process of the latest start; undefined until it is first started. */
  readonly process: ChildProcess | undefined;
  /** The last few thousand characters it wrote, across its starts: for error messages. */
  readonly tail: string;
  /** How many times it has been started. */
  readonly starts: number;
}

/** Characters of a node's output kept in `tail`. */
const TAIL_CHARS = 8_000;
/** How long the readiness probe waits for one answer. */
const PROBE_TIMEOUT_MS = 1_000;

/** Every node process not yet exited, killed when this process exits, should a caller not have stopped it. */
const live = new Set<ChildProcess>();
let exitHook = false;

function track(child: ChildProcess): void {
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const left of live) {
        left.kill('SIGCONT');
        left.kill('SIGKILL');
      }
    });
  }
  live.add(child);
}

/** A node's process across its starts: spawning, signals and exits. */
export class NodeProcess implements LocalNode {
  readonly address: string;
  process: ChildProcess | undefined;
  starts = 0;
  private text = '';
  /** Settles when the latest process has exited and its output is read to the end. */
  private closed: Promise<NodeExit> = Promise.resolve({ code: null, signal: null });

  constructor(
    readonly index: number,
    readonly host: string,
    readonly port: number,
    private readonly hooks: { output(chunk: Buffer): void; exit(exit: NodeExit): void },
  ) {
    this.address = formatAddress(host, port);
  }

  get tail(): string {
    return this.text.trim();
  }

  get running(): boolean {
    const child = this.process;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  spawn(bin: string, args: readonly string[]): void {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.process = child;
    this.starts += 1;
    track(child);
    const onChunk = (chunk: Buffer) => {
      this.text = (this.text + chunk.toString()).slice(-TAIL_CHARS);
      this.hooks.output(chunk);
    };
    child.stdout.on('data', onChunk);
    child.stderr.on('data', onChunk);
    child.once('error', (error) => onChunk(Buffer.from(`${error.message}\n`)));
    this.closed = new Promise((resolve) =>
      child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
        live.delete(child);
        this.hooks.exit({ code, signal });
        resolve({ code, signal });
      }),
    );
  }

  /** How the latest process exited, once it has and its output is read; undefined while it runs. */
  async exit(): Promise<NodeExit | undefined> {
    return this.process === undefined || this.running ? undefined : this.closed;
  }

  async signal(signal: NodeJS.Signals): Promise<void> {
    if (!this.running) return;
    this.process?.kill(signal);
    if (signal === 'SIGKILL' || signal === 'SIGTERM' || signal === 'SIGINT') await this.closed;
  }

  /** SIGTERM, then SIGKILL after `graceMs` (at once with 0); a paused process is resumed first. */
  async stop(graceMs: number): Promise<void> {
    const child = this.process;
    if (child === undefined || !this.running) return;
    child.kill('SIGCONT');
    child.kill(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
    const timer = graceMs > 0 ? setTimeout(() => child.kill('SIGKILL'), graceMs) : undefined;
    await this.closed;
    clearTimeout(timer);
  }

  exited(timeoutMs: number): Promise<NodeExit> {
    if (this.process === undefined)
      return Promise.reject(new UsageError(`${this.address} was never started`));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new TimeoutError(`${this.address} still running after ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    return Promise.race([this.closed, late]).finally(() => clearTimeout(timer));
  }
}

/** Whether `node` is ready by `ready`; `members` are the addresses it must list alive. */
export async function probe(
  node: LocalNode,
  ready: ReadyWhen,
  members: readonly string[],
  authToken: string | undefined,
  tls?: TlsOptions,
): Promise<boolean> {
  if (ready === 'ping') return (await call(node, 'ping', authToken, tls)) === 'pong';
  const list = (await call(node, 'list_members', authToken, tls)) as MemberInfo[];
  const alive = new Set(list.filter((member) => member.status === 'alive').map((member) => member.address));
  return members.every((address) => alive.has(address));
}

/** One JSON-RPC call on a connection of its own (none is left open); rejects with the error it answers. */
function call(
  node: LocalNode,
  method: string,
  authToken: string | undefined,
  tls: TlsOptions | undefined,
): Promise<unknown> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (authToken !== undefined) headers.authorization = `Bearer ${authToken}`;
  return new Promise((resolve, reject) => {
    const options = { host: node.host, port: node.port, method: 'POST', headers, agent: false };
    const send = tls === undefined ? request : httpsRequest;
    const outgoing = send({ ...options, ...tls, timeout: PROBE_TIMEOUT_MS }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        try {
          const reply = JSON.parse(Buffer.concat(chunks).toString()) as {
            result?: unknown;
            error?: { code: number; message: string };
          };
          if (reply.error) reject(errorFromRpc(reply.error));
          else resolve(reply.result);
        } catch {
          reject(new ConnectionError(`${method} answered HTTP ${response.statusCode}, not JSON-RPC`));
        }
      });
    });
    outgoing.on('timeout', () =>
      outgoing.destroy(new TimeoutError(`no answer to ${method} within ${PROBE_TIMEOUT_MS} ms`)),
    );
    outgoing.on('error', reject);
    outgoing.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method }));
  });
}
