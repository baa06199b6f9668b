import { Agent, type ClientRequest, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import {
  ConnectionError,
  errorFromRpc,
  type KVError,
  SESSION_HEADER,
  TimeoutError,
  tlsFailure,
} from '@kvdb/core';

/** One call to one node, as `NodeTransport.request` takes it. */
export interface NodeRequest {
  /** `host:port` of the node. */
  address: string;
  method: string;
  params: object | unknown[];
  /** Give up on this node after this many ms (a `TimeoutError`). */
  timeoutMs: number;
  /** The session token to send (see `KVClient.session`). */
  session?: string;
  signal?: AbortSignal;
}

export interface NodeReply {
  result: unknown;
  /** The session token the node sent back, if any. */
  session?: string;
}

/**
 * How a client reaches its nodes. Rejects with a `KVError`: the node's own error (its class from the JSON-RPC code),
 * or a `ConnectionError`/`TimeoutError` whose `data` is a `TransportFailure`; with the signal's reason when aborted.
 */
export interface NodeTransport {
  request(call: NodeRequest): Promise<NodeReply>;
  close(): Promise<void>;
}

/** `data` of the `ConnectionError` or `TimeoutError` a transport rejects with when it got no answer. */
export interface TransportFailure {
  /** The node that did not answer. */
  node: string;
  /** Whether the request may have reached the node: false only when the connection was never made. */
  sent: boolean;
  /** The HTTP status, for an answer that was not JSON-RPC. */
  status?: number;
}

/** Whether an error is a transport's "no answer" (see `TransportFailure`): the node itself said nothing. */
export function transportFailure(error: unknown): TransportFailure | undefined {
  if (!(error instanceof ConnectionError || error instanceof TimeoutError)) return undefined;
  const data = error.data as Partial<TransportFailure> | undefined;
  return typeof data?.node === 'string' && typeof data.sent === 'boolean'
    ? (data as TransportFailure)
    : undefined;
}

export interface HttpTransportInit {
  maxSockets: number;
  authToken?: string;
  tls?: {
    ca?: string | Buffer | ReadonlyArray<string | Buffer>;
    cert?: string | Buffer;
    key?: string | Buffer;
    rejectUnauthorized?: boolean;
  };
}

type RpcReply = { result?: unknown; error?: { code: number; message: string; data?: unknown } };

/** JSON-RPC over HTTP(S) with one keep-alive agent shared by every node. */
export class HttpTransport implements NodeTransport {
  private readonly agent: Agent;
  private nextId = 1;

  constructor(private readonly init: HttpTransportInit) {
    const { tls } = init;
    const sockets = { keepAlive: true, maxSockets: init.maxSockets };
    this.agent =
      tls === undefined ? new Agent(sockets) : new HttpsAgent({ ...sockets, ...tls, ca: tls.ca as string[] });
  }

  request(call: NodeRequest): Promise<NodeReply> {
    const { address, method, signal } = call;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const [host, port] = splitAddress(address);
    const body = JSON.stringify({ jsonrpc: '2.0', id: this.nextId++, method, params: call.params });
    const headers: Record<string, string | number> = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    };
    if (this.init.authToken !== undefined) headers.authorization = `Bearer ${this.init.authToken}`;
    if (call.session !== undefined) headers[SESSION_HEADER] = call.session;
    const send = this.init.tls === undefined ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      let connected = false;
      let settled = false;
      const finish = (error: unknown, reply?: NodeReply) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (error === undefined && reply !== undefined) resolve(reply);
        else reject(error);
      };
      const req: ClientRequest = send({ host, port, method: 'POST', path: '/', headers, agent: this.agent });
      const onAbort = () => {
        finish(signal?.reason);
        req.destroy();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => {
        finish(
          new TimeoutError(`${method} to ${address} timed out after ${call.timeoutMs} ms`, {
            data: { node: address, sent: connected } satisfies TransportFailure,
          }),
        );
        req.destroy();
      }, call.timeoutMs);
      req.on('socket', (socket: Socket) => {
        if (!socket.connecting) connected = true;
        else socket.once('connect', () => (connected = true));
      });
      req.on('error', (error) => finish(this.failure(address, error, connected)));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error) => finish(this.failure(address, error, true)));
        res.on('end', () => {
          const token = res.headers[SESSION_HEADER];
          const text = Buffer.concat(chunks).toString('utf8');
          let reply: RpcReply | undefined;
          try {
            reply = JSON.parse(text) as RpcReply;
          } catch {}
          if (reply?.error) finish(errorFromRpc(reply.error));
          else if (res.statusCode !== 200 || reply === undefined) {
            const status = res.statusCode ?? 0;
            finish(
              new ConnectionError(`${method} to ${address} failed with HTTP ${status}`, {
                data: { node: address, sent: true, status } satisfies TransportFailure,
              }),
            );
          } else
            finish(undefined, {
              result: reply.result,
              session: typeof token === 'string' ? token : undefined,
            });
        });
      });
      req.end(body);
    });
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  private failure(address: string, error: unknown, connected: boolean): KVError {
    const { code, message } = error as { code?: unknown; message?: string };
    const data: TransportFailure = { node: address, sent: connected };
    const tlsReason = this.init.tls === undefined ? undefined : tlsFailure(error);
    if (tlsReason !== undefined) {
      return new ConnectionError(`cannot reach kvdb at ${address} over TLS: ${tlsReason}`, {
        cause: error,
        data,
      });
    }
    const reasons: Record<string, string> = {
      ECONNREFUSED: 'connection refused (is kvdb-server running there?)',
      // A node that requires client certificates resets a client whose certificate it does not trust.
      ECONNRESET:
        this.init.tls?.cert === undefined
          ? 'connection reset'
          : 'connection reset (a node started with --tls-client-auth resets clients whose certificate it does not trust)',
      ENOTFOUND: 'host not found',
      EHOSTUNREACH: 'host unreachable',
    };
    const reason = reasons[String(code)] ?? message ?? String(error);
    return new ConnectionError(`cannot reach kvdb at ${address}: ${reason}`, { cause: error, data });
  }
}

/** Splits `host:port` (`[::1]:5878` for IPv6); refuses anything else with a TypeError naming it. */
export function splitAddress(address: string): [string, number] {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  const port = Number(match?.[3]);
  if (match === null || port < 1 || port > 65_535) {
    throw new TypeError(`Expected a node address as host:port, got \`${address}\``);
  }
  return [match[1] ?? match[2] ?? '', port];
}
