import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  ClusterNode,
  type Coordinator,
  DEFAULT_BATCH_BYTES,
  type HintLog,
  type Logger,
  type PeerTransport,
} from '@kvdb/coordinator';
import {
  cryptoHasher,
  type FillLog,
  MemoryStore,
  type PaxosLog,
  type ReplicationLog,
  type Store,
  type Version,
} from '@kvdb/core';
import { DiskStore } from '@kvdb/store-level';
import { isLoopback } from './auth.js';
import { ClusterView } from './cluster-view.js';
import { type NodeConfig, type NodeConfigInit, resolveConfig } from './config.js';
import { HttpFrontEnd } from './http-front-end.js';
import { JsonRpcDispatcher } from './json-rpc.js';
import { createLogger } from './logger.js';
import { METHODS, PUBLIC_METHODS, peerOnly } from './methods/index.js';
import { NodeMetrics } from './node-metrics.js';
import { NodeTls, readTlsFiles, tlsFilesOf } from './node-tls.js';
import { nodePages } from './pages/index.js';
import { PeerStreamServer } from './peer-stream-server.js';
import { StreamPeerTransport } from './stream-peer-transport.js';

/** The longest a stop waits for requests and peer frames in flight before it closes their connections. */
const STOP_DRAIN_MS = 5_000;

/** The longest a stop waits for background work to end before it closes the store anyway. */
const STOP_IDLE_WAIT_MS = 2_000;

export interface NodeComponents {
  /** This node's replica. @default a `MemoryStore`, or with `dataDir` the `DiskStore` that `KVNode.start` opens */
  store?: Store;
  /** Keeps hints durably. @default the `DiskStore` that `KVNode.start` opens, else hints live in memory */
  hintLog?: HintLog;
  /**
   * Keeps the cluster's replication setting across restarts. @default the `DiskStore` that `KVNode.start` opens,
   * else the node learns it from the cluster again
   */
  replicationLog?: ReplicationLog;
  /**
   * Keeps a range fetch's progress across restarts. @default the `DiskStore` that `KVNode.start` opens, else a
   * restarted node fetches its ranges from the start
   */
  fillLog?: FillLog;
  /**
   * Keeps serial rounds' promises across restarts. @default the `DiskStore` that `KVNode.start` opens, else a
   * node restarted in memory has forgotten its promises (see the README on serial operations)
   */
  paxosLog?: PaxosLog;
  /** @default a `StreamPeerTransport` */
  transport?: PeerTransport;
  /** @default one line per event on stderr, at `logLevel`, in `logFormat` */
  logger?: Logger;
  /** Called after this node has left the cluster through the `leave` method; the binary exits there. */
  onLeft?: () => void;
  /**
   * Called when the node refuses to take part in the cluster it joined (its `replicas` is not the cluster's), having
   * stopped its cluster work; the binary exits there. @default stops the node
   */
  onRefused?: (error: Error) => void;
}

/**
 * A kvdb node: a coordinator behind an HTTP front end (JSON-RPC 2.0 on POST `/`: the public methods) and a
 * peer-stream server (every method, the `peer.` ones included, for nodes holding the peer token), both on one port.
 * Start one with `KVNode.start`.
 */
export class KVNode {
  readonly config: NodeConfig;
  readonly cluster: ClusterNode;
  readonly coordinator: Coordinator;
  readonly log: Logger;
  /** The node's certificate and CA, with `--tls-cert`; undefined on a plain node. */
  private readonly tls: NodeTls | undefined;
  /** Counts and readings served at GET /metrics. */
  readonly metrics: NodeMetrics;
  private readonly front: HttpFrontEnd;
  private readonly peers: PeerStreamServer;
  private readonly transport: PeerTransport;
  private readonly store: Store;
  private readonly onRefused: (error: Error) => void;
  /** The start line's account of where the data is. */
  private storage: string;
  private stopStarted = false;
  /** The store closed by `stop` (for a store that cannot tell whether it is open). */
  private stopped = false;

  /** A node of a resolved config, not yet listening: `KVNode.start` resolves, opens the data dir and listens. */
  constructor(config: NodeConfig, components: NodeComponents = {}) {
    this.config = config;
    const { advertise, authToken, clusterName, limits } = config;
    // Without --peer-token the auth token is the peer credential, so a cluster set up with one token keeps working.
    const peerToken = config.peerToken ?? authToken;
    this.log = components.logger ?? createLogger(advertise, config.logLevel, { format: config.logFormat });
    this.store = components.store ?? new MemoryStore();
    this.storage = components.store === undefined ? 'in memory' : 'in the store given';
    const tlsFiles = tlsFilesOf(config);
    const tls = tlsFiles === undefined ? undefined : new NodeTls(tlsFiles, this.log);
    this.tls = tls;
    this.transport =
      components.transport ??
      new StreamPeerTransport({
        self: advertise,
        peerToken,
        clusterName,
        logger: this.log,
        routes: config.routes,
        maxFrameBytes: limits.maxBodyBytes,
        maxBatch: limits.maxBatch,
        tls: tls === undefined ? undefined : () => tls.clientOptions(),
      });
    this.cluster = new ClusterNode(
      {
        store: this.store,
        transport: this.transport,
        logger: this.log,
        hintLog: components.hintLog,
        replicationLog: components.replicationLog,
        fillLog: components.fillLog,
        paxosLog: components.paxosLog,
      },
      {
        self: advertise,
        seeds: config.members,
        vnodes: config.vnodes,
        hasher: cryptoHasher(config.hasher),
        replicas: config.replicas,
        timeoutMs: config.timeoutMs,
        readRepairChance: config.readRepairChance,
        timings: config.timings,
        tombstoneGraceMs: config.tombstoneGraceMs,
        streamThroughput: config.streamThroughput,
        // Each call of a background transfer within the frames the peers take.
        batchBytes: Math.min(DEFAULT_BATCH_BYTES, Math.floor(limits.maxBodyBytes / 2)),
      },
    );
    this.coordinator = this.cluster.coordinator;
    const view = new ClusterView({ node: this.cluster, transport: this.transport });
    const onLeft = components.onLeft ?? (() => {});
    this.onRefused = components.onRefused ?? (() => void this.stop({ announce: false }));
    const context = {
      node: this.cluster,
      coordinator: this.coordinator,
      peer: this.cluster.peerHandlers,
      limits,
      view,
      onLeft: () => setImmediate(onLeft),
    };
    this.metrics = new NodeMetrics(this.cluster);
    const dispatcher = new JsonRpcDispatcher(
      { methods: METHODS, context, logger: this.log, observer: this.metrics.peerObserver() },
      { maxBatch: limits.maxBatch },
    );
    const debug = config.logLevel === 'debug' ? this.log : undefined;
    const front = new JsonRpcDispatcher(
      { methods: PUBLIC_METHODS, context, logger: this.log, observer: this.metrics.clientObserver(debug) },
      { maxBatch: limits.maxBatch, whyNotFound: peerOnly },
    );
    const replica = this.coordinator.replica;
    const clock = { observe: (v: Version) => replica.observe(v), reading: () => replica.clockReading() };
    this.front = new HttpFrontEnd(
      { dispatcher: front, logger: this.log, clock, pages: nodePages(this), requests: view.requests },
      { authToken, maxBodyBytes: limits.maxBodyBytes, tls: tls?.serverOptions() },
    );
    this.peers = new PeerStreamServer(
      { dispatcher, logger: this.log },
      { address: advertise, clusterName, peerToken, maxFrameBytes: limits.maxBodyBytes },
    );
    this.front.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.peers.accept(req, socket as Socket, head),
    );
  }

  /** Starts a node (opening its data dir, if it has one) and resolves once it listens. */
  static async start(init: NodeConfigInit = {}, components: NodeComponents = {}): Promise<KVNode> {
    const config = resolveConfig(init);
    let node: KVNode;
    if (components.store === undefined && config.dataDir !== undefined) {
      // TLS files that cannot be used stop the start before a data dir is opened and loaded.
      const tlsFiles = tlsFilesOf(config);
      if (tlsFiles !== undefined) readTlsFiles(tlsFiles);
      const disk = await DiskStore.open(
        config.dataDir,
        { cluster: config.clusterName, address: config.advertise },
        { fsyncIntervalMs: config.fsyncIntervalMs },
      );
      node = new KVNode(config, {
        ...components,
        store: disk,
        hintLog: components.hintLog ?? disk,
        replicationLog: components.replicationLog ?? disk,
        fillLog: components.fillLog ?? disk,
        paxosLog: components.paxosLog ?? disk,
      });
      const { records, hints, ms } = disk.loaded;
      node.storage = `data in ${disk.dir} (${records} records and ${hints} hints loaded in ${(ms / 1_000).toFixed(1)} s)`;
    } else {
      node = new KVNode(config, components);
    }
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

  /** Whether a stop has begun (GET /ready answers 503 from then on). */
  get stopping(): boolean {
    return this.stopStarted;
  }

  /** Whether the store takes calls: not closed, and not failed (see `Store.isOpen`). */
  get storeOpen(): boolean {
    return this.store.isOpen?.() ?? !this.stopped;
  }

  /** The port actually bound (useful with port 0 in tests). */
  get port(): number {
    return this.front.port ?? this.config.port;
  }

  async listen(): Promise<void> {
    await this.front.listen(this.config.port, this.config.host);
    const members = this.coordinator.listMembers().length;
    this.log.info(
      `listening on ${this.config.host}:${this.port}: ${members} member(s), replicas ${this.coordinator.replicas}, ${this.storage}`,
    );
    if (this.tls !== undefined) {
      const clients = this.tls.clientAuth ? 'client certificates required' : 'no client certificates asked';
      this.log.info(`speaking TLS (${clients}): ${this.tls.summary}`);
    }
    // Under mutual TLS only holders of a certificate the CA signed get in, token or not.
    if (!isLoopback(this.config.host) && this.config.authToken === undefined && !this.config.tlsClientAuth) {
      this.log.warn(
        `listening on ${this.config.host} without --auth-token: anyone who can reach this port can read and change every key`,
      );
    }
    const { authToken, peerToken, tlsClientAuth } = this.config;
    if (
      !isLoopback(this.config.host) &&
      peerToken === undefined &&
      (authToken !== undefined || tlsClientAuth)
    ) {
      const credential = authToken !== undefined ? 'the token' : 'a certificate signed by --tls-ca';
      this.log.warn(
        `no --peer-token: clients holding ${credential} can open peer streams: set --peer-token on every node`,
      );
    }
    this.cluster.start().then(
      (answered) => {
        if (this.config.members.length === 0) return;
        if (answered > 0) this.log.info(`joined through ${answered} member(s)`);
        else this.log.info('no member answered yet: joining as they come up');
      },
      (error: Error) => this.onRefused(error),
    );
  }

  /**
   * Reads the TLS files again (what SIGHUP does): new connections, served and dialled, use the new certificate,
   * key and CA; open ones keep theirs. On failure the old ones stay in use and the error is logged. Returns
   * whether the new files are in use; false on a plain node.
   */
  reloadTls(): boolean {
    if (this.tls === undefined) {
      this.log.warn('TLS reload asked, but this node speaks plain HTTP (no --tls-cert): nothing to reload');
      return false;
    }
    if (!this.tls.reload()) return false;
    this.front.setSecureContext(this.tls.serverOptions());
    return true;
  }

  /**
   * Stops accepting requests, lets in-flight ones finish (at most `STOP_DRAIN_MS`), tells the members this node
   * is going down (unless it has left), closes connections, waits (at most `STOP_IDLE_WAIT_MS`) for background
   * work under way to end, then closes the store.
   */
  async stop({ announce = true } = {}): Promise<void> {
    this.stopStarted = true;
    const closed = this.front.close();
    this.peers.stop();
    for (
      let waited = 0;
      this.front.inFlight + this.peers.inFlight > 0 && waited < STOP_DRAIN_MS;
      waited += 20
    ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    this.front.closeAllConnections();
    this.peers.closeAll();
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
    this.stopped = true;
    this.log.info('stopped');
  }
}
