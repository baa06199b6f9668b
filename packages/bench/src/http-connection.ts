import { connect, isIP, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { type SecureContext, connect as tlsConnect } from 'node:tls';
import { ConnectionError, formatAddress, type KVError, TimeoutError } from '@kvdb/core';

/**
 * The load generator's HTTP/1.1 client: one keep-alive connection that POSTs one request at a time and reads the
 * reply. It does only that, so a request costs the generator about half the CPU that undici's client takes,
 * which on a machine of two cores is CPU the nodes under test get back.
 */

/** A reply head larger than this is not from a JSON-RPC server. */
export const MAX_HEAD_BYTES = 64 * 1024;

/** The largest reply body taken; `kvdb-bench` values are at most 1 MB. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** Why a request got no usable reply, other than a system error of the socket (`ECONNREFUSED`, `ECONNRESET`). */
export type HttpErrorKind = 'HTTP_TIMEOUT' | 'HTTP_CLOSED' | 'HTTP_BAD_RESPONSE';

/** A `TimeoutError` for a reply that did not come in time, else a `ConnectionError`; `data.kind` says which. */
export function httpError(kind: HttpErrorKind, message: string): KVError {
  const Class = kind === 'HTTP_TIMEOUT' ? TimeoutError : ConnectionError;
  return new Class(message, { data: { kind } });
}

export interface HttpResponse {
  status: number;
  body: Buffer;
  /** The server will close the connection after this reply (`connection: close`, or a body that ends at close). */
  close: boolean;
}

/**
 * Reads HTTP/1.1 responses off a byte stream, in order. Bodies are delimited by `content-length`, by chunked
 * transfer coding, or by the end of the stream; 1xx answers are skipped. Throws a `ConnectionError` (kind `HTTP_BAD_RESPONSE`) at bytes that
 * are not an HTTP response, or at a head or body over its limit.
 *
 * A head is parsed once, when its last byte arrives; a body's pieces are kept apart and joined once it is whole
 * (a chunked body, which kvdb never sends, is decoded again from its start at each piece).
 */
export class ResponseReader {
  /** Bytes taken and not yet read, in the order they came; `size` in all. */
  private pieces: Buffer[] = [];
  private size = 0;
  /** The head of the response whose body is being read. */
  private head: ResponseHead | undefined;

  /** Takes the next bytes; gives every response they complete. */
  push(chunk: Buffer): HttpResponse[] {
    this.pieces.push(chunk);
    this.size += chunk.length;
    const responses: HttpResponse[] = [];
    for (;;) {
      const response = this.next();
      if (response === undefined) return responses;
      if (response.status >= 200) responses.push(response);
    }
  }

  /** The stream ended: the response whose body ran to its end, if one was being read. */
  end(): HttpResponse | undefined {
    const head = this.head;
    if (head === undefined || !head.untilClose) return undefined;
    const body = this.joined();
    this.head = undefined;
    this.pieces = [];
    this.size = 0;
    return { status: head.status, body, close: true };
  }

  /** Whether bytes of a response not yet complete have arrived. */
  get partial(): boolean {
    return this.size > 0 || this.head !== undefined;
  }

  private next(): HttpResponse | undefined {
    if (this.head === undefined) {
      if (this.size === 0) return undefined;
      const bytes = this.joined();
      const headEnd = bytes.indexOf('\r\n\r\n');
      if (headEnd === -1 ? bytes.length > MAX_HEAD_BYTES : headEnd > MAX_HEAD_BYTES) {
        throw bad(`a response head over ${MAX_HEAD_BYTES} bytes`);
      }
      if (headEnd === -1) return undefined;
      this.head = parseHead(bytes.toString('latin1', 0, headEnd));
      this.take(bytes, headEnd + 4);
    }
    const head = this.head;
    if (head.untilClose) {
      if (this.size > MAX_BODY_BYTES) throw bad(`a body over ${MAX_BODY_BYTES} bytes`);
      return undefined;
    }
    let body: Buffer;
    if (head.status < 200 || head.status === 204 || head.status === 304) {
      body = Buffer.alloc(0);
    } else if (head.chunked) {
      const bytes = this.joined();
      const decoded = decodeChunked(bytes, 0);
      if (decoded === undefined) return undefined;
      body = decoded.body;
      this.take(bytes, decoded.end);
    } else {
      const length = head.length ?? 0;
      if (this.size < length) return undefined;
      const bytes = this.joined();
      body = bytes.subarray(0, length);
      this.take(bytes, length);
    }
    this.head = undefined;
    return { status: head.status, body, close: head.close };
  }

  /** The pieces as one buffer (joined only when there are several). */
  private joined(): Buffer {
    const first = this.pieces[0];
    if (this.pieces.length === 1 && first !== undefined) return first;
    const bytes = Buffer.concat(this.pieces, this.size);
    this.pieces = [bytes];
    return bytes;
  }

  /** Drops the first `count` bytes of `bytes`, which are all the pieces joined. */
  private take(bytes: Buffer, count: number): void {
    this.pieces = count === bytes.length ? [] : [bytes.subarray(count)];
    this.size = bytes.length - count;
  }
}

interface ResponseHead {
  status: number;
  length: number | undefined;
  chunked: boolean;
  /** Neither a length nor chunked coding, on a response that has a body: the body runs to the end of the stream. */
  untilClose: boolean;
  close: boolean;
}

/** The head of a response, read with a few `indexOf`s: it is parsed once per request of the run. */
function parseHead(text: string): ResponseHead {
  const head = text.toLowerCase();
  const lineEnd = head.indexOf('\r\n');
  const statusEnd = lineEnd === -1 ? head.length : lineEnd;
  if (!/^http\/1\.[01] \d{3}(?: |$)/.test(head.slice(0, Math.min(statusEnd, 13)))) {
    throw bad(`a status line ${JSON.stringify(text.slice(0, Math.min(statusEnd, 80)))}`);
  }
  const length = headerValue(head, 'content-length');
  if (length !== undefined) {
    const first = head.indexOf('\r\ncontent-length:');
    if (head.indexOf('\r\ncontent-length:', first + 2) !== -1) throw bad('content-length twice');
    if (!/^\d{1,10}$/.test(length)) throw bad(`content-length ${JSON.stringify(length.slice(0, 40))}`);
    if (Number(length) > MAX_BODY_BYTES) throw bad(`a body of ${length} bytes, over ${MAX_BODY_BYTES}`);
  }
  const status = Number(head.slice(9, 12));
  if (status < 100) throw bad(`status ${status}`);
  const chunked = /(?:^|[\s,])chunked$/.test(headerValue(head, 'transfer-encoding') ?? '');
  const hasBody = status >= 200 && status !== 204 && status !== 304;
  const untilClose = hasBody && !chunked && length === undefined;
  const connection = headerValue(head, 'connection');
  return {
    status,
    length: length === undefined ? undefined : Number(length),
    chunked,
    untilClose,
    // HTTP/1.0 closes unless it says keep-alive; 1.1 keeps the connection unless it says close; a body that runs
    // to the end of the stream closes it either way.
    close:
      untilClose ||
      (connection === undefined
        ? head[7] === '0'
        : head[7] === '0'
          ? !connection.includes('keep-alive')
          : connection.includes('close')),
  };
}

/** The value of the header `name` in the lower-cased head (its first, if sent twice). */
function headerValue(head: string, name: string): string | undefined {
  const found = head.indexOf(`\r\n${name}:`);
  return found === -1 ? undefined : lineAfter(head, found + name.length + 3);
}

function lineAfter(head: string, start: number): string {
  const end = head.indexOf('\r\n', start);
  return head.slice(start, end === -1 ? head.length : end).trim();
}

/** A chunked body that starts at `start`: its bytes and where the response ends, or undefined if incomplete. */
function decodeChunked(bytes: Buffer, start: number): { body: Buffer; end: number } | undefined {
  const parts: Buffer[] = [];
  let size = 0;
  let at = start;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    if (lineEnd === -1) {
      if (bytes.length - at > 1024) throw bad('a chunk size line over 1024 bytes');
      return undefined;
    }
    const sizeText = bytes.toString('latin1', at, lineEnd).split(';')[0]?.trim() ?? '';
    if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText))
      throw bad(`a chunk size ${JSON.stringify(sizeText.slice(0, 20))}`);
    const chunkSize = Number.parseInt(sizeText, 16);
    if (chunkSize === 0) {
      // The last chunk, then trailer lines (ignored) up to an empty line.
      const trailerEnd = bytes.indexOf('\r\n\r\n', lineEnd);
      if (trailerEnd === -1) {
        if (bytes.length - lineEnd > MAX_HEAD_BYTES) throw bad(`trailers over ${MAX_HEAD_BYTES} bytes`);
        return undefined;
      }
      return { body: Buffer.concat(parts, size), end: trailerEnd + 4 };
    }
    size += chunkSize;
    if (size > MAX_BODY_BYTES) throw bad(`a body over ${MAX_BODY_BYTES} bytes`);
    const dataStart = lineEnd + 2;
    const dataEnd = dataStart + chunkSize;
    if (bytes.length < dataEnd + 2) return undefined;
    if (bytes.toString('latin1', dataEnd, dataEnd + 2) !== '\r\n') throw bad('a chunk not followed by CRLF');
    parts.push(bytes.subarray(dataStart, dataEnd));
    at = dataEnd + 2;
  }
}

function bad(what: string): KVError {
  return httpError('HTTP_BAD_RESPONSE', `the server sent ${what}`);
}

/** Told how the request ended: exactly one of the two, once. */
export interface ReplyHandler {
  onReply(status: number, body: Buffer): void;
  onFailure(error: Error): void;
}

export interface HttpConnectionInit {
  host: string;
  port: number;
  /** Header lines sent with every request besides `host` and `content-length`, each ending in CRLF. */
  headers: string;
  /**
   * A request fails with `HTTP_TIMEOUT` when its whole reply has not come this long after it was sent (checked when
   * the connection has been silent this long, and at each piece of a reply that trickles in).
   */
  timeoutMs: number;
  /** Speak TLS, verifying the server against this context's CAs and presenting its certificate, if it has one. */
  tls?: { secureContext: SecureContext };
}

/**
 * One keep-alive HTTP/1.1 connection that POSTs to `/`, one request at a time. It connects on the first request,
 * and again on the request after a close: the server's, or its own after a failed request, so that no late reply
 * can be taken for the next one. It does not read the server's keep-alive hint: a request sent just as the server
 * drops an idle connection fails, which `kvdb-bench` (whose slots are never idle for long) counts as an error.
 */
export class HttpConnection {
  private readonly init: HttpConnectionInit;
  private readonly prefix: string;
  private socket: Socket | undefined;
  private reader = new ResponseReader();
  private waiting: ReplyHandler | undefined;
  /** When the request in flight was sent, on `performance.now()`'s clock. */
  private sentAt = 0;
  private socketError: Error | undefined;

  constructor(init: HttpConnectionInit) {
    this.init = init;
    const host = formatAddress(init.host, init.port);
    this.prefix = `POST / HTTP/1.1\r\nhost: ${host}\r\n${init.headers}content-length: `;
  }

  /** Sends `body` (JSON) and tells `handler` how it went. Throws if a request is already in flight. */
  post(body: string, handler: ReplyHandler): void {
    if (this.waiting !== undefined) throw new Error('HttpConnection.post: a request is already in flight');
    const socket = this.socket ?? this.connect();
    this.waiting = handler;
    this.sentAt = performance.now();
    socket.write(`${this.prefix}${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }

  /** Closes the connection; a request in flight fails with `HTTP_CLOSED`. */
  close(): void {
    this.drop(httpError('HTTP_CLOSED', 'the connection was closed by the client'));
  }

  private connect(): Socket {
    const { host, port, tls } = this.init;
    const socket =
      tls === undefined
        ? connect({ host, port, noDelay: true })
        : tlsConnect({ host, port, ...tls, servername: isIP(host) === 0 ? host : undefined }).setNoDelay(
            true,
          );
    socket.setTimeout(this.init.timeoutMs);
    this.socket = socket;
    this.reader = new ResponseReader();
    this.socketError = undefined;
    socket.on('data', (chunk: Buffer) => {
      if (socket === this.socket) this.received(chunk);
    });
    socket.on('timeout', () => {
      if (socket === this.socket && this.waiting !== undefined) this.timedOut();
    });
    socket.on('error', (error: Error) => {
      if (socket === this.socket) this.socketError = error;
    });
    socket.on('close', () => {
      if (socket !== this.socket) return;
      // A body that runs to the end of the stream is whole only if the stream ended cleanly.
      const last = this.socketError === undefined ? this.reader.end() : undefined;
      if (last !== undefined && this.waiting !== undefined) {
        this.socket = undefined;
        this.deliver(this.waiting, last);
        return;
      }
      this.drop(
        this.socketError ?? httpError('HTTP_CLOSED', 'the server closed the connection before its reply'),
      );
    });
    return socket;
  }

  private received(chunk: Buffer): void {
    let responses: HttpResponse[];
    try {
      responses = this.reader.push(chunk);
    } catch (error) {
      this.drop(error as Error);
      return;
    }
    const response = responses[0];
    if (response === undefined) {
      if (this.waiting !== undefined && performance.now() - this.sentAt > this.init.timeoutMs)
        this.timedOut();
      return;
    }
    if (responses.length > 1 || this.waiting === undefined || this.reader.partial) {
      this.drop(httpError('HTTP_BAD_RESPONSE', 'the server sent a reply to no request'));
      return;
    }
    if (response.close) {
      const socket = this.socket;
      this.socket = undefined;
      socket?.destroy();
    }
    this.deliver(this.waiting, response);
  }

  private timedOut(): void {
    this.drop(httpError('HTTP_TIMEOUT', `no whole reply within ${this.init.timeoutMs / 1000} s`));
  }

  /** Hands the reply to its request's handler (the one waiting), which may post the next request at once. */
  private deliver(handler: ReplyHandler, response: HttpResponse): void {
    this.waiting = undefined;
    handler.onReply(response.status, response.body);
  }

  /** Destroys the socket; the request in flight, if any, fails with `error`. */
  private drop(error: Error): void {
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
    const handler = this.waiting;
    this.waiting = undefined;
    handler?.onFailure(error);
  }
}
