import { connect, type Socket } from 'node:net';

/**
 * The load generator's HTTP/1.1 client: one keep-alive connection that POSTs one request at a time and reads the
 * reply. It does only that, so a request costs the generator about half the CPU it did through undici (see
 * BENCHMARKS.md), which on a machine of two cores is CPU the nodes under test get back.
 */

/** A reply head larger than this is not from a JSON-RPC server. */
export const MAX_HEAD_BYTES = 64 * 1024;

/** The largest reply body taken; `kvdb bench` values are at most 1 MB. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** Why a request got no usable reply, other than a system error of the socket (`ECONNREFUSED`, `ECONNRESET`). */
export type HttpErrorCode = 'HTTP_TIMEOUT' | 'HTTP_CLOSED' | 'HTTP_BAD_RESPONSE';

export class HttpClientError extends Error {
  override name = 'HttpClientError';
  constructor(
    readonly code: HttpErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface HttpResponse {
  status: number;
  body: Buffer;
  /** The server will close the connection after this reply (`connection: close`, or a body that ends at close). */
  close: boolean;
}

/**
 * Reads HTTP/1.1 responses off a byte stream, in order. Bodies are delimited by `content-length`, by chunked
 * transfer coding, or by the end of the stream; 1xx answers are skipped. Throws `HttpClientError` at bytes that
 * are not an HTTP response.
 */
export class ResponseReader {
  private pending: Buffer | undefined;
  /** The head of a response whose body runs to the end of the stream. */
  private untilClose: { status: number } | undefined;

  /** Takes the next bytes; gives every response they complete. */
  push(chunk: Buffer): HttpResponse[] {
    this.pending = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    if (this.untilClose !== undefined) return [];
    const responses: HttpResponse[] = [];
    for (;;) {
      const response = this.next();
      if (response === undefined) return responses;
      if (response.status >= 200) responses.push(response);
    }
  }

  /** The stream ended: the response whose body ran to its end, if one was being read. */
  end(): HttpResponse | undefined {
    if (this.untilClose === undefined) return undefined;
    const body = this.pending ?? Buffer.alloc(0);
    this.pending = undefined;
    const { status } = this.untilClose;
    this.untilClose = undefined;
    return { status, body, close: true };
  }

  /** Whether bytes of a response not yet complete have arrived. */
  get partial(): boolean {
    return this.pending !== undefined && this.pending.length > 0;
  }

  private next(): HttpResponse | undefined {
    const bytes = this.pending;
    if (bytes === undefined) return undefined;
    const headEnd = bytes.indexOf('\r\n\r\n');
    if (headEnd === -1) {
      if (bytes.length > MAX_HEAD_BYTES) throw bad(`a response head over ${MAX_HEAD_BYTES} bytes`);
      return undefined;
    }
    const head = parseHead(bytes.toString('latin1', 0, headEnd));
    const bodyStart = headEnd + 4;
    let body: Buffer;
    let end: number;
    if (head.status < 200 || head.status === 204 || head.status === 304) {
      body = bytes.subarray(bodyStart, bodyStart);
      end = bodyStart;
    } else if (head.chunked) {
      const decoded = decodeChunked(bytes, bodyStart);
      if (decoded === undefined) return undefined;
      ({ body, end } = decoded);
    } else if (head.length !== undefined) {
      end = bodyStart + head.length;
      if (bytes.length < end) return undefined;
      body = bytes.subarray(bodyStart, end);
    } else {
      this.untilClose = { status: head.status };
      this.pending = bytes.subarray(bodyStart);
      return undefined;
    }
    this.pending = end === bytes.length ? undefined : bytes.subarray(end);
    return { status: head.status, body, close: head.close };
  }
}

interface ResponseHead {
  status: number;
  length: number | undefined;
  chunked: boolean;
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
  const connection = headerValue(head, 'connection');
  return {
    status: Number(head.slice(9, 12)),
    length: length === undefined ? undefined : Number(length),
    chunked: headerValue(head, 'transfer-encoding')?.includes('chunked') ?? false,
    // HTTP/1.0 closes unless it says keep-alive; 1.1 keeps the connection unless it says close.
    close:
      connection === undefined
        ? head[7] === '0'
        : head[7] === '0'
          ? !connection.includes('keep-alive')
          : connection.includes('close'),
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
    const sizeText = bytes.toString('latin1', at, lineEnd).split(';')[0]!.trim();
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

function bad(what: string): HttpClientError {
  return new HttpClientError('HTTP_BAD_RESPONSE', `the server sent ${what}`);
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
  /** A request in flight fails with `HTTP_TIMEOUT` once its connection has been silent this long. */
  timeoutMs: number;
}

/**
 * One keep-alive HTTP/1.1 connection that POSTs to `/`, one request at a time; it connects on the first request
 * and again after the server closes it. A request that fails closes the connection, so no late reply can be
 * taken for the next one.
 */
export class HttpConnection {
  private readonly init: HttpConnectionInit;
  private readonly prefix: string;
  private socket: Socket | undefined;
  private reader = new ResponseReader();
  private waiting: ReplyHandler | undefined;
  private socketError: Error | undefined;

  constructor(init: HttpConnectionInit) {
    this.init = init;
    const host = init.host.includes(':') ? `[${init.host}]` : init.host;
    this.prefix = `POST / HTTP/1.1\r\nhost: ${host}:${init.port}\r\n${init.headers}content-length: `;
  }

  /** Sends `body` (JSON) and tells `handler` how it went. Throws if a request is already in flight. */
  post(body: string, handler: ReplyHandler): void {
    if (this.waiting !== undefined) throw new Error('HttpConnection.post: a request is already in flight');
    this.waiting = handler;
    const socket = this.socket ?? this.connect();
    socket.write(`${this.prefix}${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }

  /** Closes the connection; a request in flight fails with `HTTP_CLOSED`. */
  close(): void {
    this.drop(new HttpClientError('HTTP_CLOSED', 'the connection was closed by the client'));
  }

  private connect(): Socket {
    const socket = connect({ host: this.init.host, port: this.init.port, noDelay: true });
    socket.setTimeout(this.init.timeoutMs);
    this.socket = socket;
    this.reader = new ResponseReader();
    this.socketError = undefined;
    socket.on('data', (chunk: Buffer) => {
      if (socket === this.socket) this.received(chunk);
    });
    socket.on('timeout', () => {
      if (socket !== this.socket || this.waiting === undefined) return;
      const seconds = this.init.timeoutMs / 1000;
      this.drop(new HttpClientError('HTTP_TIMEOUT', `no reply within ${seconds} s`));
    });
    socket.on('error', (error: Error) => {
      if (socket === this.socket) this.socketError = error;
    });
    socket.on('close', () => {
      if (socket !== this.socket) return;
      const last = this.reader.end();
      if (last !== undefined && this.waiting !== undefined) {
        this.socket = undefined;
        this.deliver(last);
        return;
      }
      this.drop(
        this.socketError ??
          new HttpClientError('HTTP_CLOSED', 'the server closed the connection before its reply'),
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
    if (responses.length === 0) return;
    if (responses.length > 1 || this.waiting === undefined || this.reader.partial) {
      this.drop(new HttpClientError('HTTP_BAD_RESPONSE', 'the server sent a reply to no request'));
      return;
    }
    const response = responses[0]!;
    if (response.close) {
      const socket = this.socket;
      this.socket = undefined;
      socket?.destroy();
    }
    this.deliver(response);
  }

  /** Hands the reply to its request's handler, which may post the next request at once. */
  private deliver(response: HttpResponse): void {
    const handler = this.waiting!;
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
