/**
 * The wire protocol shared by client and server: JSON-RPC 2.0 over HTTP POST `/`. Params may be named
 * (`{"key": "a"}`) or positional (`["a"]`, in the order `PARAM_ORDER` gives).
 */
import type { MemberInfo, MemberState } from './member.js';
import type { JsonValue, KVRecord } from './record.js';
import type { ReplicationSetting } from './replication.js';
import type { Version } from './version.js';

export type Consistency = 'one' | 'quorum' | 'all';
export const CONSISTENCY_LEVELS: readonly Consistency[] = ['one', 'quorum', 'all'];

export interface GetParams {
  key: string;
  default?: JsonValue;
  consistency?: Consistency;
}
export interface SetParams {
  key: string;
  value: JsonValue;
  consistency?: Consistency;
  /** Seconds until the value expires (above 0, at most `MAX_TTL_SECONDS`); leave out to keep it until overwritten. */
  ttl?: number;
}
export interface HasParams {
  key: string;
  consistency?: Consistency;
}
export interface PopParams {
  key: string;
  default?: JsonValue;
  consistency?: Consistency;
}
export interface TtlParams {
  key: string;
  consistency?: Consistency;
}

/** What `ttl` answers: whether the key holds a value, and the seconds (ms precision) until it expires, or `null`. */
export interface TtlResult {
  exists: boolean;
  /** Seconds left, above 0; `null` when the value does not expire, or the key holds none. */
  ttl: number | null;
}

export interface LocateParams {
  key: string;
}
export interface ListKeysParams {
  /** Only keys that start with this. */
  prefix?: string;
  /** Return one page of at most this many keys (1 to `MAX_LIST_LIMIT`), as a `KeyPage`. */
  limit?: number;
  /** Continue after the page that returned this cursor. */
  cursor?: string;
}

/**
 * One page of a paged listing: keys in `compareKeys` order, then the cursor to pass for the next page, or `null`
 * when the listing is complete. A page may hold fewer than `limit` keys (none, even) and still not be the last.
 * The cursor is opaque: pass it back as it came.
 */
export interface KeyPage {
  keys: string[];
  cursor: string | null;
}

export interface LeaveParams {
  /** A member to remove for good while it is down; leave out to make the node that receives this leave. */
  address?: string;
}
export interface SetReplicasParams {
  /** The replication factor to move the cluster to: from 1 to the number of members. */
  replicas: number;
}

export interface SetReplicasResult {
  /** The factor in force now, on every member that has heard. */
  replicas: number;
  /** The factor in force before the change. */
  previous: number;
}

export interface LeaveResult {
  left: string;
  /** Records this node handed to their new owners before answering (0 when removing another member). */
  handedOff: number;
}

export interface NodeStats {
  address: string;
  /** Live keys stored on this node (as one of their replicas), expired ones included until they are collected. */
  keys: number;
  tombstones: number;
  /** Writes held for replicas that missed them (hinted handoff). */
  hints: number;
  members: number;
  replicas: number;
  uptimeMs: number;
  version: string;
  /** The node process's memory, in bytes: resident set, and the JavaScript heap in use (filled in by the server). */
  memory?: { rss: number; heapUsed: number };
  /** What anti-entropy has done since the node started (filled in by the server). */
  antiEntropy?: AntiEntropyStats;
  /** The moves under way (members joining or leaving) and this node's part in them (filled in by the server). */
  handoff?: HandoffStats;
  /**
   * How late the node's event loop ran work since the process started (filled in by the server): the longest any
   * one piece of work held every request up, and the 99th percentile.
   */
  eventLoop?: { maxDelayMs: number; p99DelayMs: number };
  /**
   * The cluster's replication factor (`replicas` is it capped at the member count), and the factor a change under
   * way moves to (filled in by the server).
   */
  replication?: { replicas: number; target?: number };
}

/** Members joining or leaving, and the data this node fetches for the ranges it is about to own. */
export interface HandoffStats {
  /** Members still joining (their ranges are served by the members that held them before). */
  joining: string[];
  /** Members still leaving (they serve their ranges until the new owners hold them). */
  leaving: string[];
  /** Ring segments this node is about to own, and how many of them it holds the data of already. */
  segments: { pending: number; done: number };
  /** Records and bytes this node has fetched for its pending segments since it started. */
  keysFetched: number;
  bytesFetched: number;
  /** Bytes per second of the fetch under way (0 when none is). */
  bytesPerSecond: number;
}

/** What `peer.stream` asks a replica for: its records in some segments of a ring, after a key, a page at a time. */
export interface StreamParams {
  /** The id of the ring of every member that has not left: segment numbers are its. */
  ring: string;
  segments: number[];
  /** Exclusive: the `next` of the previous page. */
  after?: string;
  /** Most bytes of records in the page (about): at least one record is sent. */
  maxBytes?: number;
}

export interface StreamReply {
  entries: Array<[string, KVRecord]>;
  /** The entries' bytes as the sender counted them against its throttle (see `entryBytes`). */
  bytes: number;
  /** Where the next page starts, or null when the replica has sent every record of the segments. */
  next: string | null;
}

/** Anti-entropy's counters on one node. */
export interface AntiEntropyStats {
  rounds: number;
  /** Peer comparisons that found every shared segment equal at the first (root) exchange. */
  inSync: number;
  /** Peer comparisons whose differences were gone when looked at again: writes that were still on their way. */
  settled: number;
  segmentsRepaired: number;
  keysPulled: number;
  keysPushed: number;
  /** Milliseconds the last round spent reading this node's keys (0 when it had nothing to repair). */
  scanMs: number;
}

/** Public methods: name → [params, result]. */
export interface PublicMethods {
  ping: [Record<string, never>, 'pong'];
  get: [GetParams, JsonValue];
  set: [SetParams, true];
  has: [HasParams, boolean];
  pop: [PopParams, JsonValue];
  ttl: [TtlParams, TtlResult];
  /** Without `limit` and `cursor`: every live key (`string[]`); with either: one `KeyPage`. */
  list_keys: [ListKeysParams, string[] | KeyPage];
  list_members: [Record<string, never>, MemberInfo[]];
  locate: [LocateParams, string[]];
  stats: [Record<string, never>, NodeStats];
  leave: [LeaveParams, LeaveResult];
  /** Changes the cluster's replication factor; answers once every new replica holds its data. */
  set_replicas: [SetReplicasParams, SetReplicasResult];
}

export type PublicMethod = keyof PublicMethods;

/** Positional order of each public method's params. */
export const PARAM_ORDER: { readonly [M in PublicMethod]: readonly (keyof PublicMethods[M][0] & string)[] } =
  {
    ping: [],
    get: ['key', 'default', 'consistency'],
    set: ['key', 'value', 'consistency', 'ttl'],
    has: ['key', 'consistency'],
    pop: ['key', 'default', 'consistency'],
    ttl: ['key', 'consistency'],
    list_keys: ['prefix', 'limit', 'cursor'],
    list_members: [],
    locate: ['key'],
    stats: [],
    leave: ['address'],
    set_replicas: ['replicas'],
  };

export const PUBLIC_METHODS = Object.keys(PARAM_ORDER) as PublicMethod[];

/** One key's newest version as a replica reports it when listing: `[key, version, deleted]`. */
export type KeyVersion = [key: string, version: Version, deleted: boolean];

/** What `peer.keys` asks a replica for: its first `limit` keys after `after` that start with `prefix`. */
export interface KeyScanParams {
  prefix?: string;
  /** Exclusive. */
  after?: string;
  /** @default MAX_LIST_LIMIT */
  limit?: number;
}

/**
 * What `peer.ring_keys` asks a replica for: its keys at the given ring positions, in ring order (by position, then
 * by key), as *ring keys*: the position as 12 hex digits, then the key, so that ring order is their `compareKeys`
 * order.
 */
export interface RingKeysParams {
  /** Ranges of positions, both ends included, lowest first. */
  ranges: Array<[number, number]>;
  /** Only keys after this ring key (exclusive). */
  after?: string;
  prefix?: string;
  limit: number;
}

export interface RingKeysReply {
  /** `[ringKey, version, deleted]`, in ring order. */
  heads: KeyVersion[];
  /**
   * Where the replica stopped before the end of the ranges (the last ring key it read, having found `limit` keys
   * or read as many as one call may): it vouches for nothing after it. Null when it reported every key.
   */
  stop: string | null;
}

/**
 * What a replica says to a put: stored (or it already had this very version), or not stored because it holds a
 * newer version, which it names so the coordinator can stamp past it.
 */
export type PutResult = { stored: true } | { stored: false; newer: Version };

/** A SWIM probe: the sender's own state and the membership news it piggybacks. */
export interface PingParams {
  from: MemberState;
  updates: MemberState[];
}

export interface GossipReply {
  updates: MemberState[];
}

export interface SyncParams {
  members: MemberState[];
  replication?: ReplicationSetting;
  /** The sender's wall clock when it sent this, in ms: how nodes notice a peer's clock too far off their own. */
  time?: number;
}

/** A digest is two 32-bit halves of the XOR of the hashes of every record it covers. */
export type Digest = [number, number];

export interface DigestParams {
  /** The asking member: digests cover only the segments it shares with the answering one. */
  from: string;
  /**
   * The asker's digest index id (its ring's id and its record hash); another ring or another hash answers with no
   * digests, since they would not compare.
   */
  ring: string;
  /** Also list each segment's digest, not only their combination. */
  detail: boolean;
}

export interface DigestReply {
  /** The answering replica's digest index id: its digests compare with the asker's only if the two are equal. */
  ring: string;
  root: Digest;
  /** `[segment, high, low]` for each shared segment, when `detail` was asked. */
  segments?: Array<[number, number, number]>;
}

export interface GetManyParams {
  keys: string[];
  /**
   * Caps the reply: it stops before the record that would take it past this many bytes of JSON (it always holds
   * at least one), so it may answer fewer keys than asked, the first ones; the asker asks again for the rest.
   * @default no cap
   */
  maxBytes?: number;
}

/** What `peer.range` asks for: a replica's keys in some ring segments, all at once or a page at a time. */
export interface RangeParams {
  /** The asker's digest index id. */
  ring: string;
  segments: number[];
  /** Only keys after this one (exclusive): the last key of the page before. */
  after?: string;
  /**
   * Answer one page of at most this many keys; a shorter page is the last. Without `limit` and `after`, every
   * key at once. @default RANGE_PAGE when `after` is given
   */
  limit?: number;
}

/** Methods nodes call on each other, under the `peer.` prefix. */
export interface PeerMethods {
  'peer.ping': [PingParams, GossipReply];
  'peer.ping_req': [PingParams & { target: string }, GossipReply & { ack: boolean }];
  /** Push-pull of member lists, and of the replication setting (see `ReplicationSetting`) when the sender has one. */
  'peer.sync': [SyncParams, SyncParams];
  'peer.get': [{ key: string }, KVRecord | null];
  'peer.put': [{ key: string; record: KVRecord }, PutResult];
  'peer.get_many': [GetManyParams, Array<KVRecord | null>];
  'peer.put_many': [{ entries: Array<[string, KVRecord]> }, PutResult[]];
  /** A bounded page of the replica's keys, tombstones included, in `compareKeys` order. */
  'peer.keys': [KeyScanParams, KeyVersion[]];
  /** A bounded page of the replica's keys in some ranges of ring positions, tombstones included, in ring order. */
  'peer.ring_keys': [RingKeysParams, RingKeysReply];
  'peer.digest': [DigestParams, DigestReply];
  /**
   * The replica's keys in these segments of the ring named in `ring` (a digest index id), a page of them in
   * `compareKeys` order when `after` or `limit` is given; refused (unavailable) when it is on another ring.
   */
  'peer.range': [RangeParams, KeyVersion[]];
  /** Removes these tombstones, each only if it is still exactly that version; resolves with how many went. */
  'peer.purge': [{ entries: Array<[string, Version]> }, number];
  /**
   * A page of the replica's records in some segments of the ring of every member that has not left, for a member
   * about to own them; refused (unavailable) when the replica is on another ring.
   */
  'peer.stream': [StreamParams, StreamReply];
}

export type PeerMethod = keyof PeerMethods;
export type PeerParams<M extends PeerMethod> = PeerMethods[M][0];
export type PeerResult<M extends PeerMethod> = PeerMethods[M][1];
