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

/**
 * Most batched requests in flight to one peer. Calls made while that many are out wait for the next, so under load
 * batches grow instead of requests multiplying (group commit); with nothing in flight a call leaves at once.
 */
const MAX_BATCHES_IN_FLIGHT = 4;

interface RpcReply {
  id?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

interface PeerQueue {
  calls: QueuedCall[];
  /** Batched requests sent and not yet answered. */
  inFlight: number;
  /** Whether a flush is already due this turn. */
  scheduled: boolean;
}

interface QueuedCall {
  id: number;
  method: string;
  params: unknown;
  /** When the caller gives up, on `performance.now()`'s clock: time spent queued counts. */
  deadline: number;
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
  private readonly queues = new Map<MemberAddress, PeerQueue>();
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
      const deadline = performance.now() + timeoutMs;
      const call: QueuedCall = { id: this.nextId++, method, params, deadline, resolve, reject };
      if (MEMBERSHIP_METHODS.has(method)) {
        void this.send(to, method, [call]);
        return;
      }
      let queue = this.queues.get(to);
      if (queue === undefined) {
        queue = { calls: [], inFlight: 0, scheduled: false };
        this.queues.set(to, queue);
      }
      queue.calls.push(call);
      if (!queue.scheduled) {
        queue.scheduled = true;
        setImmediate(() => this.flush(to));
      }
    });
  }

  /** Sends what is queued for a peer, as batches, while fewer than MAX_BATCHES_IN_FLIGHT are out. */
  private flush(to: MemberAddress): void {
    const queue = this.queues.get(to);
    if (queue === undefined) return;
    queue.scheduled = false;
    while (queue.calls.length > 0 && queue.inFlight < MAX_BATCHES_IN_FLIGHT) {
      const calls = queue.calls.splice(0, MAX_BATCH);
      queue.inFlight++;
      void this.send(to, 'peer.batch', calls).finally(() => {
        queue.inFlight--;
        if (queue.calls.length > 0 && !queue.scheduled) this.flush(to);
      });
    }
  }

  /** One HTTP request carrying `calls` (a single request, or a batch), settling each call from its own reply. */
  private async send(to: MemberAddress, what: string, queued: QueuedCall[]): Promise<void> {
    const now = performance.now();
    const calls: QueuedCall[] = [];
    for (const call of queued) {
      if (call.deadline > now) calls.push(call);
      else call.reject(new TimeoutError(`${call.method} to ${to} timed out waiting to be sent`));
    }
    if (calls.length === 0) return;
    const timeoutMs = Math.ceil(Math.max(...calls.map((call) => call.deadline)) - now);
    const requests = calls.map(({ id, method, params }) => ({ jsonrpc: '2.0', id, method, params }));
    let parsed: RpcReply | RpcReply[];
    // A timer cleared on the answer, rather than AbortSignal.timeout(), which fires for every request
    // (building an exception and an abort event each time) long after it was answered.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new TimeoutError(`${what} to ${to} timed out`)), timeoutMs);
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
        signal: abort.signal,
      });
      parsed = JSON.parse(await response.body.text()) as RpcReply | RpcReply[];
    } catch (error) {
      const failure = this.transportError(to, calls.length === 1 ? calls[0]!.method : what, error);
      for (const call of calls) call.reject(failure);
      return;
    } finally {
      clearTimeout(timer);
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
