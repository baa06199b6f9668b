import type { PeerCallOptions, PeerTransport } from '@kvdb/coordinator';
import {
  ConnectionError,
  DEFAULT_REQUEST_TIMEOUT_MS,
  errorFromRpc,
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

const MEMBERSHIP_METHODS: ReadonlySet<PeerMethod> = new Set(['peer.ping', 'peer.ping_req', 'peer.sync']);

/**
 * Peer calls as JSON-RPC over HTTP, through one undici keep-alive pool per peer: the lean client path, since a
 * coordinator makes one call per replica per request.
 */
export class HttpPeerTransport implements PeerTransport {
  private readonly pools = new Map<MemberAddress, Pool>();
  private readonly connections: number;
  private readonly headers: Record<string, string>;
  private readonly routes: ReadonlyMap<MemberAddress, string>;
  private nextId = 1;

  constructor(init: HttpPeerTransportInit = {}) {
    this.connections = init.connections ?? 16;
    this.routes = init.routes ?? new Map();
    this.headers = { 'content-type': 'application/json' };
    if (init.authToken !== undefined) this.headers.authorization = `Bearer ${init.authToken}`;
  }

  async call<M extends PeerMethod>(
    to: MemberAddress,
    method: M,
    params: PeerParams<M>,
    options: PeerCallOptions = {},
  ): Promise<PeerResult<M>> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const body = JSON.stringify({ jsonrpc: '2.0', id: this.nextId++, method, params });
    let text: string;
    try {
      // The signal bounds the whole call, time spent queued in the pool included: a frozen peer ties up every
      // connection, and calls waiting behind them must fail on time too (they become hints).
      const response = await this.pool(to, method).request({
        path: '/',
        method: 'POST',
        headers: this.headers,
        body,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.body.text();
    } catch (error) {
      throw this.transportError(to, method, error);
    }
    const reply = JSON.parse(text) as {
      result?: PeerResult<M>;
      error?: { code: number; message: string; data?: unknown };
    };
    if (reply.error !== undefined) throw errorFromRpc(reply.error);
    return reply.result as PeerResult<M>;
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
  private pool(to: MemberAddress, method: PeerMethod): Pool {
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
