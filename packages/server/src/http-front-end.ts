import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  createServer as createHttpsServer,
  type Server as HttpsServer,
  type ServerOptions,
} from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@kvdb/coordinator';
import {
  DEFAULT_MAX_BODY_BYTES,
  ErrorCode,
  formatSession,
  parseSession,
  SESSION_HEADER,
  type Version,
} from '@kvdb/core';
import { createTokenCheck, UNAUTHORIZED_REPLY } from './auth.js';
import {
  errorReply,
  type JsonRpcDispatcher,
  type JsonRpcReply,
  parseRequest,
  replyText,
} from './json-rpc.js';
import type { RequestCounter } from './request-counter.js';
import { TlsGuard, warnOfTls } from './tls-guard.js';

export interface HttpFrontEndComponents {
  /** Answers every request whose body parsed. */
  dispatcher: JsonRpcDispatcher;
  logger: Logger;
  /** The node's clock, for `kvdb-session` tokens (see `formatSession`); without it the header is ignored. */
  clock?: SessionClock;
  /** What GET (and HEAD) answer, by path: probes, metrics, the cluster page. @default none (405) */
  pages?: ReadonlyMap<string, Page>;
  /** Counts the JSON-RPC requests answered, and their time. @default none */
  requests?: RequestCounter;
}

/** An answer to GET on one path. */
export interface Page {
  /** Whether a node with a token asks for it here too (401 without it); probes and static pages do not. */
  needsToken: boolean;
  /** Writes the whole answer; a HEAD request's body is dropped by node:http. */
  serve(req: IncomingMessage, res: ServerResponse): void | Promise<void>;
}

/** What the front end needs of the node's hybrid logical clock to carry sessions. */
export interface SessionClock {
  /** Moves the clock past a client's session. */
  observe(version: Version): void;
  /** The clock's latest reading. */
  reading(): Version;
}

export interface HttpFrontEndInit {
  /** Every request must carry `Authorization: Bearer <token>`. @default undefined (none needed) */
  authToken?: string;
  /** Largest request body taken (`--max-body-bytes`). @default DEFAULT_MAX_BODY_BYTES */
  maxBodyBytes?: number;
  /**
   * Speak HTTPS with this certificate and key (and with `requestCert`, require client certificates signed by `ca`).
   * @default undefined: plain HTTP
   */
  tls?: HttpsOptions;
}

/** The longest a client may take to send a request's headers, and its whole request. */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;

/**
 * How long the rest of a refused body is read and dropped before the connection is closed: at most
 * `LINGER_MS` in all, and `LINGER_IDLE_MS` after its last bytes (a client that read the 413 may stop sending).
 */
const LINGER_MS = 5_000;
const LINGER_IDLE_MS = 1_000;

/** What an HTTPS front end takes: node:https's server options, of which these are the ones a node sets. */
export type HttpsOptions = Pick<ServerOptions, 'cert' | 'key' | 'ca' | 'requestCert' | 'rejectUnauthorized'>;

/** A request target's path, without its query string. */
function pathOf(url: string | undefined): string {
  const path = (url ?? '/').split('?', 1)[0] as string;
  return path === '' ? '/' : path;
}

/**
 * The node's HTTP side: JSON-RPC 2.0 on POST `/` (anything else is 404 or 405, a request without the token 401, a
 * Content-Type other than JSON 415, a body that does not parse a JSON-RPC -32700). Bodies are read up to a limit and refused past it (413) without being buffered;
 * every error goes back as a JSON-RPC error object. Its `server` is the node's listening socket: the node hands
 * its `upgrade` event to the peer-stream server.
 */
export class HttpFrontEnd {
  readonly server: Server | HttpsServer;
  /** In front of an HTTPS server: answers plain HTTP with a clear 400, and ends connections node:http knows not of. */
  private readonly guard: TlsGuard | undefined;
  private readonly dispatcher: JsonRpcDispatcher;
  private readonly log: Logger;
  private readonly clock: SessionClock | undefined;
  private readonly pages: ReadonlyMap<string, Page>;
  private readonly requests: RequestCounter | undefined;
  private readonly authorized: (header: string | undefined) => boolean;
  private readonly maxBodyBytes: number;
  private requestsInFlight = 0;
  private stopping = false;

  constructor(components: HttpFrontEndComponents, init: HttpFrontEndInit = {}) {
    this.dispatcher = components.dispatcher;
    this.log = components.logger;
    this.clock = components.clock;
    this.pages = components.pages ?? new Map();
    this.requests = components.requests;
    this.authorized = createTokenCheck(init.authToken);
    this.maxBodyBytes = init.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    // A slow sender (slowloris) cannot hold a connection open: headers within 10 s, the whole request within 30 s.
    // node:http checks those bounds every `connectionsCheckingInterval` (30 s unless told), which would let a
    // trickle of header bytes live 30-40 s.
    const timeouts = {
      keepAliveTimeout: 30_000,
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: 1_000,
    };
    const handle = (req: IncomingMessage, res: ServerResponse) => this.handle(req, res);
    if (init.tls === undefined) {
      const server = createServer(timeouts, handle);
      warnOfTls(server, this.log);
      this.server = server;
    } else {
      const server = createHttpsServer(
        { ...timeouts, ...init.tls, handshakeTimeout: HEADERS_TIMEOUT_MS },
        handle,
      );
      this.guard = new TlsGuard(server, this.log);
      this.server = server;
    }
    this.server.on('checkContinue', (req, res) => this.handle(req, res, true));
  }

  /** Requests read and being answered: a stop waits for them. */
  get inFlight(): number {
    return this.requestsInFlight;
  }

  /** The port bound, once listening. */
  get port(): number | undefined {
    return (this.server.address() as AddressInfo | null)?.port;
  }

  /** Serves new connections with this certificate (a reload); connections open keep theirs. HTTPS only. */
  setSecureContext(tls: HttpsOptions): void {
    if (!('setSecureContext' in this.server)) throw new TypeError('This front end speaks plain HTTP');
    this.server.setSecureContext(tls);
  }

  listen(port: number, host: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /**
   * Takes no new connections and closes idle ones; busy keep-alive connections get `Connection: close` on their
   * next reply. Resolves once every connection is gone (see `closeAllConnections`).
   */
  close(): Promise<void> {
    this.stopping = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    this.guard?.closeSilent();
    return closed;
  }

  closeAllConnections(): void {
    this.server.closeAllConnections();
    this.guard?.closeAll();
  }

  /** One HTTP request; with `expectsContinue`, the client waits for `100 Continue` before sending the body. */
  private handle(req: IncomingMessage, res: ServerResponse, expectsContinue = false): void {
    const page = req.method === 'GET' || req.method === 'HEAD' ? this.page(req.url) : undefined;
    if (page !== undefined) {
      this.servePage(page, req, res);
      return;
    }
    if (req.method !== 'POST' || (req.url !== '/' && req.url !== '')) {
      // 405 where the path is served to another method, 404 where nothing is.
      const path = pathOf(req.url);
      const allow = [...(this.pages.has(path) ? ['GET', 'HEAD'] : []), ...(path === '/' ? ['POST'] : [])];
      res.setHeader('allow', allow.length === 0 ? 'POST' : allow.join(', '));
      this.reply(
        res,
        allow.length === 0 && req.method === 'POST' ? 404 : 405,
        errorReply(ErrorCode.INVALID_REQUEST, 'kvdb speaks JSON-RPC 2.0 on POST /'),
      );
      req.resume();
      return;
    }
    if (!this.authorized(req.headers.authorization)) {
      res.setHeader('www-authenticate', 'Bearer realm="kvdb"');
      this.reply(res, 401, UNAUTHORIZED_REPLY);
      req.resume();
      return;
    }
    // Required, not only checked when given: a web page can POST a body without a type to any address without
    // asking first, but not one typed application/json, so a node the browser can reach takes no orders from pages.
    const contentType = req.headers['content-type'];
    if (contentType === undefined || !/^application\/json\b/i.test(contentType)) {
      this.reply(res, 415, errorReply(ErrorCode.INVALID_REQUEST, 'Expected Content-Type application/json'));
      req.resume();
      return;
    }
    if (!this.joinSession(req.headers[SESSION_HEADER], res)) {
      req.resume();
      return;
    }
    const limit = this.maxBodyBytes;
    if (Number(req.headers['content-length'] ?? 0) > limit) {
      this.refuseTooLarge(req, res, expectsContinue);
      return;
    }
    if (expectsContinue) res.writeContinue();

    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        this.refuseTooLarge(req, res, false);
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (size > limit) return;
      // A body that came in one chunk (most do) is parsed where it is, not copied first.
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
      const parsed = parseRequest(body, 'body');
      if ('error' in parsed) {
        this.reply(res, 200, parsed.error);
        return;
      }
      this.requestsInFlight += 1;
      const started = performance.now();
      void this.dispatcher.dispatch(parsed.request, parsed.source).then((reply) => {
        this.requestsInFlight -= 1;
        this.requests?.record(performance.now() - started, reply);
        // After the request: the clock is past every version it read or wrote.
        if (this.clock !== undefined) res.setHeader(SESSION_HEADER, formatSession(this.clock.reading()));
        this.reply(res, reply === undefined ? 204 : 200, reply);
      });
    });
  }

  private page(url: string | undefined): Page | undefined {
    return this.pages.get(pathOf(url));
  }

  private servePage(page: Page, req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    if (page.needsToken && !this.authorized(req.headers.authorization)) {
      res.setHeader('www-authenticate', 'Bearer realm="kvdb"');
      this.reply(res, 401, UNAUTHORIZED_REPLY);
      return;
    }
    this.requestsInFlight += 1;
    const done = () => {
      this.requestsInFlight -= 1;
    };
    Promise.resolve()
      .then(() => page.serve(req, res))
      .catch((error: Error) => {
        this.log.error(`GET ${pathOf(req.url)} failed: ${error.stack ?? error.message}`);
        if (!res.headersSent) this.reply(res, 500, errorReply(ErrorCode.INTERNAL_ERROR, 'Internal error'));
        else res.destroy();
      })
      .finally(done);
  }

  /**
   * Moves the clock past the client's session token, if it sent one, so that whatever this request writes is
   * stamped above everything the client has read or written; refuses (400) a header that is not a token.
   */
  private joinSession(header: string | string[] | undefined, res: ServerResponse): boolean {
    if (header === undefined || this.clock === undefined) return true;
    const session = typeof header === 'string' ? parseSession(header) : undefined;
    if (session !== undefined) {
      this.clock.observe(session);
      return true;
    }
    const message = `Expected the ${SESSION_HEADER} header to be a token a kvdb node sent (wall.counter)`;
    this.reply(res, 400, errorReply(ErrorCode.INVALID_REQUEST, message));
    return false;
  }

  /**
   * Answers 413 at once. A client that announced its body and waits for `100 Continue` is sent none and the
   * connection closes. Otherwise the body is already on its way, and closing with unread bytes would reset the
   * connection, which can destroy the 413 before the client reads it: the reply is written whole at once but ended
   * (and the connection closed, where either side asked for that) only once the rest of the body has been read and
   * dropped: a lingering close, bounded by `LINGER_MS`.
   */
  private refuseTooLarge(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void {
    if (res.headersSent) return;
    const limit = this.maxBodyBytes;
    const error = errorReply(ErrorCode.TOO_LARGE, `Request body over ${limit} bytes (--max-body-bytes)`, {
      limit,
    });
    if (expectsContinue) {
      res.setHeader('connection', 'close');
      this.reply(res, 413, error);
      req.destroy();
      return;
    }
    const body = replyText(error, this.log);
    if (this.stopping) res.setHeader('connection', 'close');
    res.writeHead(413, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.write(body);
    req.removeAllListeners('data');
    const lingerUntil = Date.now() + LINGER_MS;
    let idle: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(idle);
      res.end();
    };
    const waitForMore = (): void => {
      clearTimeout(idle);
      const wait = Math.min(LINGER_IDLE_MS, lingerUntil - Date.now());
      idle = setTimeout(
        () => {
          done();
          req.socket.destroy();
        },
        Math.max(wait, 0),
      );
      idle.unref();
    };
    req.on('data', waitForMore);
    req.once('end', done);
    req.once('close', done);
    waitForMore();
  }

  /** Sends a reply; 204 (only notifications) has no body. */
  private reply(res: ServerResponse, status: number, reply: JsonRpcReply): void {
    if (this.stopping) res.setHeader('connection', 'close');
    if (reply === undefined) {
      res.statusCode = status;
      res.end();
      return;
    }
    const body = replyText(reply, this.log);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}
