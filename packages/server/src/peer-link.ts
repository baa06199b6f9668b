import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import {
  ConnectionError,
  errorFromRpc,
  InternalError,
  InvalidRequestError,
  type KVError,
  type MemberAddress,
  TimeoutError,
  TooLargeError,
  tlsFailure,
} from '@kvdb/core';
import type { TlsOptions } from './node-tls.js';
import { dialPeer } from './peer-dial.js';
import { FrameReader, otherCluster, PEER_CLUSTER_HEADER } from './peer-stream.js';

/** Largest reply frame taken from a peer: about the longest string V8 can hold. */
const MAX_REPLY_BYTES = 2 ** 29;

/** Most of a refusal's body kept to say why the peer refused. */
const MAX_REFUSAL_BYTES = 16 * 1024;

interface RpcReply {
  id?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export interface QueuedCall {
  id: number;
  method: string;
  params: unknown;
  /** When the caller gives up, on `performance.now()`'s clock: time spent queued counts. */
  deadline: number;
  // biome-ignore lint/suspicious/noExplicitAny: each caller narrows its own result type.
  resolve: (result: any) => void;
  reject: (error: unknown) => void;
}

interface Frame {
  calls: QueuedCall[];
  unanswered: number;
  timer: NodeJS.Timeout;
}

export interface PeerLinkOptions {
  /** Where to connect: `host:port`. */
  dial: string;
  /** This node's cluster: a peer that answers as a node of another is refused. */
  cluster: string;
  /** The headers of the request to switch protocols (connection, upgrade, cluster, authorization). */
  headers: Readonly<Record<string, string>>;
  /** Called with the peer's answer to the stream request: `101`, or a refusal and the error it sent. */
  onAnswer: (status: number, refusal?: KVError) => void;
  maxFramesInFlight: number;
  maxCalls: number;
  /** Most bytes of JSON in a frame (the peers' `--max-body-bytes`). */
  maxBytes: number;
  /** Dial with TLS, with these options, asked at each dial. @default undefined: plain TCP */
  tls?: () => TlsOptions;
}

/** A frame as it goes on the wire: JSON text, and the encoded params of large calls between. */
type FrameChunks = Array<string | Buffer>;

/** Params at least this long (in UTF-16 units of JSON) go on the wire as bytes of their own; shorter ones are joined. */
const LARGE_PARAMS = 4_096;

/**
 * Large params as UTF-8 JSON, made once a turn of the event loop: a write sends the same params object to every
 * replica of the key in the same turn, so a large value is stringified and encoded once, not once a peer, and
 * stays bytes of its own in the frame, never joined into a string with the rest. Small params are stringified by
 * each link and joined, as many small writes cost more than one. The cache lives one turn only, so a params object
 * changed later (a paging cursor moved on) is encoded afresh.
 */
const encodedParams = new Map<object, Buffer>();
let clearing = false;

/** A call's params: their JSON text when small, their bytes when large. */
function encodeParams(params: unknown): string | Buffer {
  if (typeof params !== 'object' || params === null) return JSON.stringify(params ?? null);
  const cached = encodedParams.get(params);
  if (cached !== undefined) return cached;
  const text = JSON.stringify(params);
  if (text.length < LARGE_PARAMS) return text;
  const bytes = Buffer.from(text);
  encodedParams.set(params, bytes);
  if (!clearing) {
    clearing = true;
    setImmediate(() => {
      encodedParams.clear();
      clearing = false;
    });
  }
  return bytes;
}

/**
 * One stream to one peer: queues calls, sends them as frames once the peer has switched protocols, settles each
 * call from its reply, and fails them all if the stream breaks or a frame goes unanswered past its deadline (the
 * stream is then closed, and the next call opens a new one).
 */
export class PeerLink {
  /** The request to switch protocols, until the peer answers it. */
  private handshake: ClientRequest | undefined;
  /** The stream, once the peer has switched protocols. */
  private socket: Socket | undefined;
  /** Frames made before the switch, sent once it comes. */
  private outbox: FrameChunks[] = [];
  private queue: QueuedCall[] = [];
  private scheduled = false;
  private readonly frames = new Set<Frame>();
  private readonly waiting = new Map<unknown, { call: QueuedCall; frame: Frame }>();

  constructor(
    private readonly peer: MemberAddress,
    private readonly options: PeerLinkOptions,
  ) {}

  enqueue(call: QueuedCall): void {
    this.queue.push(call);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  close(): void {
    const stopping = (call: QueuedCall) =>
      new ConnectionError(`${call.method} to ${this.peer} failed: this node is stopping`);
    this.fail(stopping);
    for (const call of this.queue.splice(0)) call.reject(stopping(call));
  }

  /** Sends what is queued, as frames, while fewer than the most allowed are out. */
  private flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0 && this.frames.size < this.options.maxFramesInFlight) this.sendFrame();
  }

  private sendFrame(): void {
    const now = performance.now();
    const calls: QueuedCall[] = [];
    const heads: string[] = [];
    const encodings: Array<string | Buffer> = [];
    // A batch's brackets and the newline.
    let bytes = 3;
    let deadline = 0;
    let taken = 0;
    for (; taken < this.queue.length && calls.length < this.options.maxCalls; taken++) {
      const call = this.queue[taken];
      if (call === undefined) continue;
      if (call.deadline <= now) {
        call.reject(new TimeoutError(`${call.method} to ${this.peer} timed out waiting to be sent`));
        continue;
      }
      const { id, method, params } = call;
      const head = `{"jsonrpc":"2.0","id":${id},"method":${JSON.stringify(method)},"params":`;
      const encoded = encodeParams(params);
      // A comma before each call but the first; the head is ASCII.
      const size =
        head.length + (typeof encoded === 'string' ? Buffer.byteLength(encoded) : encoded.length) + 2;
      if (size + 3 > this.options.maxBytes) {
        // The peer would refuse the frame and close the stream, failing every call on it: this call alone fails.
        call.reject(
          new TooLargeError(
            `${method} to ${this.peer} is ${size} bytes of JSON, over the peers' frame limit of ${this.options.maxBytes} (--max-body-bytes)`,
          ),
        );
        continue;
      }
      if (calls.length > 0 && bytes + size > this.options.maxBytes) break;
      calls.push(call);
      heads.push(head);
      encodings.push(encoded);
      bytes += size;
      deadline = Math.max(deadline, call.deadline);
    }
    this.queue = taken === this.queue.length ? [] : this.queue.slice(taken);
    if (calls.length === 0) return;
    const frame: Frame = {
      calls,
      unanswered: calls.length,
      timer: setTimeout(() => this.timedOut(frame), Math.ceil(deadline - now)),
    };
    this.frames.add(frame);
    for (const call of calls) this.waiting.set(call.id, { call, frame });
    const chunks = frameChunks(heads, encodings);
    if (this.socket !== undefined) writeChunks(this.socket, chunks);
    else {
      this.outbox.push(chunks);
      if (this.handshake === undefined) this.connect();
    }
  }

  /** Asks the peer to switch protocols, through node:http's upgrade support, on a connection of its own (see dialPeer). */
  private connect(): void {
    let handshake: ClientRequest;
    try {
      handshake = dialPeer(this.peer, this.options.dial, this.options.headers, this.options.tls?.());
    } catch (error) {
      // node:http refuses a header it cannot send (a token with a line break): the calls fail, the node stays up.
      this.broken(error as Error);
      return;
    }
    this.handshake = handshake;
    handshake.setNoDelay(true);
    handshake.setSocketKeepAlive(true, 30_000);
    handshake.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
      if (handshake !== this.handshake) {
        socket.destroy();
        return;
      }
      this.opened(res, socket, head);
    });
    handshake.on('response', (res: IncomingMessage) => {
      if (handshake === this.handshake) this.refused(handshake, res);
      else res.destroy();
    });
    handshake.on('error', (error: Error & { code?: string }) => {
      if (handshake === this.handshake) this.broken(error);
    });
    handshake.end();
  }

  /** The peer switched protocols: checks the cluster it names (one of an older kvdb names none and is taken). */
  private opened(res: IncomingMessage, socket: Socket, head: Buffer): void {
    this.socket = socket;
    const theirs = res.headers[PEER_CLUSTER_HEADER];
    if (theirs !== undefined && theirs !== this.options.cluster) {
      const foreign = new InvalidRequestError(otherCluster(this.peer, String(theirs), this.options.cluster));
      this.options.onAnswer(101, foreign);
      this.fail(() => foreign);
      return;
    }
    this.options.onAnswer(101);
    socket.setNoDelay(true);
    const reader = new FrameReader(MAX_REPLY_BYTES, (frame) => this.onReply(frame));
    const tooLarge = `${this.peer} sent a reply frame over ${MAX_REPLY_BYTES} bytes`;
    socket.on('data', (chunk: Buffer) => {
      if (socket === this.socket && !reader.push(chunk)) this.breakWith(tooLarge);
    });
    socket.on('error', (error: Error & { code?: string }) => {
      if (socket === this.socket) this.broken(error);
    });
    socket.on('close', () => {
      if (socket !== this.socket) return;
      this.fail(
        (call) => new ConnectionError(`${call.method} to ${this.peer} failed: the connection closed`),
      );
    });
    for (const chunks of this.outbox) writeChunks(socket, chunks);
    this.outbox = [];
    if (head.length > 0 && !reader.push(head)) this.breakWith(tooLarge);
  }

  /** The peer answered with a status other than 101: its body (a JSON-RPC error) says why. */
  private refused(handshake: ClientRequest, res: IncomingMessage): void {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      if (size > MAX_REFUSAL_BYTES) return;
      chunks.push(chunk);
      size += chunk.length;
    });
    res.once('close', () => {
      if (handshake !== this.handshake) return;
      const refusal = refusedBy(this.peer, res.statusCode, Buffer.concat(chunks));
      this.options.onAnswer(res.statusCode ?? 0, refusal);
      this.fail(() => refusal);
    });
  }

  private onReply(frame: Buffer): void {
    let parsed: RpcReply | RpcReply[];
    try {
      parsed = JSON.parse(frame.toString('utf8')) as RpcReply | RpcReply[];
    } catch {
      this.breakWith(`${this.peer} sent a frame that is not JSON`);
      return;
    }
    for (const reply of Array.isArray(parsed) ? parsed : [parsed]) {
      const entry = this.waiting.get(reply.id);
      if (entry === undefined) {
        // An error without an id is about a whole frame the peer could not take: nothing on this stream is safe.
        if (reply.id === null && reply.error !== undefined) {
          const refused = errorFromRpc(reply.error);
          this.fail(() => refused);
          return;
        }
        continue; // a late reply to a call that already failed
      }
      this.waiting.delete(reply.id);
      const { call, frame: sent } = entry;
      if (reply.error !== undefined) call.reject(errorFromRpc(reply.error));
      else if ('result' in reply) call.resolve(reply.result);
      else call.reject(new InternalError(`${this.peer} sent no result for ${call.method}`));
      if (--sent.unanswered === 0) {
        clearTimeout(sent.timer);
        this.frames.delete(sent);
      }
    }
    if (this.queue.length > 0 && !this.scheduled) this.flush();
  }

  /** A frame went unanswered until its deadline: the stream is stuck (a frozen peer or link), so start over. */
  private timedOut(frame: Frame): void {
    if (!this.frames.has(frame)) return;
    this.fail((call) => new TimeoutError(`${call.method} to ${this.peer} timed out`));
  }

  /**
   * The connection failed (refused, reset, a TLS handshake that failed): every call on it fails with why. A TLS
   * failure (a peer without TLS, a certificate not trusted) does not mend itself: it is reported like a refusal.
   */
  private broken(error: Error & { code?: string }): void {
    const tlsReason = tlsFailure(error);
    if (tlsReason !== undefined) {
      const failure = new ConnectionError(`TLS with ${this.peer} failed: ${tlsReason}`, { cause: error });
      this.options.onAnswer(0, failure);
      this.fail((call) => new ConnectionError(`${call.method} to ${this.peer} failed: ${failure.message}`));
      return;
    }
    const reason = error.message || error.code || 'connection error';
    this.fail(
      (call) => new ConnectionError(`${call.method} to ${this.peer} failed: ${reason}`, { cause: error }),
    );
  }

  private breakWith(reason: string): void {
    this.fail((call) => new ConnectionError(`${call.method} to ${this.peer} failed: ${reason}`));
  }

  /**
   * Closes the stream (or the request for one still under way) and fails every call sent on it; calls still
   * queued go on a new stream.
   */
  private fail(errorFor: (call: QueuedCall) => KVError): void {
    const { handshake, socket } = this;
    this.handshake = undefined;
    this.socket = undefined;
    this.outbox = [];
    handshake?.destroy();
    socket?.destroy();
    for (const frame of this.frames) clearTimeout(frame.timer);
    this.frames.clear();
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const { call } of waiting) call.reject(errorFor(call));
    if (this.queue.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }
}

/**
 * A frame's chunks: one call as a lone request, more as a batch; the JSON text joined, large params left as
 * their bytes between.
 */
function frameChunks(heads: readonly string[], params: ReadonlyArray<string | Buffer>): FrameChunks {
  const chunks: FrameChunks = [];
  const batch = heads.length > 1;
  let text = batch ? '[' : '';
  for (let index = 0; index < heads.length; index++) {
    const start = `${index === 0 ? '' : ','}${heads[index]}`;
    const encoded = params[index] as string | Buffer;
    if (typeof encoded === 'string') text += `${start}${encoded}}`;
    else {
      chunks.push(text + start, encoded);
      text = '}';
    }
  }
  chunks.push(`${text}${batch ? ']' : ''}\n`);
  return chunks;
}

/** Writes a frame's chunks as one gathered write. */
function writeChunks(socket: Socket, chunks: FrameChunks): void {
  if (chunks.length === 1) {
    socket.write(chunks[0] as string | Buffer);
    return;
  }
  socket.cork();
  for (const chunk of chunks) socket.write(chunk);
  socket.uncork();
}

/** The error for a peer that refused the stream: its JSON-RPC error (401 → unauthorised) or its HTTP status. */
function refusedBy(peer: MemberAddress, status: number | undefined, body: Buffer): KVError {
  try {
    const { error } = JSON.parse(body.toString('utf8')) as RpcReply;
    if (error !== undefined) return errorFromRpc(error);
  } catch {
    // not JSON: say what the status was
  }
  return new ConnectionError(`${peer} refused the peer stream: HTTP ${status ?? '?'}`);
}
