import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '@kvdb/coordinator';
import { ErrorCode, reasonOf, SPEAKS_TLS_MESSAGE, tlsFailure } from '@kvdb/core';
import { errorReply } from './json-rpc.js';

/** The first byte of a TLS connection: a handshake record (ClientHello). Plain HTTP starts with a method's letter. */
const TLS_HANDSHAKE = 0x16;

/** How long a new connection may stay silent before its first byte; as long as node:http gives headers. */
const FIRST_BYTE_TIMEOUT_MS = 10_000;

/** At most one warning of a kind this often: a client that keeps retrying is heard, not a thousand times. */
const WARN_INTERVAL_MS = 60_000;

/** Most kinds of warning told apart; past them, the rest share one rate. */
const MAX_WARN_KINDS = 32;

/** A warning per kind at most once per `intervalMs`, saying how many like it were left out since the last. */
export function rateLimitedWarn(
  log: Logger,
  intervalMs = WARN_INTERVAL_MS,
): (kind: string, message: string) => void {
  const last = new Map<string, { at: number; skipped: number }>();
  return (named, message) => {
    const kind = last.has(named) || last.size < MAX_WARN_KINDS ? named : '';
    const now = Date.now();
    const seen = last.get(kind);
    if (seen !== undefined && now - seen.at < intervalMs) {
      seen.skipped += 1;
      return;
    }
    const more =
      seen !== undefined && seen.skipped > 0 ? ` (${seen.skipped} more since the last such line)` : '';
    last.set(kind, { at: now, skipped: 0 });
    log.warn(`${message}${more}`);
  };
}

function peerOf(socket: { remoteAddress?: string; remotePort?: number }): string {
  return socket.remoteAddress === undefined
    ? 'a client'
    : `${socket.remoteAddress}:${socket.remotePort ?? '?'}`;
}

/** The plain HTTP answer of a TLS node to a plain HTTP connection: 400, and a JSON-RPC error that says why. */
const SPEAKS_TLS_RESPONSE = (() => {
  const body = JSON.stringify(errorReply(ErrorCode.INVALID_REQUEST, SPEAKS_TLS_MESSAGE));
  return (
    `HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
    `connection: close\r\n\r\n${body}`
  );
})();

/**
 * Stands before a TLS node's HTTPS server: reads each connection's first byte, hands a TLS handshake to the server,
 * and answers anything else (plain HTTP) with a plain `HTTP/1.1 400` whose JSON-RPC error says the node speaks TLS,
 * so that a plain client or peer sees why instead of a reset. Logs refused plain connections and failed handshakes
 * (a missing or untrusted client certificate), each kind at most once a minute.
 */
export class TlsGuard {
  /** Connections whose first byte has not come yet. */
  private readonly silent = new Set<Socket>();
  /** Every connection open, under TLS or not: node:http knows only those past the handshake. */
  private readonly open = new Set<Socket>();
  private readonly warn: (kind: string, message: string) => void;
  /** The address of each TLS socket whose handshake failed, noted before the socket could lose it. */
  private readonly remotes = new WeakMap<TLSSocket, string>();

  constructor(
    private readonly server: HttpsServer,
    log: Logger,
  ) {
    this.warn = rateLimitedWarn(log);
    const handshake = server.listeners('connection') as Array<(socket: Socket) => void>;
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => this.sniff(socket, handshake));
    server.on('tlsClientError', (error: Error, socket: TLSSocket) => this.failed(error, socket));
  }

  /** Ends the connections that have sent nothing yet, as node:http's `closeIdleConnections` ends idle ones. */
  closeSilent(): void {
    for (const socket of this.silent) socket.destroy();
  }

  /** Ends every connection, mid-handshake ones included, as node:http's `closeAllConnections` does. */
  closeAll(): void {
    for (const socket of this.open) socket.destroy();
  }

  private sniff(socket: Socket, handshake: ReadonlyArray<(socket: Socket) => void>): void {
    this.silent.add(socket);
    this.open.add(socket);
    const timer = setTimeout(() => socket.destroy(), FIRST_BYTE_TIMEOUT_MS);
    // A silent connection must not keep an embedding process alive after the node stops.
    timer.unref();
    socket.once('close', () => {
      clearTimeout(timer);
      this.silent.delete(socket);
      this.open.delete(socket);
    });
    const done = () => {
      clearTimeout(timer);
      this.silent.delete(socket);
      socket.off('readable', first);
      socket.off('end', gone);
      socket.off('error', gone);
    };
    const gone = () => {
      done();
      socket.destroy();
    };
    const first = () => {
      const chunk = socket.read() as Buffer | null;
      if (chunk === null) return;
      done();
      if (chunk[0] === TLS_HANDSHAKE) {
        socket.unshift(chunk);
        // node:tls takes the bytes read so far from the socket's buffer, then reads on from the connection itself.
        // It reports a failed handshake through the server it is given, by when the TLS socket may have lost its
        // address: a view of the server that notes the address on the way.
        const remote = peerOf(socket);
        const server = Object.create(this.server, {
          emit: {
            value: (event: string, ...args: unknown[]) => {
              if (event === 'tlsClientError') this.remotes.set(args[1] as TLSSocket, remote);
              return this.server.emit(event, ...args);
            },
          },
        }) as HttpsServer;
        for (const listener of handshake) listener.call(server, socket);
        return;
      }
      this.warn(
        'plain',
        `refused plain HTTP from ${peerOf(socket)}: this node speaks TLS (a client, or a peer, without TLS settings)`,
      );
      // The client may reset the connection while the answer is on its way: an error is its end, never a crash.
      socket.on('error', () => socket.destroy());
      socket.resume();
      socket.end(SPEAKS_TLS_RESPONSE);
      setTimeout(() => socket.destroy(), FIRST_BYTE_TIMEOUT_MS).unref();
    };
    socket.on('readable', first);
    socket.once('end', gone);
    socket.once('error', gone);
  }

  /** A handshake failed: says why (no client certificate, an untrusted one, a client that refused this node's). */
  private failed(error: Error & { code?: string }, socket: TLSSocket): void {
    const from = this.remotes.get(socket) ?? peerOf(socket);
    const untrusted = socket.authorizationError;
    const reason =
      untrusted !== undefined && untrusted !== null
        ? `its certificate is not trusted (${String(untrusted)}): it must be signed by this node's --tls-ca`
        : error.code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE'
          ? 'it presented no certificate, and this node requires one (--tls-client-auth)'
          : error.code === 'ECONNRESET'
            ? "it hung up mid-handshake (as a client that does not trust this node's certificate does: it needs the CA that signs it)"
            : (tlsFailure(error) ?? reasonOf(error));
    this.warn(`handshake:${reason}`, `TLS handshake with ${from} failed: ${reason}`);
  }
}

/** node:http's own answers to a request it could not parse, which a `clientError` listener takes over. */
const CLIENT_ERROR_RESPONSES: Readonly<Record<string, string>> = {
  HPE_HEADER_OVERFLOW: 'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n\r\n',
  ERR_HTTP_REQUEST_TIMEOUT: 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n',
};
const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n';

/**
 * Makes a plain node log a TLS handshake that reaches it (a client or peer with TLS settings this node has not),
 * at most once a minute. It answers as node:http does: a plain `400`, which the TLS client reads as "wrong version
 * number" and reports as a node that does not speak TLS.
 */
export function warnOfTls(server: HttpServer, log: Logger): void {
  const warn = rateLimitedWarn(log);
  server.on('clientError', (error: Error & { code?: string; rawPacket?: Buffer }, socket: Duplex) => {
    if (error.rawPacket?.[0] === TLS_HANDSHAKE) {
      warn(
        'tls',
        `refused a TLS connection from ${peerOf(socket as Socket)}: this node speaks plain HTTP (a client, or a peer, with TLS settings this node has not: --tls-cert and --tls-key)`,
      );
    }
    if (socket.writable && (socket as Socket).bytesWritten === 0) {
      socket.write(CLIENT_ERROR_RESPONSES[error.code ?? ''] ?? BAD_REQUEST);
    }
    socket.destroy(error);
  });
}
