import { isIPv6 } from 'node:net';
import {
  DEFAULT_READ_REPAIR_CHANCE,
  DEFAULT_STREAM_THROUGHPUT,
  DEFAULT_TIMINGS,
  DEFAULT_TOMBSTONE_GRACE_MS,
  isTimingPreset,
  TIMING_PRESETS,
  type Timings,
} from '@kvdb/coordinator';
import {
  DEFAULT_HASHER,
  DEFAULT_HOST,
  DEFAULT_MAX_BATCH,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_KEY_BYTES,
  DEFAULT_MAX_VALUE_BYTES,
  DEFAULT_PORT,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_VNODES,
  formatAddress,
  type MemberAddress,
  parseAddress,
} from '@kvdb/core';
import { DEFAULT_FSYNC_INTERVAL_MS } from '@kvdb/store-level';
import type { LogFormat, LogLevel } from './logger.js';

/** Sizes a node refuses to go past; each refusal is a clear JSON-RPC error and changes nothing. */
export interface Limits {
  /** @default DEFAULT_MAX_KEY_BYTES */
  maxKeyBytes: number;
  /** @default DEFAULT_MAX_VALUE_BYTES */
  maxValueBytes: number;
  /** @default DEFAULT_MAX_BODY_BYTES */
  maxBodyBytes: number;
  /** @default DEFAULT_MAX_BATCH */
  maxBatch: number;
}

export interface NodeConfig {
  /** Interface to bind. @default DEFAULT_HOST */
  host: string;
  /** Port to listen on. @default DEFAULT_PORT */
  port: number;
  /**
   * The address other members know this node by: its identity on the ring. Required when `host` is a wildcard
   * (`0.0.0.0`, `::`), which names no address to reach. @default `host:port`
   */
  advertise: MemberAddress;
  /** Seed members (`host:port`); this node's own address may be among them. @default [] */
  members: MemberAddress[];
  /**
   * Replication factor, capped at the member count. Founding members bring it to a new cluster; a node given one
   * refuses to start if the cluster's differs (see `set_replicas`). @default undefined: the cluster's, else
   * DEFAULT_REPLICAS
   */
  replicas: number | undefined;
  /** Virtual nodes per member. @default DEFAULT_VNODES */
  vnodes: number;
  /** Ring hasher: any node:crypto digest. @default DEFAULT_HASHER */
  hasher: string;
  /** How long a request waits for its quorum, in ms. @default DEFAULT_REQUEST_TIMEOUT_MS */
  timeoutMs: number;
  /**
   * The share of reads that ask every replica, to repair those outside the quorum.
   * @default DEFAULT_READ_REPAIR_CHANCE (0)
   */
  readRepairChance: number;
  limits: Limits;
  /** Where the node keeps its data durably (LevelDB); without it the node is in memory. @default undefined */
  dataDir: string | undefined;
  /**
   * With a data dir: the longest an acknowledged write waits to be fsynced, in ms (see `DiskStoreOptions`); 0
   * fsyncs every commit before acknowledging it. @default DEFAULT_FSYNC_INTERVAL_MS (1000)
   */
  fsyncIntervalMs: number;
  /**
   * Bytes per second the node's background transfers (rebalancing, a leave's drain, hint replay, anti-entropy) send
   * together, on average (`--stream-throughput`, in MiB/s); 0 leaves them unthrottled.
   * @default DEFAULT_STREAM_THROUGHPUT (32 MiB/s)
   */
  streamThroughput: number;
  /** Tombstones older than this, held by every replica, are collected. @default DEFAULT_TOMBSTONE_GRACE_MS (1 hour) */
  tombstoneGraceMs: number;
  /** Dial these members at another address (a proxy): `member → host:port`. For fault-injection tests. @default none */
  routes: Map<MemberAddress, string>;
  /**
   * Every request on POST `/` must carry `Authorization: Bearer <token>`; so must a peer stream's request when no
   * `peerToken` is set. @default undefined
   */
  authToken: string | undefined;
  /**
   * The peer credential: a peer stream (the only way to the `peer.` methods) must be asked for with
   * `Authorization: Bearer <peerToken>`, and this node opens its own with it. Give every node of the cluster the
   * same one, and no client. @default undefined: the peer credential is `authToken` (clients holding it can open
   * peer streams)
   */
  peerToken: string | undefined;
  /**
   * Names the cluster: a peer stream from a node of another cluster is refused, and so is a data dir written by
   * one. 1 to 64 printable ASCII characters, not starting or ending with a space. @default DEFAULT_CLUSTER_NAME
   */
  clusterName: string;
  /**
   * Failure detection and repair intervals: a preset name (`local`, `lan`) or the numbers (the rest from the
   * default preset). @default DEFAULT_TIMINGS
   */
  timings: Timings;
  /** @default DEFAULT_LOG_LEVEL */
  logLevel: LogLevel;
  /**
   * The node's certificate (a PEM file; the chain after it, if any): with `tlsKey`, the port speaks HTTPS to
   * clients and TLS to peers, and the node dials its peers with TLS, presenting it. @default undefined: plain HTTP
   */
  tlsCert: string | undefined;
  /** The private key of `tlsCert` (an unencrypted PEM file). @default undefined */
  tlsKey: string | undefined;
  /**
   * The CA certificates (a PEM file) that verify peers' certificates, and clients' under `tlsClientAuth`.
   * @default undefined: peers' certificates are verified against the system's CAs
   */
  tlsCa: string | undefined;
  /** Require a client certificate signed by `tlsCa` on every connection: mutual TLS. @default false */
  tlsClientAuth: boolean;
  /** `json` lines or `pretty` (readable) ones. @default undefined: pretty when stderr is a terminal, else json */
  logFormat: LogFormat | undefined;
}

export type NodeConfigInit = Partial<Omit<NodeConfig, 'limits' | 'timings' | 'routes'>> & {
  routes?: Iterable<[MemberAddress, string]>;
  limits?: Partial<Limits>;
  timings?: string | Partial<Timings>;
};

function resolveTimings(timings: NodeConfigInit['timings']): Timings {
  if (typeof timings === 'string') {
    if (!isTimingPreset(timings)) {
      throw new TypeError(
        `Expected \`timings\` to be one of ${Object.keys(TIMING_PRESETS).join(', ')}, got \`${timings}\``,
      );
    }
    return { ...TIMING_PRESETS[timings] };
  }
  return { ...TIMING_PRESETS[DEFAULT_TIMINGS], ...timings };
}

/** The defaults of a node's options that `@kvdb/core` and `@kvdb/coordinator` do not already name. */
export const DEFAULT_CLUSTER_NAME = 'kvdb';

export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

/** `startLocalCluster`'s defaults: three nodes that log only warnings, each given this long to be ready. */
export const LOCAL_CLUSTER_DEFAULTS = Object.freeze({
  nodes: 3,
  logLevel: 'warn' as LogLevel,
  readyTimeoutMs: 20_000,
});

/** What a cluster name may be: it travels in an HTTP header, which trims spaces at its ends. */
const CLUSTER_NAME = /^[!-~](?:[ -~]{0,62}[!-~])?$/;

/** Checks a cluster name (`--cluster-name`); a name that could not travel in a header is refused. */
export function clusterName(name: string): string {
  if (!CLUSTER_NAME.test(name)) {
    throw new TypeError(
      `Expected \`cluster-name\` to be 1 to 64 printable ASCII characters, not starting or ending with a space, got ${JSON.stringify(name)}`,
    );
  }
  return name;
}

/**
 * What a token may be: it travels in an HTTP header, as `Authorization: Bearer <token>`, which cannot carry a
 * control or non-ASCII character and trims spaces at its ends.
 */
const AUTH_TOKEN = /^[!-~](?:[ -~]*[!-~])?$/;

/**
 * Checks a token (`--auth-token`, `--peer-token`) without ever putting it in the message; an empty one is none.
 */
function checkedToken(name: string, token: string | undefined): string | undefined {
  if (token === '' || token === undefined) return undefined;
  if (!AUTH_TOKEN.test(token)) {
    throw new TypeError(
      `Expected \`${name}\` to be printable ASCII characters, not starting or ending with a space (it travels in an HTTP header); the one given has others (a line break from a file, say)`,
    );
  }
  return token;
}

/** `value` if it is an integer from `min` up; else an error that names the option. */
function integerFrom(min: number, name: string, value: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new TypeError(`Expected \`${name}\` to be an integer from ${min} and up, got \`${value}\``);
  }
  return value;
}

const positiveInteger = (name: string, value: number) => integerFrom(1, name, value);

/** `value` if it is a finite number from 0 up; else an error that names the option. */
function nonNegative(name: string, value: number): number {
  if (!(value >= 0 && Number.isFinite(value))) {
    throw new TypeError(`Expected \`${name}\` to be a number from 0 and up, got \`${value}\``);
  }
  return value;
}

/** `value` if it is a number from 0 to 1; else an error that names the option. */
function fraction(name: string, value: number): number {
  if (!(value >= 0 && value <= 1)) {
    throw new TypeError(`Expected \`${name}\` to be a number from 0 to 1, got \`${value}\``);
  }
  return value;
}

type TlsConfig = Pick<NodeConfig, 'tlsCert' | 'tlsKey' | 'tlsCa' | 'tlsClientAuth'>;

/** The TLS options, checked to go together: a certificate with its key, a CA and client auth only with both. */
function resolveTls(init: NodeConfigInit): TlsConfig {
  // An empty file name (an empty environment variable) is no file.
  const [tlsCert, tlsKey, tlsCa] = [init.tlsCert, init.tlsKey, init.tlsCa].map((file) => file || undefined);
  const tlsClientAuth = init.tlsClientAuth ?? false;
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    const [given, missing] = tlsCert === undefined ? ['tls-key', 'tls-cert'] : ['tls-cert', 'tls-key'];
    throw new TypeError(
      `\`${given}\` needs \`${missing}\`: give both (the certificate and its key), or neither for plain HTTP`,
    );
  }
  if (tlsCa !== undefined && tlsCert === undefined) {
    throw new TypeError(
      '`tls-ca` needs `tls-cert` and `tls-key`: a node speaks TLS only with a certificate of its own',
    );
  }
  if (tlsClientAuth && tlsCa === undefined) {
    throw new TypeError(
      '`tls-client-auth` needs `tls-ca`: the CA that signs the certificates clients and peers present',
    );
  }
  return { tlsCert, tlsKey, tlsCa, tlsClientAuth };
}

/** Whether `host` is a wildcard (every interface: `0.0.0.0`, `::`, and their other spellings), no address to reach. */
export function isWildcardHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  return bare === '' || /^0+(?:\.0+){0,3}$/.test(bare) || (isIPv6(bare) && /^[0:]+$/.test(bare));
}

/**
 * The address this node is known by: `advertise`, else `host:port`. A wildcard names no address the other members
 * could reach, and both `0.0.0.0:P` on one node and the address a peer's `-C` names it by would become members.
 */
function advertised(init: NodeConfigInit, host: string, port: number): MemberAddress {
  if (init.advertise === undefined) {
    if (isWildcardHost(host)) {
      throw new TypeError(
        `--host ${host} listens on every interface, so it names no address the other members could reach this node at: give --advertise HOST:PORT, the one they should use (say --advertise 10.0.0.5:${port}), and name it so in their -C`,
      );
    }
    return parseAddress(formatAddress(host, port)).address;
  }
  const advertise = parseAddress(init.advertise);
  if (isWildcardHost(advertise.host)) {
    throw new TypeError(
      `Expected \`advertise\` to be an address the other members can reach this node at, got \`${init.advertise}\`, a wildcard: name one of this machine's addresses or DNS names (say --advertise 10.0.0.5:${port})`,
    );
  }
  return advertise.address;
}

/** Fills in defaults once and checks every option, so a bad flag fails at start with a message that names it. */
export function resolveConfig(init: NodeConfigInit = {}): NodeConfig {
  const host = init.host ?? DEFAULT_HOST;
  const port = init.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new TypeError(`Expected \`port\` to be an integer from 1 to 65535, got \`${port}\``);
  }
  const advertise = advertised(init, host, port);
  const tls = resolveTls(init);
  return {
    host,
    port,
    advertise,
    members: (init.members ?? []).map((member) => parseAddress(member).address),
    replicas: init.replicas === undefined ? undefined : positiveInteger('replicas', init.replicas),
    vnodes: positiveInteger('vnodes', init.vnodes ?? DEFAULT_VNODES),
    hasher: init.hasher ?? DEFAULT_HASHER,
    timeoutMs: positiveInteger('timeout', init.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS),
    readRepairChance: fraction('read-repair-chance', init.readRepairChance ?? DEFAULT_READ_REPAIR_CHANCE),
    limits: {
      maxKeyBytes: positiveInteger('max-key-bytes', init.limits?.maxKeyBytes ?? DEFAULT_MAX_KEY_BYTES),
      maxValueBytes: positiveInteger(
        'max-value-bytes',
        init.limits?.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES,
      ),
      maxBodyBytes: positiveInteger('max-body-bytes', init.limits?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES),
      maxBatch: positiveInteger('max-batch', init.limits?.maxBatch ?? DEFAULT_MAX_BATCH),
    },
    streamThroughput: nonNegative('stream-throughput', init.streamThroughput ?? DEFAULT_STREAM_THROUGHPUT),
    tombstoneGraceMs: positiveInteger('tombstone-grace', init.tombstoneGraceMs ?? DEFAULT_TOMBSTONE_GRACE_MS),
    routes: new Map(
      [...(init.routes ?? new Map())].map(([member, via]) => [
        parseAddress(member).address,
        parseAddress(via).address,
      ]),
    ),
    dataDir: init.dataDir,
    fsyncIntervalMs: integerFrom(0, 'fsync-interval', init.fsyncIntervalMs ?? DEFAULT_FSYNC_INTERVAL_MS),
    authToken: checkedToken('auth-token', init.authToken),
    peerToken: checkedToken('peer-token', init.peerToken),
    clusterName: clusterName(init.clusterName ?? DEFAULT_CLUSTER_NAME),
    timings: resolveTimings(init.timings),
    logLevel: init.logLevel ?? DEFAULT_LOG_LEVEL,
    ...tls,
    logFormat: init.logFormat,
  };
}
