import type { Logger, PeerCallOptions, PeerTransport } from '@kvdb/coordinator';
import {
  ConnectionError,
  DEFAULT_MAX_BATCH,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type KVError,
  type MemberAddress,
  type PeerMethod,
  type PeerParams,
  type PeerResult,
} from '@kvdb/core';
import { clusterName, DEFAULT_CLUSTER_NAME } from './config.js';
import type { TlsOptions } from './node-tls.js';
import { PeerLink } from './peer-link.js';
import { PEER_CLUSTER_HEADER, PEER_NODE_HEADER, PEER_PROTOCOL } from './peer-stream.js';

export interface StreamPeerTransportInit {
  /**
   * The peer credential (`--peer-token`, else the auth token), sent as `Authorization: Bearer …` when opening a
   * stream. @default undefined (none sent)
   */
  peerToken?: string;
  /** This node's address, sent when opening a stream so that a peer refusing it can name it. @default none sent */
  self?: MemberAddress;
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
   * @default DEFAULT_MAX_BODY_BYTES and DEFAULT_MAX_BATCH
   */
  maxFrameBytes?: number;
  maxBatch?: number;
  /**
   * Dial peers with TLS: the CA that verifies them (against the address dialled) and this node's certificate and
   * key, presented to peers that require client certificates. Asked at each dial, so a reload reaches new
   * connections. @default undefined: plain TCP
   */
  tls?: () => TlsOptions;
}

const MEMBERSHIP_METHODS: ReadonlySet<string> = new Set(['peer.ping', 'peer.ping_req', 'peer.sync']);

/** Most calls in one frame. */
const MAX_CALLS_PER_FRAME = 256;

/**
 * Most frames of replica calls in flight to one peer. Calls made while that many are out wait for the next, so
 * under load frames grow instead of multiplying (group commit); with nothing in flight a call leaves at once.
 */
const MAX_FRAMES_IN_FLIGHT = 4;

/**
 * Peer calls over peer streams (see peer-stream.ts): per peer, one connection for replica calls, batched into
 * frames, and one for membership calls (probes, syncs), so a probe never waits behind a backlog of data. It is also
 * how a tool or test calls a node's `peer.` methods (POST `/` refuses them): with the peer token, as a node does.
 */
export class StreamPeerTransport implements PeerTransport {
  private readonly links = new Map<string, PeerLink>();
  private readonly routes: ReadonlyMap<MemberAddress, string>;
  private readonly cluster: string;
  /** The headers of every request to switch protocols. */
  private readonly headers: Readonly<Record<string, string>>;
  private readonly logger: Logger | undefined;
  /** Per peer, the last refusal reported, so a peer that keeps refusing is reported once. */
  private readonly refusals = new Map<MemberAddress, string>();
  private readonly maxFrameBytes: number;
  private readonly maxBatch: number;
  private readonly tls: (() => TlsOptions) | undefined;
  private nextId = 1;
  private closed = false;

  constructor(init: StreamPeerTransportInit = {}) {
    this.routes = init.routes ?? new Map();
    this.cluster = clusterName(init.clusterName ?? DEFAULT_CLUSTER_NAME);
    this.headers = {
      connection: 'upgrade',
      upgrade: PEER_PROTOCOL,
      [PEER_CLUSTER_HEADER]: this.cluster,
      ...(init.self === undefined ? {} : { [PEER_NODE_HEADER]: init.self }),
      ...(init.peerToken === undefined ? {} : { authorization: `Bearer ${init.peerToken}` }),
    };
    this.logger = init.logger;
    this.maxFrameBytes = init.maxFrameBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.maxBatch = init.maxBatch ?? DEFAULT_MAX_BATCH;
    this.tls = init.tls;
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
      link = new PeerLink(to, {
        dial: this.routes.get(to) ?? to,
        cluster: this.cluster,
        headers: this.headers,
        onAnswer: (status, refusal) => this.answered(to, status, refusal),
        // Probes must never queue behind each other: an indirect probe waits for a third node.
        maxFramesInFlight: membership ? Number.POSITIVE_INFINITY : MAX_FRAMES_IN_FLIGHT,
        maxCalls: Math.min(MAX_CALLS_PER_FRAME, this.maxBatch),
        maxBytes: this.maxFrameBytes,
        tls: this.tls,
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
      // A 401 is told in this node's words; any other reason is the peer's own text: cut short, and without line
      // breaks that could forge log lines.
      const reason =
        status === 401
          ? `${peer} refused this node's peer token (every node of the cluster needs the same --peer-token)`
          : refusal.message.slice(0, 300).replace(/\p{Cc}+/gu, ' ');
      this.logger?.warn(`peer stream to ${peer} refused: ${reason}`);
    }
  }
}
