import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ClusterNode, type Coordinator, type Logger, type PeerTransport } from '@kvdb/coordinator';
import { cryptoHasher, ErrorCode, MemoryStore, type Store } from '@kvdb/core';
import jayson from 'jayson';
import { createTokenCheck, isLoopback } from './auth.js';
import { type NodeConfig, type NodeConfigInit, resolveConfig } from './config.js';
import { DiskStore } from './disk-store.js';
import { createLogger } from './logger.js';
import { METHODS, type MethodContext, type MethodDefinition } from './methods/index.js';
import { normalizeParams } from './params.js';
import {
  FrameReader,
  otherCluster,
  PEER_CLUSTER_HEADER,
  PEER_PATH,
  PEER_PROTOCOL,
  quotedCluster,
} from './peer-stream.js';
import { toRpcError } from './rpc-errors.js';
import { StreamPeerTransport } from './stream-peer-transport.js';

/** The longest a stop waits for background work to end before it closes the store anyway. */
const STOP_IDLE_WAIT_MS = 2_000;

export interface NodeComponents {
  store?: Store;
  transport?: PeerTransport;
  logger?: Logger;
  /** Called after this node has left the cluster through the `leave` method; the binary exits there. */
  onLeft?: () => void;
}

type JsonRpcReply = object | object[] | undefined;

interface PlainRequest {
  id: number | string;
  params?: object;
}

/**
 * A kvdb node: an HTTP server that speaks JSON-RPC 2.0 on POST `/`, with a coordinator behind it. Bodies are read
 * up to a limit and refused past it without being buffered; every error goes back as a JSON-RPC error object.
 */
export class KVNode {
  readonly config: NodeConfig;
  readonly cluster: ClusterNode;
  readonly coordinator: Coordinator;
  readonly log: Logger;
  private readonly http: Server;
  private readonly rpc: jayson.Server;
  private readonly methods = new Map<string, MethodDefinition>(
    METHODS.map((method) => [method.name, method]),
  );
  private readonly context: MethodContext;
  private readonly transport: PeerTransport;
  private readonly store: Store;
  private readonly onLeft: () => void;
  private readonly authorized: (header: string | undefined) => boolean;
  /** Peer streams this node answers (connections switched to kvdb-peer/1). */
  private readonly peerStreams = new Set<Socket>();
  /** Names of other clusters whose nodes were refused a stream, each logged once (a bounded few); '' for none. */
  private readonly foreignClusters = new Set<string>();
  private inFlight = 0;
  private stopping = false;

  constructor(init: NodeConfigInit = {}, components: NodeComponents = {}) {
    this.config = resolveConfig(init);
    const {
      advertise,
      members,
      vnodes,
      hasher,
      replicas,
      timeoutMs,
      readRepairChance,
      timings,
      tombstoneGraceMs,
    } = this.config;
    this.log = components.logger ?? createLogger(advertise, this.config.logLevel);
    this.store = components.store ?? new MemoryStore();
    this.transport =
      components.transport ??
      new StreamPeerTransport({
        authToken: this.config.authToken,
        clusterName: this.config.clusterName,
        logger: this.log,
        routes: this.config.routes,
        maxFrameBytes: this.config.limits.maxBodyBytes,
        maxBatch: this.config.limits.maxBatch,
      });
    this.authorized =
      this.config.authToken === undefined ? () => true : createTokenCheck(this.config.authToken);
    this.onLeft = components.onLeft ?? (() => {});
    const hintLog = this.store instanceof DiskStore ? this.store : undefined;
    this.cluster = new ClusterNode(
      { store: this.store, transport: this.transport, logger: this.log, hintLog },
      {
        self: advertise,
        seeds: members,
        vnodes,
        hasher: cryptoHasher(hasher),
        replicas,
        timeoutMs,
        readRepairChance,
        timings,
        tombstoneGraceMs,
      },
    );
    this.coordinator = this.cluster.coordinator;
    this.context = {
      node: this.cluster,
      coordinator: this.coordinator,
      limits: this.config.limits,
      onLeft: () => setImmediate(() => this.onLeft()),
    };
    this.rpc = this.createRpcServer();
    // A slow sender (slowloris) cannot hold a connection open: headers within 10 s, the whole request within 30 s.
    this.http = createServer(
      { keepAliveTimeout: 30_000, headersTimeout: 10_000, requestTimeout: 30_000 },
      (req, res) => this.handle(req, res),
    );
    this.http.on('checkContinue', (req, res) => this.handle(req, res, true));
    this.http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.acceptPeerStream(req, socket as Socket, head),
    );
  }

  /** Starts a node (opening its data dir, if it has one) and resolves once it listens. */
  static async start(init: NodeConfigInit = {}, components: NodeComponents = {}): Promise<KVNode> {
    const config = resolveConfig(init);
    let store = components.store;
    if (store === undefined && config.dataDir !== undefined) {
      store = await DiskStore.open(
        config.dataDir,
        { cluster: config.clusterName, address: config.advertise },
        { fsyncIntervalMs: config.fsyncIntervalMs },
      );
    }
    const node = new KVNode(init, { ...components, store });
    try {
      await node.listen();
    } catch (error) {
      await node.store.close();
      throw error;
    }
    return node;
  }

  get address(): string {
    return this.config.advertise;
  }

  /** The port actually bound (useful with port 0 in tests). */
  get port(): number {
    return (this.http.address() as AddressInfo | null)?.port ?? this.config.port;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.config.port, this.config.host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const members = this.coordinator.listMembers().length;
    const storage = this.store instanceof DiskStore ? diskSummary(this.store) : 'in memory';
    this.log.info(
      `listening on ${this.config.host}:${this.port}: ${members} member(s), replicas ${this.coordinator.replicas}, ${storage}`,
    );
    if (!isLoopback(this.config.host) && this.config.authToken === undefined) {
      this.log.warn(
        `listening on ${this.config.host} without --auth-token: anyone who can reach this port can read and change every key`,
      );
    }
    void this.cluster.start().then((answered) => {
      if (this.config.members.length > 0) this.log.info(`joined through ${answered} member(s)`);
    });
  }

  /**
   * Stops accepting requests, lets in-flight ones finish, tells the members this node is going down (unless it
   * has left), closes connections, waits (at most `STOP_IDLE_WAIT_MS`) for background work under way to end,
   * then closes the store.
   */
  async stop({ announce = true } = {}): Promise<void> {
    this.stopping = true;
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeIdleConnections();
    // Busy keep-alive connections get `Connection: close` on their next reply; once nothing is in flight, or after
    // a bound, whatever is still open is closed.
    for (let waited = 0; this.inFlight > 0 && waited < 5_000; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    this.http.closeAllConnections();
    for (const socket of this.peerStreams) socket.destroy();
    await closed;
    await this.cluster.stop({ announce });
    await this.transport.close?.();
    // Background work still under way ends once its peer calls fail; a write it made after the store closed would
    // be refused. The bound's timer keeps the process alive: with every socket closed, nothing else may until the
    // store is closed (a run's pause is on an unref'd timer).
    let bound: NodeJS.Timeout | undefined;
    const idle = await Promise.race([
      this.cluster.idle().then(() => true),
      new Promise<false>((resolve) => {
        bound = setTimeout(() => resolve(false), STOP_IDLE_WAIT_MS);
      }),
    ]);
    clearTimeout(bound);
    if (!idle)
      this.log.warn(`background work still under way after ${STOP_IDLE_WAIT_MS} ms: its writes will fail`);
    await this.store.close();
    this.log.info('stopped');
  }

  private createRpcServer(): jayson.Server {
    const methods: Record<string, jayson.Method> = {};
    for (const method of METHODS) {
      methods[method.name] = new jayson.Method((raw: unknown, callback: jayson.JSONRPCCallbackTypePlain) => {
        this.answer(method, raw).then(
          (result) => callback(null, result as jayson.JSONRPCResultLike),
          (error: unknown) => callback(toRpcError(error, this.log) as jayson.JSONRPCError),
        );
      });
    }
    return new jayson.Server(methods, { maxBatchLength: this.config.limits.maxBatch });
  }

  private async answer(method: MethodDefinition, raw: unknown): Promise<unknown> {
    return method.call(normalizeParams(method.name, raw, method.params), this.context);
  }

  /**
   * The hot path: a request, or a batch of requests, of the everyday shape (JSON-RPC 2.0, a known method, an id,
   * params absent or structured) is answered here without going through jayson's general machinery; under load
   * that is nearly every request, peer batches included. Anything else (notifications, unknown methods, malformed
   * members) returns undefined and goes to jayson, which owns the protocol's corner cases.
   */
  private answerPlain(request: unknown): Promise<object | object[]> | undefined {
    if (!Array.isArray(request)) {
      const method = this.plainMethod(request);
      return method === undefined ? undefined : this.reply1(method, request as PlainRequest);
    }
    if (request.length === 0) return undefined;
    const methods: MethodDefinition[] = [];
    for (const item of request) {
      const method = this.plainMethod(item);
      if (method === undefined) return undefined;
      methods.push(method);
    }
    return Promise.all(request.map((item, index) => this.reply1(methods[index]!, item as PlainRequest)));
  }

  private plainMethod(request: unknown): MethodDefinition | undefined {
    if (typeof request !== 'object' || request === null) return undefined;
    const { jsonrpc, id, method, params } = request as Record<string, unknown>;
    if (jsonrpc !== '2.0' || typeof method !== 'string') return undefined;
    if (typeof id !== 'number' && typeof id !== 'string') return undefined;
    if (params !== undefined && (typeof params !== 'object' || params === null)) return undefined;
    return this.methods.get(method);
  }

  private reply1(method: MethodDefinition, { id, params }: PlainRequest): Promise<object> {
    return this.answer(method, params).then(
      (result) => ({ jsonrpc: '2.0', id, result }),
      (error: unknown) => ({ jsonrpc: '2.0', id, error: toRpcError(error, this.log) }),
    );
  }

  /** One HTTP request; with `expectsContinue`, the client waits for `100 Continue` before sending the body. */
  private handle(req: IncomingMessage, res: ServerResponse, expectsContinue = false): void {
    if (req.method !== 'POST' || (req.url !== '/' && req.url !== '')) {
      res.setHeader('allow', 'POST');
      this.reply(
        res,
        req.method === 'POST' ? 404 : 405,
        rpcError(ErrorCode.INVALID_REQUEST, 'kvdb speaks JSON-RPC 2.0 on POST /'),
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
    const contentType = req.headers['content-type'];
    if (contentType !== undefined && !/^application\/json\b/i.test(contentType)) {
      this.reply(res, 415, rpcError(ErrorCode.INVALID_REQUEST, 'Expected Content-Type application/json'));
      req.resume();
      return;
    }
    const limit = this.config.limits.maxBodyBytes;
    if (Number(req.headers['content-length'] ?? 0) > limit) {
      this.refuseTooLarge(req, res, limit);
      return;
    }
    if (expectsContinue) res.writeContinue();

    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        this.refuseTooLarge(req, res, limit);
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (size > limit) return;
      const parsed = parseJson(Buffer.concat(chunks, size), 'body');
      if ('error' in parsed) {
        this.reply(res, 200, parsed.error);
        return;
      }
      void this.respond(parsed.request).then((reply) => {
        if (reply === undefined) {
          res.statusCode = 204;
          res.end();
        } else {
          this.reply(res, 200, reply);
        }
      });
    });
  }

  /**
   * The reply to a parsed JSON-RPC request or batch, from HTTP or a peer stream; undefined when it held only
   * notifications. Never rejects: every failure becomes a JSON-RPC error.
   */
  private respond(request: unknown): Promise<JsonRpcReply> {
    const { maxBatch } = this.config.limits;
    if (Array.isArray(request) && request.length > maxBatch) {
      const message = `Batch of ${request.length} requests; the limit is ${maxBatch} (--max-batch)`;
      return Promise.resolve(rpcError(ErrorCode.INVALID_REQUEST, message, { limit: maxBatch }));
    }
    if (typeof request !== 'object' || request === null) {
      return Promise.resolve(
        rpcError(ErrorCode.INVALID_REQUEST, 'Expected a JSON-RPC request object or a batch array'),
      );
    }
    this.inFlight += 1;
    const done = (reply: JsonRpcReply): JsonRpcReply => {
      this.inFlight -= 1;
      return reply;
    };
    const plain = this.answerPlain(request);
    if (plain !== undefined) return plain.then(done);
    return new Promise((resolve) => {
      this.rpc.call(request as jayson.JSONRPCRequestLike, (error: JsonRpcReply, response: JsonRpcReply) =>
        resolve(done(error ?? response)),
      );
    });
  }

  /**
   * Switches a connection to a peer stream (see peer-stream.ts) if it asked for kvdb-peer/1 on /peer with the
   * right token; anything else is refused with an HTTP status and a JSON-RPC error, and the connection closed.
   */
  private acceptPeerStream(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const refuse = (status: string, error: object) => {
      const body = JSON.stringify(error);
      socket.end(
        `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
          `connection: close\r\n\r\n${body}`,
      );
    };
    if (
      req.method !== 'GET' ||
      req.url !== PEER_PATH ||
      req.headers.upgrade?.toLowerCase() !== PEER_PROTOCOL
    ) {
      const message = `kvdb switches protocols only to ${PEER_PROTOCOL} on GET ${PEER_PATH}; JSON-RPC goes to POST /`;
      refuse('400 Bad Request', rpcError(ErrorCode.INVALID_REQUEST, message));
      return;
    }
    if (!this.authorized(req.headers.authorization)) {
      refuse('401 Unauthorized', UNAUTHORIZED_REPLY);
      return;
    }
    const cluster = req.headers[PEER_CLUSTER_HEADER];
    if (cluster === undefined) this.unnamedCluster(socket.remoteAddress);
    else if (cluster !== this.config.clusterName) {
      refuse('403 Forbidden', this.foreignCluster(cluster, socket.remoteAddress));
      return;
    }
    if (this.stopping) {
      refuse('503 Service Unavailable', rpcError(ErrorCode.UNAVAILABLE, `${this.address} is stopping`));
      return;
    }
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: ${PEER_PROTOCOL}\r\n` +
        `${PEER_CLUSTER_HEADER}: ${this.config.clusterName}\r\n\r\n`,
    );
    socket.setNoDelay(true);
    this.peerStreams.add(socket);
    socket.once('close', () => this.peerStreams.delete(socket));
    const limit = this.config.limits.maxBodyBytes;
    const reader = new FrameReader(limit, (frame) => this.answerFrame(socket, frame));
    const onData = (chunk: Buffer) => {
      if (reader.push(chunk)) return;
      socket.off('data', onData);
      const error = rpcError(ErrorCode.TOO_LARGE, `Frame over ${limit} bytes (--max-body-bytes)`, { limit });
      socket.end(`${JSON.stringify(error)}\n`);
    };
    if (head.length > 0) onData(head);
    socket.on('data', onData);
  }

  /** The refusal of a stream from another cluster's node; the first few clusters are logged. */
  private foreignCluster(cluster: string | string[], from: string | undefined): object {
    const own = quotedCluster(this.config.clusterName);
    const theirs = quotedCluster(String(cluster));
    if (!this.foreignClusters.has(theirs) && this.foreignClusters.size < 16) {
      this.foreignClusters.add(theirs);
      this.log.warn(
        `refused a peer stream from a node of cluster ${theirs} (at ${from ?? '?'}): this node is in cluster ${own}`,
      );
    }
    const message = otherCluster(this.address, this.config.clusterName, String(cluster));
    return rpcError(ErrorCode.INVALID_REQUEST, message, { cluster: this.config.clusterName });
  }

  /**
   * A stream that names no cluster comes from a node of a kvdb before cluster names were exchanged: taken, so that
   * a cluster can be upgraded a node at a time, and logged once.
   */
  private unnamedCluster(from: string | undefined): void {
    if (this.foreignClusters.has('')) return;
    this.foreignClusters.add('');
    this.log.warn(
      `took a peer stream that names no cluster (a node of an older kvdb, at ${from ?? '?'}): its cluster is not checked; upgrade it`,
    );
  }

  /** One frame of a peer stream: answered on one line, as soon as its calls are done (frames may overtake). */
  private answerFrame(socket: Socket, frame: Buffer): void {
    const parsed = parseJson(frame, 'frame');
    if ('error' in parsed) {
      socket.write(`${JSON.stringify(parsed.error)}\n`);
      return;
    }
    const { request } = parsed;
    if (this.stopping) {
      // Calls already taken finish; new ones fail at once, so the peer makes hints instead of waiting.
      const error = { code: ErrorCode.UNAVAILABLE, message: `${this.address} is stopping` };
      const ids = (Array.isArray(request) ? request : [request]).map(
        (item) => (item as { id?: unknown })?.id ?? null,
      );
      socket.write(`${JSON.stringify(ids.map((id) => ({ jsonrpc: '2.0', id, error })))}\n`);
      return;
    }
    void this.respond(request).then((reply) => {
      if (reply !== undefined && !socket.destroyed) socket.write(`${this.serialize(reply)}\n`);
    });
  }

  /** JSON text of a reply; a reply that cannot be serialised becomes an internal error (and is logged). */
  private serialize(payload: unknown): string {
    try {
      return JSON.stringify(payload);
    } catch (error) {
      this.log.error(`could not serialise a reply: ${String(error)}`);
      return JSON.stringify(rpcError(ErrorCode.INTERNAL_ERROR, 'Internal error'));
    }
  }

  private refuseTooLarge(req: IncomingMessage, res: ServerResponse, limit: number): void {
    if (res.headersSent) return;
    const error = rpcError(ErrorCode.TOO_LARGE, `Request body over ${limit} bytes (--max-body-bytes)`, {
      limit,
    });
    res.setHeader('connection', 'close');
    this.reply(res, 413, error);
    req.pause();
    res.on('finish', () => req.destroy());
  }

  private reply(res: ServerResponse, status: number, payload: unknown): void {
    if (this.stopping) res.setHeader('connection', 'close');
    const body = this.serialize(payload);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}

/** Refuses bytes that are not UTF-8 instead of quietly turning them into U+FFFD. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A request body or a peer-stream frame, parsed; or the -32700 reply that says why it could not be. */
function parseJson(bytes: Buffer, what: 'body' | 'frame'): { request: unknown } | { error: object } {
  try {
    return { request: JSON.parse(utf8.decode(bytes)) };
  } catch (error) {
    const reason = error instanceof TypeError ? `the ${what} is not valid UTF-8` : (error as Error).message;
    return { error: rpcError(ErrorCode.PARSE_ERROR, `Parse error: ${reason}`) };
  }
}

function rpcError(code: number, message: string, data?: unknown): object {
  const error = data === undefined ? { code, message } : { code, message, data };
  return { jsonrpc: '2.0', id: null, error };
}

/** The reply to a request, or a peer stream, without the node's token: over HTTP and at the switch alike. */
const UNAUTHORIZED_REPLY = rpcError(
  ErrorCode.UNAUTHORIZED,
  'Missing or wrong auth token (Authorization: Bearer …)',
);

/** The start line's account of a data dir: where, and what was loaded from it. */
function diskSummary(store: DiskStore): string {
  const { records, hints, ms } = store.loaded;
  return `data in ${store.dir} (${records} records and ${hints} hints loaded in ${(ms / 1_000).toFixed(1)} s)`;
}
