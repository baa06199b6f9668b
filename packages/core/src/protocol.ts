/**
 * The wire protocol shared by client and server: JSON-RPC 2.0 over HTTP POST `/`. Params may be named
 * (`{"key": "a"}`) or positional (`["a"]`, in the order `PARAM_ORDER` gives).
 */
import type { ClusterStatus, RequestCounts } from './cluster-status.js';
import type { MemberInfo } from './member.js';
import type { JsonValue, KVRecord } from './record.js';

/**
 * How many of a key's replicas an operation waits for: one, a majority (`quorum`), or all of them; or `serial`, a
 * consensus round among a majority that makes the operation linearizable with every other serial one on the key.
 */
export type Consistency = 'one' | 'quorum' | 'all' | 'serial';
export const CONSISTENCY_LEVELS: readonly Consistency[] = ['one', 'quorum', 'all', 'serial'];

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
  /** Store only if the key holds no value (Redis `SET NX`): a serial operation, answering whether it stored. */
  ifAbsent?: boolean;
  /** Store only if the key holds a value (Redis `SET XX`): a serial operation, answering whether it stored. */
  ifPresent?: boolean;
  /**
   * The write's version, `wall.counter@writer` (see `parseStamp`; the counter at most `MAX_STAMP_COUNTER`), at most 1 s (`MAX_CLOCK_SKEW_MS`) ahead of the node's
   * clock; left out, the node stamps the write. The same stamp sent again is a no-op, so a client may retry the write.
   */
  stamp?: string;
}
/** A compare-and-set: always a serial operation. */
export interface CasParams {
  key: string;
  value: JsonValue;
  /** Store `value` only if the key's value deep-equals this; left out, only if the key holds no value. */
  expected?: JsonValue;
  /** Seconds until the value expires, as `set` takes it. */
  ttl?: number;
}
/** What a compare-and-set answers; `V` is how values are held (the coordinator holds their JSON text). */
export interface CasResult<V = JsonValue> {
  /** Whether `value` was stored. */
  swapped: boolean;
  /** Whether the key held a value before. */
  exists: boolean;
  /** The key's value after the operation (`null` when it holds none). */
  current: V;
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
export interface MgetParams {
  keys: string[];
  consistency?: Consistency;
}
export interface MsetParams {
  /** `[key, value]` pairs, each key once. */
  entries: Array<[string, JsonValue]>;
  consistency?: Consistency;
  /** One version for every entry, as `set` takes it. */
  stamp?: string;
}

/**
 * The `data` of a failed `mget` or `mset`: each key that failed, in the order given, with where it was in the
 * call and its own error's code and message. The keys of an `mset` that are not listed were written.
 */
export interface MultiKeyFailure {
  operation: 'mget' | 'mset';
  /** The keys the call had (each counted once). */
  keys: number;
  failedKeys: Array<{ index: number; key: string; code: number; reason: string }>;
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

/**
 * What `ring` answers: the ring that serves reads on the node that answered. A client builds
 * `new HashRing(members, { vnodes, hasher: cryptoHasher(hasher) })`, checks that its `id` equals `id`, and then
 * `preferenceList(key, replicas)` names the same replicas as `locate`, primary first.
 */
export interface RingInfo {
  /** The node that answered. */
  self: string;
  /** The ring's id (`HashRing.id`): equal on every node with the same members, vnodes and hasher. */
  id: string;
  /** The members on the ring, dead ones included (they still own their ranges), sorted. */
  members: string[];
  vnodes: number;
  /** The node:crypto digest that places keys and tokens. */
  hasher: string;
  /** The cluster's replication factor: a key's first `replicas` members on the ring are its replicas. */
  replicas: number;
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
  /** Client requests answered since the node started (filled in by the server). */
  requests?: RequestCounts;
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
  /** `true`; with `ifAbsent` or `ifPresent`, whether it stored. */
  set: [SetParams, boolean];
  cas: [CasParams, CasResult];
  has: [HasParams, boolean];
  pop: [PopParams, JsonValue];
  ttl: [TtlParams, TtlResult];
  /** Without `limit` and `cursor`: every live key (`string[]`); with either: one `KeyPage`. */
  list_keys: [ListKeysParams, string[] | KeyPage];
  /** The keys' values in order, `null` for a key that holds none. */
  mget: [MgetParams, JsonValue[]];
  /** Writes every entry; not atomic: a failure names the keys that failed, and the others stay written. */
  mset: [MsetParams, true];
  list_members: [Record<string, never>, MemberInfo[]];
  locate: [LocateParams, string[]];
  /** The ring that serves reads, as a client needs it to compute each key's replicas as `locate` does. */
  ring: [Record<string, never>, RingInfo];
  stats: [Record<string, never>, NodeStats];
  /** The node's view of the cluster: members with their counters and ring shares, and recent events. */
  cluster_status: [Record<string, never>, ClusterStatus];
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
    set: ['key', 'value', 'consistency', 'ttl', 'ifAbsent', 'ifPresent', 'stamp'],
    cas: ['key', 'value', 'expected', 'ttl'],
    has: ['key', 'consistency'],
    pop: ['key', 'default', 'consistency'],
    ttl: ['key', 'consistency'],
    list_keys: ['prefix', 'limit', 'cursor'],
    mget: ['keys', 'consistency'],
    mset: ['entries', 'consistency', 'stamp'],
    list_members: [],
    locate: ['key'],
    ring: [],
    stats: [],
    cluster_status: [],
    leave: ['address'],
    set_replicas: ['replicas'],
  };

export const PUBLIC_METHODS = Object.keys(PARAM_ORDER) as PublicMethod[];
