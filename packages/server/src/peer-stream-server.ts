import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '@kvdb/coordinator';
import { DEFAULT_MAX_BODY_BYTES, ErrorCode, type MemberAddress } from '@kvdb/core';
import { createTokenCheck, PEER_UNAUTHORIZED_REPLY } from './auth.js';
import { DEFAULT_CLUSTER_NAME } from './config.js';
import { errorReply, type JsonRpcDispatcher, parseRequest, replyText } from './json-rpc.js';
import {
  FrameReader,
  otherCluster,
  PEER_CLUSTER_HEADER,
  PEER_NODE_HEADER,
  PEER_PATH,
  PEER_PROTOCOL,
  quotedCluster,
} from './peer-stream.js';

export interface PeerStreamServerComponents {
  /** Answers every frame that parsed. */
  dispatcher: JsonRpcDispatcher;
  logger: Logger;
}

export interface PeerStreamServerInit {
  /** This node's address, as refusals name it. */
  address: MemberAddress;
  /** This node's cluster: streams from nodes of another are refused. @default DEFAULT_CLUSTER_NAME */
  clusterName?: string;
  /**
   * The peer credential: a stream must be asked for with `Authorization: Bearer <peerToken>`.
   * @default undefined (none needed)
   */
  peerToken?: string;
  /** Largest frame taken (`--max-body-bytes`): a longer one closes the stream. @default DEFAULT_MAX_BODY_BYTES */
  maxFrameBytes?: number;
}

/** Most other clusters, and most addresses refused for their peer token, whose refused streams are logged (each once). */
const MAX_REFUSALS_LOGGED = 16;

/**
 * The answering side of peer streams (see peer-stream.ts): takes the connections that ask to switch to
 * kvdb-peer/2 (node:http's `upgrade` event), checks them, and answers each frame through the node's dispatcher,
 * on one line, as soon as its calls are done (frames may overtake each other).
 */
export class PeerStreamServer {
  private readonly dispatcher: JsonRpcDispatcher;
  private readonly log: Logger;
  private readonly address: MemberAddress;
  private readonly cluster: string;
  private readonly authorized: (header: string | undefined) => boolean;
  private readonly maxFrameBytes: number;
  /** Streams open (connections switched to kvdb-peer/2). */
  private readonly streams = new Set<Socket>();
  /** Names of other clusters whose nodes were refused a stream, each logged once (a bounded few); '' for none. */
  private readonly foreignClusters = new Set<string>();
  /** Addresses whose streams were refused for a missing or wrong peer token, each logged once (a bounded few). */
  private readonly unauthorized = new Set<string>();
  private framesInFlight = 0;
  private stopping = false;

  constructor(components: PeerStreamServerComponents, init: PeerStreamServerInit) {
    this.dispatcher = components.dispatcher;
    this.log = components.logger;
    this.address = init.address;
    this.cluster = init.clusterName ?? DEFAULT_CLUSTER_NAME;
    this.authorized = createTokenCheck(init.peerToken);
    this.maxFrameBytes = init.maxFrameBytes ?? DEFAULT_MAX_BODY_BYTES;
  }

  /** Frames taken and being answered: a stop waits for them. */
  get inFlight(): number {
    return this.framesInFlight;
  }

  /** From now on new streams are refused (503) and new frames fail at once; frames already taken finish. */
  stop(): void {
    this.stopping = true;
  }

  /** Closes every stream. */
  closeAll(): void {
    for (const socket of this.streams) socket.destroy();
  }

  /**
   * Switches a connection to a peer stream if it asked for kvdb-peer/2 on /peer with the peer token and cluster;
   * anything else is refused with an HTTP status and a JSON-RPC error, and the connection closed.
   */
  accept(req: IncomingMessage, socket: Socket, head: Buffer): void {
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
      const message = `kvdb switches protocols only to ${PEER_PROTOCOL} on GET ${PEER_PATH} (a node asking for another version is of another kvdb release: upgrade every node of a cluster together); JSON-RPC goes to POST /`;
      refuse('400 Bad Request', errorReply(ErrorCode.INVALID_REQUEST, message));
      return;
    }
    if (!this.authorized(req.headers.authorization)) {
      this.refusedToken(socket.remoteAddress, req.headers[PEER_NODE_HEADER]);
      refuse('401 Unauthorized', PEER_UNAUTHORIZED_REPLY);
      return;
    }
    const cluster = req.headers[PEER_CLUSTER_HEADER];
    if (cluster === undefined) this.unnamedCluster(socket.remoteAddress);
    else if (cluster !== this.cluster) {
      refuse('403 Forbidden', this.foreignCluster(cluster, socket.remoteAddress));
      return;
    }
    if (this.stopping) {
      refuse('503 Service Unavailable', errorReply(ErrorCode.UNAVAILABLE, `${this.address} is stopping`));
      return;
    }
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: ${PEER_PROTOCOL}\r\n` +
        `${PEER_CLUSTER_HEADER}: ${this.cluster}\r\n\r\n`,
    );
    socket.setNoDelay(true);
    this.streams.add(socket);
    socket.once('close', () => this.streams.delete(socket));
    const limit = this.maxFrameBytes;
    const reader = new FrameReader(limit, (frame) => this.answerFrame(socket, frame));
    const onData = (chunk: Buffer) => {
      if (reader.push(chunk)) return;
      socket.off('data', onData);
      const error = errorReply(ErrorCode.TOO_LARGE, `Frame over ${limit} bytes (--max-body-bytes)`, {
        limit,
      });
      socket.end(`${JSON.stringify(error)}\n`);
    };
    if (head.length > 0) onData(head);
    socket.on('data', onData);
  }

  /** The refusal of a stream from another cluster's node; the first few clusters are logged. */
  private foreignCluster(cluster: string | string[], from: string | undefined): object {
    const own = quotedCluster(this.cluster);
    const theirs = quotedCluster(String(cluster));
    if (!this.foreignClusters.has(theirs) && this.foreignClusters.size < MAX_REFUSALS_LOGGED) {
      this.foreignClusters.add(theirs);
      this.log.warn(
        `refused a peer stream from a node of cluster ${theirs} (at ${from ?? '?'}): this node is in cluster ${own}`,
      );
    }
    const message = otherCluster(this.address, this.cluster, String(cluster));
    return errorReply(ErrorCode.INVALID_REQUEST, message, { cluster: this.cluster });
  }

  /**
   * Logs a stream refused for its peer token, once per address it came from and node it names (nodes of one host
   * share an address): a misconfigured node keeps dialing.
   */
  private refusedToken(from: string | undefined, node: string | string[] | undefined): void {
    const named = node === undefined ? 'naming no node' : `naming itself ${quotedCluster(String(node))}`;
    const source = `${from ?? '?'} (${named})`;
    if (this.unauthorized.has(source) || this.unauthorized.size >= MAX_REFUSALS_LOGGED) return;
    this.unauthorized.add(source);
    this.log.warn(
      `refused a peer stream from ${source}: missing or wrong peer token (every node of the cluster needs the same --peer-token)`,
    );
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

  /** One frame: answered on one line once its calls are done; a frame of only notifications gets no line. */
  private answerFrame(socket: Socket, frame: Buffer): void {
    const parsed = parseRequest(frame, 'frame');
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
    this.framesInFlight += 1;
    void this.dispatcher.dispatch(request).then((reply) => {
      this.framesInFlight -= 1;
      if (reply !== undefined && !socket.destroyed)
        socket.write(`${replyText(reply, this.log, JSON.stringify)}\n`);
    });
  }
}
