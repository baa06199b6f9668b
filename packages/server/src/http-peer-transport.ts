import type { PeerCallOptions, PeerTransport } from '@kvdb/coordinator';
import {
  ConnectionError,
  DEFAULT_REQUEST_TIMEOUT_MS,
  errorFromRpc,
  InternalError,
  type KVError,
  type MemberAddress,
  type PeerMethod,
  type PeerParams,
  type PeerResult,
  TimeoutError,
} from '@kvdb/core';
import { Pool } from 'undici';

export interface HttpPeerTransportInit {
  /**
   * Keep-alive connections per peer.
   * @default 16
   */
  connections?: number;
  /** Sent as `Authorization: Bearer …` to peers that require it. */
  authToken?: string;
  /**
   * Where to dial a member instead of its own address (`member → host:port`): for a proxy in between, as the
   * fault-injection tests put one between every pair of nodes. The member keeps its identity.
   */
  routes?: ReadonlyMap<MemberAddress, string>;
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_ABORTED',
  'ABORT_ERR',
]);

const MEMBERSHIP_METHODS: ReadonlySet<string> = new Set(['peer.ping', 'peer.ping_req', 'peer.sync']);

/** Most calls in one batched request; well under a node's --max-batch. */
const MAX_BATCH = 256;

interface RpcReply {
  id?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

interface QueuedCall {
  id: number;
  method: string;
  params: unknown;
  timeoutMs: number;
  // biome-ignore lint/suspicious/noExplicitAny: each caller narrows its own result type.
  resolve: (result: any) => void;
  reject: (error: unknown) => void;
}

/**
 * Peer calls as JSON-RPC over HTTP, through undici keep-alive pools, batched per peer: the lean client path, since
 * a coordinator makes one call per replica per request.
 */
export class HttpPeerTransport implements PeerTransport {
  private readonly pools = new Map<MemberAddress, Pool>();
  private readonly connections: number;
  private readonly headers: Record<string, string>;
  private readonly routes: ReadonlyMap<MemberAddress, string>;
  private readonly queues = new Map<MemberAddress, QueuedCall[]>();
  private nextId = 1;

  constructor(init: HttpPeerTransportInit = {}) {
    this.connections = init.connections ?? 16;
    this.routes = init.routes ?? new Map();
    this.headers = { 'content-type': 'application/json' };
    if (init.authToken !== undefined) this.headers.authorization = `Bearer ${init.authToken}`;
  }

  /**
   * Sends one peer call. Replica calls to the same peer made in the same turn of the event loop travel together
   * as one JSON-RPC batch in one HTTP request (under load, one request carries many); membership calls go alone,
   * on their own pool, so probes never wait behind data.
   */
  call<M extends PeerMethod>(
    to: MemberAddress,
    method: M,
    params: PeerParams<M>,
    options: PeerCallOptions = {},
  ): Promise<PeerResult<M>> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const call: QueuedCall = { id: this.nextId++, method, params, timeoutMs, resolve, reject };
      if (MEMBERSHIP_METHODS.has(method)) {
        void this.send(to, method, [call]);
        return;
      }
      let queue = this.queues.get(to);
      if (queue === undefined) {
        queue = [];
        this.queues.set(to, queue);
        setImmediate(() => this.flush(to));
      }
      queue.push(call);
    });
  }

  private flush(to: MemberAddress): void {
    const queue = this.queues.get(to) ?? [];
    this.queues.delete(to);
    for (let i = 0; i < queue.length; i += MAX_BATCH)
      void this.send(to, 'peer.batch', queue.slice(i, i + MAX_BATCH));
  }

  /** One HTTP request carrying `calls` (a single request, or a batch), settling each call from its own reply. */
  private async send(to: MemberAddress, what: string, calls: QueuedCall[]): Promise<void> {
    const timeoutMs = Math.max(...calls.map((call) => call.timeoutMs));
    const requests = calls.map(({ id, method, params }) => ({ jsonrpc: '2.0', id, method, params }));
    let parsed: RpcReply | RpcReply[];
    try {
      // The signal bounds the whole call, time spent queued in the pool included: a frozen peer ties up every
      // connection, and calls waiting behind them must fail on time too (they become hints).
      const response = await this.pool(to, calls[0]!.method).request({
        path: '/',
        method: 'POST',
        headers: this.headers,
        body: JSON.stringify(requests.length === 1 ? requests[0] : requests),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      parsed = JSON.parse(await response.body.text()) as RpcReply | RpcReply[];
    } catch (error) {
      const failure = this.transportError(to, calls.length === 1 ? calls[0]!.method : what, error);
      for (const call of calls) call.reject(failure);
      return;
    }
    const replies = new Map<unknown, RpcReply>();
    for (const reply of Array.isArray(parsed) ? parsed : [parsed]) replies.set(reply.id, reply);
    const whole = Array.isArray(parsed) ? undefined : parsed;
    for (const call of calls) {
      const reply = replies.get(call.id) ?? (whole?.error !== undefined ? whole : undefined);
      if (reply === undefined) call.reject(new InternalError(`${to} sent no reply to ${call.method}`));
      else if (reply.error !== undefined) call.reject(errorFromRpc(reply.error));
      else call.resolve(reply.result);
    }
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.destroy()));
  }

  /**
   * The pool for a call: membership traffic (probes, syncs) has its own small pool per peer, so a probe never
   * waits behind a backlog of replica calls to a peer that has stopped answering.
   */
  private pool(to: MemberAddress, method: string): Pool {
    const membership = MEMBERSHIP_METHODS.has(method);
    const id = membership ? `${to}|membership` : to;
    let pool = this.pools.get(id);
    if (pool === undefined) {
      pool = new Pool(`http://${this.routes.get(to) ?? to}`, {
        connections: membership ? 2 : this.connections,
        keepAliveTimeout: 30_000,
      });
      this.pools.set(id, pool);
    }
    return pool;
  }

  private transportError(to: MemberAddress, method: string, error: unknown): KVError {
    const code = (error as { code?: string }).code ?? '';
    if ((error as Error).name === 'TimeoutError' || (error as Error).name === 'AbortError') {
      return new TimeoutError(`${method} to ${to} timed out`, { cause: error });
    }
    if (TIMEOUT_CODES.has(code)) return new TimeoutError(`${method} to ${to} timed out`, { cause: error });
    const reason = error instanceof Error ? error.message : String(error);
    return new ConnectionError(`${method} to ${to} failed: ${reason || code}`, { cause: error });
  }
}
