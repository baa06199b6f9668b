/**
 * Every default of the coordinator package, in one place: the timing presets a node runs with, and the numbers its
 * parts fall back on when their init leaves an option out. Options resolve to these with `??`, once, in the
 * constructor of the part that takes them.
 */

/**
 * No read asks more replicas than it needs, by default: a read repairs the replicas it asked, hints and
 * anti-entropy bring the others up to date, and asking every replica on one read in ten cost a 3-node cluster
 * 7% of its quorum gets. Cassandra dropped its read_repair_chance in 4.0 for the same trade.
 */
export const DEFAULT_READ_REPAIR_CHANCE = 0;

/**
 * How old a tombstone must be before it may be collected (once every replica holds it); hints older than this are
 * dropped. A member down longer than this should rejoin with an empty data dir: one hour.
 */
export const DEFAULT_TOMBSTONE_GRACE_MS = 3_600_000;

/**
 * How far apart nodes' wall clocks may be, in ms. Each node decides with its own clock when a value with a ttl has
 * expired, so between the first node and the last to see it expire lies up to this much; versions stay ordered
 * whatever the clocks (they are hybrid logical clocks). A node logs a warning when a push-pull sync shows a peer's
 * clock further off than this: keep the clocks in step with NTP.
 */
export const MAX_CLOCK_SKEW_MS = 1_000;

/**
 * How long a leave waits for the new owners of the leaving member's ranges to confirm holding them; past it the
 * leave fails and the member stays leaving.
 */
export const DEFAULT_LEAVE_TIMEOUT_MS = 60_000;

/** How often a leave looks whether the new owners of its ranges hold them. */
export const MOVE_POLL_MS = 200;

/** Most replica calls a node has in flight at once, across all its requests. */
export const DEFAULT_CONCURRENCY = 512;

/** How long a failed quorum waits for answers still in flight, so its error counts every replica that acked. */
export const FAILURE_GRACE_MS = 50;

/**
 * A read asks only as many replicas as its consistency needs (this node first, when it is one); if they have not
 * settled it within this long, it asks the rest too, so one slow replica costs a read this much, not a timeout.
 */
export const READ_HEDGE_MS = 50;

/** Timeout of each call a background task (repair, handoff, collection, hint replay) makes. */
export const DEFAULT_TASK_TIMEOUT_MS = 5_000;

/** Records or keys in each batched call of a background task. */
export const DEFAULT_BATCH_SIZE = 500;

/**
 * Most bytes of records (their JSON, as UTF-8) in one batched call of a background transfer: rebalancing, hint
 * replay, range fetches, anti-entropy's pushes and the replies to its pulls; a single larger record goes alone.
 * Well under the peers' 8 MiB frame limit (`DEFAULT_MAX_BODY_BYTES`): each frame is parsed and stored in one turn
 * of the receiving node's event loop, and with 1 MB values a node moving 4 MiB frames held its requests up about
 * twice as long as with 1 MiB ones. Small records fill a batch by count (`DEFAULT_BATCH_SIZE`) long before this.
 */
export const DEFAULT_BATCH_BYTES = 1_048_576;

/**
 * Bytes per second that a node's background transfers (rebalancing, a leave's drain, hint replay, anti-entropy's
 * pushes and pulls) send together, on average: 32 MiB/s, after Cassandra's `stream_throughput_outbound`.
 */
export const DEFAULT_STREAM_THROUGHPUT = 32 * 1_048_576;

/** Key versions in one page of a `peer.range` reply: anti-entropy asks for a peer's keys a page at a time. */
export const RANGE_PAGE = 5_000;

/** How often a background task runs, unless its timings or its own default say otherwise. */
export const DEFAULT_TASK_INTERVAL_MS = 5_000;

/** Most hints kept per member; past it the oldest go, and anti-entropy repairs those keys. */
export const DEFAULT_MAX_HINTS_PER_MEMBER = 100_000;

/**
 * A segment that differs is looked at again after this long and repaired only if it still differs: a write still
 * on its way between two replicas makes their digests differ for a moment, a write one of them missed makes them
 * differ until repaired.
 */
export const DEFAULT_SETTLE_MS = 1_000;

/**
 * The pause after an anti-entropy round is at least this many times what the round's key scan took. Finding the
 * records of differing segments means reading every key (segments are hash ranges), and a peer reads its own as
 * well; on a large store under constant writes that would otherwise take most of a core.
 */
export const SCAN_PAUSE_FACTOR = 20;

/** Keys read between two turns of the event loop when scanning every key: a few milliseconds of work. */
export const SCAN_PAGE = 2_000;

/**
 * Most keys of a set of segments that anti-entropy takes from the ring order (`KeyPositions`) and sorts, rather
 * than scanning the store: sorting 20,000 keys takes a few ms. Segments that hold more differ on a large share of
 * the store, and a scan of it costs about what repairing them does.
 */
export const SEGMENT_GATHER_LIMIT = 20_000;

/**
 * Most keys a replica reads in ring order to answer one `peer.ring_keys` call, however few match its prefix; also
 * the most matches of a prefix it looks up in key order instead.
 */
export const RING_SCAN_LIMIT = 20_000;

/** Most keys a replica reads to answer one page of a stream, however few of them fall in the asked segments. */
export const STREAM_SCAN_LIMIT = 10_000;

/** Most membership updates piggybacked on one probe. */
export const MAX_PIGGYBACK = 8;

/**
 * How often a node probes, gossips and repairs, as presets rather than constants (after memberlist's
 * DefaultLocalConfig/DefaultLANConfig). Faster detection costs traffic and risks flagging a busy node.
 */
export interface Timings {
  /** How often this node probes one member (round-robin over a shuffled list). */
  probeIntervalMs: number;
  /** How long a direct probe waits for its ack before asking others to probe indirectly. */
  probeTimeoutMs: number;
  /** How many members are asked to probe a silent one before it is suspected. */
  indirectChecks: number;
  /**
   * How long a member stays suspect, unless it refutes, before it is declared dead, in a cluster of up to 10
   * members; it grows with log10 of the member count (see `suspicionTimeoutFor`), as a suspicion takes longer to
   * reach everyone in a larger cluster.
   */
  suspicionTimeoutMs: number;
  /**
   * How often this node exchanges its whole member list with one other (push-pull), dead ones included, in a
   * cluster of up to 32 members; it grows with log2 of the member count above that (see `syncIntervalFor`), as
   * each exchange carries the whole list.
   */
  syncIntervalMs: number;
  /** How many times each membership update is piggybacked, times log10(members + 1). */
  retransmitMultiplier: number;
  /** How often this node compares digests with each replica peer and repairs what differs. */
  antiEntropyIntervalMs: number;
  /** How often hints for reachable members are replayed (besides on the member turning alive). */
  hintReplayIntervalMs: number;
  /** How often keys this node no longer replicates are offered to their owners again, while any remain. */
  rebalanceIntervalMs: number;
}

/** One machine or a fast, quiet network: quick detection. */
export const LOCAL_TIMINGS: Readonly<Timings> = Object.freeze({
  probeIntervalMs: 400,
  probeTimeoutMs: 200,
  indirectChecks: 2,
  suspicionTimeoutMs: 1_500,
  syncIntervalMs: 3_000,
  retransmitMultiplier: 4,
  antiEntropyIntervalMs: 2_000,
  hintReplayIntervalMs: 1_000,
  rebalanceIntervalMs: 2_000,
});

/** A LAN, and the default: a node is suspected within about 2 s of going silent and declared dead about 4 s later. */
export const LAN_TIMINGS: Readonly<Timings> = Object.freeze({
  probeIntervalMs: 1_000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  suspicionTimeoutMs: 4_000,
  syncIntervalMs: 10_000,
  retransmitMultiplier: 4,
  antiEntropyIntervalMs: 5_000,
  hintReplayIntervalMs: 2_000,
  rebalanceIntervalMs: 5_000,
});

/** The presets by name, as `--timings` takes them. */
export const TIMING_PRESETS = Object.freeze({ lan: LAN_TIMINGS, local: LOCAL_TIMINGS });

export type TimingPreset = keyof typeof TIMING_PRESETS;

/** The preset a node runs with unless told otherwise: a LAN's. */
export const DEFAULT_TIMINGS: TimingPreset = 'lan';

export function isTimingPreset(name: string): name is TimingPreset {
  return Object.hasOwn(TIMING_PRESETS, name);
}

/**
 * The suspicion timeout in a cluster of `members`: the preset's × max(1, log10(members)), as memberlist scales its
 * own (SuspicionMult × log10(max(1, N)) × ProbeInterval). A suspicion reaches every member in O(log N) gossip
 * rounds, so a larger cluster gives a suspect as much more time to hear of it and refute; 4 s on a LAN becomes
 * 8 s at 100 members.
 */
export function suspicionTimeoutFor(timings: Pick<Timings, 'suspicionTimeoutMs'>, members: number): number {
  return Math.round(timings.suspicionTimeoutMs * Math.max(1, Math.log10(Math.max(1, members))));
}

/** Members up to which push-pull runs at the preset's interval (memberlist's pushPullScaleThreshold). */
export const SYNC_SCALE_THRESHOLD = 32;

/**
 * The push-pull interval in a cluster of `members`: the preset's up to 32 members, then × (⌈log2(members / 32)⌉ + 1),
 * as memberlist's pushPullScale does: each exchange carries the whole member list, so a cluster's push-pull traffic
 * would otherwise grow as N². 10 s on a LAN becomes 30 s at 100 members.
 */
export function syncIntervalFor(timings: Pick<Timings, 'syncIntervalMs'>, members: number): number {
  if (members <= SYNC_SCALE_THRESHOLD) return timings.syncIntervalMs;
  return timings.syncIntervalMs * (Math.ceil(Math.log2(members / SYNC_SCALE_THRESHOLD)) + 1);
}

/**
 * How long an acceptor keeps a key's Paxos state untouched before forgetting it (when nothing it accepted is
 * uncommitted); ballots older than half of it are refused, so a forgotten promise cannot let an old round through.
 * Far longer than a round (the request timeout) plus the clock skew nodes may have.
 */
export const PAXOS_STATE_TTL_MS = 10 * 60_000;

/**
 * Writes an acceptor notes per key (the version written, and the one it was decided on): how far back a proposer
 * that lost track of its own proposal can trace the key's writes to find what became of it.
 */
export const WRITE_NOTES = 16;

/** A serial round that meets a higher ballot waits a random time up to this, doubled each retry, before retrying. */
export const SERIAL_BACKOFF_MS = 2;
/** The most a serial round's backoff grows to. */
export const SERIAL_BACKOFF_MAX_MS = 100;
