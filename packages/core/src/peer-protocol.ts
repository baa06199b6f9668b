/**
 * The calls nodes make on each other (`peer.` methods): replica reads and writes, listings, membership gossip,
 * anti-entropy, range fetches and serial rounds.
 */
import type { MemberAddress, MemberState } from './member.js';
import type { NodeStats, StreamParams, StreamReply } from './protocol.js';
import type { KVRecord } from './record.js';
import type { ReplicationSetting } from './replication.js';
import type { Version } from './version.js';

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
  /**
   * The answering node's own address (the one it advertises): a reply to a call made to another address says that
   * address is another name of it.
   */
  from?: MemberAddress;
}

export interface SyncParams {
  members: MemberState[];
  replication?: ReplicationSetting;
  /** The sender's wall clock when it sent this, in ms: how nodes notice a peer's clock too far off their own. */
  time?: number;
  /** In a reply only: the answering node's own address (see `GossipReply.from`). */
  from?: MemberAddress;
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

/**
 * A proposal of a serial round (single-decree Paxos per key): the ballot it was accepted under, and the record it
 * writes (null for none: a round that only seals the ones before it).
 */
export interface Proposal {
  ballot: Version;
  record: KVRecord | null;
  /**
   * The version of the record the proposer decided on (null: the key held none): what tells a proposer whose own
   * proposal's fate it lost track of whether the write that followed was decided before or after its own.
   */
  basis?: Version | null;
}

/**
 * The latest proposal an acceptor committed (its ballot), and the latest one that wrote a record: the version it
 * wrote and the version it decided on.
 */
export interface CommitNote {
  ballot: Version;
  version: Version | null;
  basis: Version | null;
}

/** A write a serial round committed: the version it wrote, and the version it was decided on (null: none). */
export interface WriteNote {
  version: Version;
  basis: Version | null;
}

export interface PrepareParams {
  key: string;
  ballot: Version;
}

/**
 * An acceptor's promise not to accept a lower ballot, with what it accepted and committed last and the key's
 * record it holds; or a refusal naming the higher ballot it promised.
 */
export type PrepareReply =
  | {
      promised: true;
      accepted?: Proposal;
      committed?: CommitNote;
      /** The latest writes committed here, oldest first: each record version and the version it was decided on. */
      writes?: WriteNote[];
      current: KVRecord | null;
    }
  | { promised: false; newer: Version };

export interface ProposalParams {
  key: string;
  proposal: Proposal;
}

export type ProposeReply = { accepted: true } | { accepted: false; newer: Version };

/**
 * What a replica asked for a key's record with `known` (the version the asker holds) answers when its record has
 * that very version: the asker has the record already, so its value need not cross the network.
 */
export interface SameRecord {
  same: true;
}

/** Whether a `peer.get` answer is a `SameRecord`. */
export function isSameRecord(answer: unknown): answer is SameRecord {
  return typeof answer === 'object' && answer !== null && (answer as { same?: unknown }).same === true;
}

/** Methods nodes call on each other, under the `peer.` prefix. */
export interface PeerMethods {
  'peer.ping': [PingParams, GossipReply];
  'peer.ping_req': [PingParams & { target: string }, GossipReply & { ack: boolean }];
  /** Push-pull of member lists, and of the replication setting (see `ReplicationSetting`) when the sender has one. */
  'peer.sync': [SyncParams, SyncParams];
  /** The key's record; with `known`, a `SameRecord` instead when the record has that version (a digest read). */
  'peer.get': [{ key: string; known?: Version }, KVRecord | null | SameRecord];
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
  /** Paxos phase 1 for a serial round on one key. */
  'peer.prepare': [PrepareParams, PrepareReply];
  /** Paxos phase 2: accept the proposal unless a higher ballot was promised. */
  'peer.propose': [ProposalParams, ProposeReply];
  /** Applies a chosen proposal's record and notes its ballot as the latest committed. */
  'peer.commit': [ProposalParams, true];
  /**
   * A page of the replica's records in some segments of the ring of every member that has not left, for a member
   * about to own them; refused (unavailable) when the replica is on another ring.
   */
  'peer.stream': [StreamParams, StreamReply];
  /** The member's counters, as its `stats` gives them: what `cluster_status` shows of each member. */
  'peer.stats': [Record<string, never>, NodeStats];
}

export type PeerMethod = keyof PeerMethods;
export type PeerParams<M extends PeerMethod> = PeerMethods[M][0];
export type PeerResult<M extends PeerMethod> = PeerMethods[M][1];
