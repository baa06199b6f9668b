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
  /** How long a member stays suspect, unless it refutes, before it is declared dead. */
  suspicionTimeoutMs: number;
  /** How often this node exchanges its whole member list with one other (push-pull), dead ones included. */
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

export const TIMING_PRESETS: Readonly<Record<string, Readonly<Timings>>> = Object.freeze({
  local: LOCAL_TIMINGS,
  lan: LAN_TIMINGS,
});
