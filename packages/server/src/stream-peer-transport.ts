import { connect, type Socket } from 'node:net';
import type { Logger, PeerCallOptions, PeerTransport } from '@kvdb/coordinator';
import {
  ConnectionError,
  DEFAULT_REQUEST_TIMEOUT_MS,
  errorFromRpc,
  InternalError,
  InvalidRequestError,
  type KVError,
  type MemberAddress,
  type PeerMethod,
  type PeerParams,
  type PeerResult,
  TimeoutError,
} from '@kvdb/core';
import { clusterName, DEFAULT_CLUSTER_NAME } from './config.js';
import { FrameReader, otherCluster, PEER_CLUSTER_HEADER, PEER_PATH, PEER_PROTOCOL } from './peer-stream.js';

export interface StreamPeerTransportInit {
  /** Sent as `Authorization: Bearer …` when opening a stream, to peers that require it. */
  authToken?: string;
  /** Sent when opening a stream: peers of another cluster refuse it. @default 'kvdb' */
  clusterName?: string;
  /** Where a peer refusing this node's streams (another cluster, a wrong token) is reported, once per reason. */
  logger?: Logger;
  /**
   * Where to dial a member instead of its own address (`member → host:port`): for a proxy in between, as the
   * fault-injection tests put one between every pair of nodes. The member keeps its identity.
   */
  routes?: ReadonlyMap<MemberAddress, string>;
  /**
   * The peers' `--max-body-bytes` and `--max-batch` (a cluster shares its limits): frames stay within them.
   * @default 8 MiB and 1,000
   */
  maxFrameBytes?: number;
  maxBatch?: number;
}

const MEMBERSHIP_METHODS: ReadonlySet<string> = new Set(['peer.ping', 'peer.ping_req', 'peer.sync']);

/** Most calls in one frame. */
const MAX_CALLS_PER_FRAME = 256;

/**
 * Most frames of replica calls in flight to one peer. Calls made while that many are out wait for the next, so
 * under load frames grow instead of multiplying (group commit); with nothing in flight a call leaves at once.
 */
const MAX_FRAMES_IN_FLIGHT = 4;

/** Largest reply frame taken from a peer: about the longest string V8 can hold. */
const MAX_REPLY_BYTES = 2 ** 29;

/** Largest HTTP response head expected before the switch of protocols. */
const MAX_HEAD_BYTES = 16 * 1024;

interface RpcReply {
  id?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
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

interface Frame {
  calls: QueuedCall[];
  unanswered: number;
  timer: NodeJS.Timeout;
}

interface LinkOptions {
  dial: string;
  /** This node's cluster: a peer that answers as a node of another is refused. */
  cluster: string;
  upgradeRequest: string;
  /** Called with the peer's answer to the stream request: `101`, or a refusal and the error it sent. */
  onAnswer: (status: number, refusal?: KVError) => void;
  maxFramesInFlight: number;
  maxCalls: number;
  /** Most UTF-16 units of JSON in a frame: a third of the byte limit, since a unit takes at most 3 UTF-8 bytes. */
  maxChars: number;
}

/**
 * Peer calls over peer streams (see peer-stream.ts): per peer, one connection for replica calls, batched into
 * frames, and one for membership calls (probes, syncs), so a probe never waits behind a backlog of data.
 */
export class StreamPeerTransport implements PeerTransport {
  private readonly links = new Map<string, PeerLink>();
  private readonly routes: ReadonlyMap<MemberAddress, string>;
  private readonly cluster: string;
  private readonly headers: string;
  private readonly logger: Logger | undefined;
  /** Per peer, the last refusal reported, so a peer that keeps refusing is reported once. */
  private readonly refusals = new Map<MemberAddress, string>();
  private readonly maxFrameBytes: number;
  private readonly maxBatch: number;
  private nextId = 1;
  private closed = false;

  constructor(init: StreamPeerTransportInit = {}) {
    this.routes = init.routes ?? new Map();
    this.cluster = clusterName(init.clusterName ?? DEFAULT_CLUSTER_NAME);
    this.headers =
      `${PEER_CLUSTER_HEADER}: ${this.cluster}\r\n` +
      (init.authToken === undefined ? '' : `authorization: Bearer ${init.authToken}\r\n`);
    this.logger = init.logger;
    this.maxFrameBytes = init.maxFrameBytes ?? 8 * 1024 * 1024;
    this.maxBatch = init.maxBatch ?? 1_000;
  }

  /**
   * Sends one peer call. Replica calls to the same peer made in the same turn of the event loop travel together
   * as one frame (under load, one frame carries many).
   */
  call<M extends PeerMethod>(
    to: MemberAddress,
    method: M,
    params: PeerParams<M>,
    options: PeerCallOptions = {},
  ): Promise<PeerResult<M>> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new ConnectionError(`${method} to ${to} failed: this node is stopping`));
        return;
      }
      const deadline = performance.now() + timeoutMs;
      this.link(to, MEMBERSHIP_METHODS.has(method)).enqueue({
        id: this.nextId++,
        method,
        params,
        deadline,
        resolve,
        reject,
      });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const link of this.links.values()) link.close();
    this.links.clear();
  }

  private link(to: MemberAddress, membership: boolean): PeerLink {
    const id = membership ? `${to}|membership` : to;
    let link = this.links.get(id);
    if (link === undefined) {
      const dial = this.routes.get(to) ?? to;
      link = new PeerLink(to, {
        dial,
        cluster: this.cluster,
        upgradeRequest:
          `GET ${PEER_PATH} HTTP/1.1\r\nhost: ${dial}\r\nconnection: upgrade\r\n` +
          `upgrade: ${PEER_PROTOCOL}\r\n${this.headers}\r\n`,
        onAnswer: (status, refusal) => this.answered(to, status, refusal),
        // Probes must never queue behind each other: an indirect probe waits for a third node.
        maxFramesInFlight: membership ? Number.POSITIVE_INFINITY : MAX_FRAMES_IN_FLIGHT,
        maxCalls: Math.min(MAX_CALLS_PER_FRAME, this.maxBatch),
        maxChars: Math.floor(this.maxFrameBytes / 3),
      });
      this.links.set(id, link);
    }
    return link;
  }

  /**
   * Reports a peer's refusal of a stream once per reason until it accepts one: another cluster or a wrong token
   * does not mend itself, and the calls fail quietly otherwise. A peer that is stopping (503) is not reported.
   */
  private answered(peer: MemberAddress, status: number, refusal: KVError | undefined): void {
    if (refusal === undefined) this.refusals.delete(peer);
    else if (status !== 503 && this.refusals.get(peer) !== refusal.message) {
      this.refusals.set(peer, refusal.message);
      // The reason is the peer's own text: cut short, and without line breaks that could forge log lines.
      const reason = refusal.message.slice(0, 300).replace(/\p{Cc}+/gu, ' ');
      this.logger?.warn(`peer stream to ${peer} refused: ${reason}`);
    }
  }
}

/**
 * One stream to one peer: queues calls, sends them as frames once the peer has switched protocols, settles each
 * call from its reply, and fails them all if the stream breaks or a frame goes unanswered past its deadline (the
 * stream is then closed, and the next call opens a new one).
 */
class PeerLink {
  private socket: Socket | undefined;
  /** Whether the peer has answered `101 Switching Protocols` on the current socket. */
  private open = false;
  /** Frames written before the switch, sent once it comes. */
  private outbox: string[] = [];
  private queue: QueuedCall[] = [];
  private scheduled = false;
  private readonly frames = new Set<Frame>();
  private readonly waiting = new Map<unknown, { call: QueuedCall; frame: Frame }>();

  constructor(
    private readonly peer: MemberAddress,
    private readonly options: LinkOptions,
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
    const parts: string[] = [];
    let chars = 0;
    let deadline = 0;
    let taken = 0;
    for (; taken < this.queue.length && calls.length < this.options.maxCalls; taken++) {
      const call = this.queue[taken]!;
      if (call.deadline <= now) {
        call.reject(new TimeoutError(`${call.method} to ${this.peer} timed out waiting to be sent`));
        continue;
      }
      const { id, method, params } = call;
      const text = JSON.stringify({ jsonrpc: '2.0', id, method, params });
      if (calls.length > 0 && chars + text.length > this.options.maxChars) break;
      calls.push(call);
      parts.push(text);
      chars += text.length + 1;
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
    const text = parts.length === 1 ? `${parts[0]}\n` : `[${parts.join(',')}]\n`;
    if (this.open) this.socket!.write(text);
    else {
      this.outbox.push(text);
      if (this.socket === undefined) this.connect();
    }
  }

  private connect(): void {
    const { dial } = this.options;
    const colon = dial.lastIndexOf(':');
    const host = dial.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    const socket = connect({ host, port: Number(dial.slice(colon + 1)), noDelay: true });
    socket.setKeepAlive(true, 30_000);
    this.socket = socket;
    this.open = false;
    socket.write(this.options.upgradeRequest);
    const reader = new FrameReader(MAX_REPLY_BYTES, (frame) => this.onReply(frame));
    let head = Buffer.alloc(0);
    let refusal: number | undefined;
    socket.on('data', (chunk: Buffer) => {
      if (socket !== this.socket) return;
      if (this.open) {
        if (!reader.push(chunk))
          this.breakWith(`${this.peer} sent a reply frame over ${MAX_REPLY_BYTES} bytes`);
        return;
      }
      if (refusal !== undefined) {
        // The reason for a refusal: kept up to a bound, the rest dropped until the peer closes.
        if (head.length <= MAX_HEAD_BYTES) head = Buffer.concat([head, chunk]);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) {
        if (head.length > MAX_HEAD_BYTES)
          this.breakWith(`${this.peer} did not answer the peer stream request`);
        return;
      }
      const answer = head.subarray(0, end).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
      if (status !== 101) {
        refusal = status; // the reason follows as the body; the peer then closes the connection
        head = head.subarray(end + 4);
        return;
      }
      // A peer names its cluster as it switches (one of an older kvdb names none and is taken).
      const theirs = headerOf(answer, PEER_CLUSTER_HEADER);
      if (theirs !== undefined && theirs !== this.options.cluster) {
        const foreign = new InvalidRequestError(otherCluster(this.peer, theirs, this.options.cluster));
        this.options.onAnswer(status, foreign);
        this.fail(() => foreign);
        return;
      }
      this.open = true;
      this.options.onAnswer(status);
      const rest = head.subarray(end + 4);
      head = Buffer.alloc(0);
      socket.write(this.outbox.join(''));
      this.outbox = [];
      if (rest.length > 0 && !reader.push(rest)) {
        this.breakWith(`${this.peer} sent a reply frame over ${MAX_REPLY_BYTES} bytes`);
      }
    });
    socket.on('error', (error: Error & { code?: string }) => {
      if (socket !== this.socket) return;
      const reason = error.message || error.code || 'connection error';
      this.fail(
        (call) => new ConnectionError(`${call.method} to ${this.peer} failed: ${reason}`, { cause: error }),
      );
    });
    socket.on('close', () => {
      if (socket !== this.socket) return;
      if (refusal !== undefined) {
        const refused = refusedBy(this.peer, refusal, head);
        this.options.onAnswer(refusal, refused);
        this.fail(() => refused);
      } else {
        this.fail(
          (call) => new ConnectionError(`${call.method} to ${this.peer} failed: the connection closed`),
        );
      }
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

  private breakWith(reason: string): void {
    this.fail((call) => new ConnectionError(`${call.method} to ${this.peer} failed: ${reason}`));
  }

  /** Closes the stream and fails every call sent on it; calls still queued go on a new stream. */
  private fail(errorFor: (call: QueuedCall) => KVError): void {
    const socket = this.socket;
    this.socket = undefined;
    this.open = false;
    this.outbox = [];
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

/** The value of header `name` in an HTTP response head, or undefined when it has none. */
function headerOf(head: string, name: string): string | undefined {
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name) return line.slice(colon + 1).trim();
  }
  return undefined;
}

/** The error for a peer that refused the stream: its JSON-RPC error (401 → unauthorised) or its HTTP status. */
function refusedBy(peer: MemberAddress, status: number, body: Buffer): KVError {
  try {
    const { error } = JSON.parse(body.toString('utf8')) as RpcReply;
    if (error !== undefined) return errorFromRpc(error);
  } catch {
    // not JSON: say what the status was
  }
  return new ConnectionError(`${peer} refused the peer stream: HTTP ${Number.isNaN(status) ? '?' : status}`);
}
