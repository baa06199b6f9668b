/**
 * What `cluster_status` answers: one node's view of the whole cluster, for the cluster page and for tools that
 * watch a cluster (members with their state and counters, each one's part of the ring, recent events).
 */
import type { MemberInfo } from './member.js';
import type { NodeStats } from './protocol.js';

/**
 * Client requests a node has answered on POST `/` since it started (a batch counts once). Counters only: a rate or
 * a mean latency is the difference of two readings, divided by the `uptimeMs` between them.
 */
export interface RequestCounts {
  /** Requests answered. */
  total: number;
  /** Requests answered with an error (for a batch: any of its members). */
  errors: number;
  /** Milliseconds spent answering them, from a request's body read to its reply, summed. */
  totalMs: number;
  /**
   * Single-key requests (`get`, `set`, `has`, `pop`, `cas`, `ttl`) this node coordinated as one of the key's
   * replicas, and as a node that holds none of it (which costs a hop to a replica more): a client that routes by key
   * sends nearly all to a replica.
   */
  coordinated?: { replica: number; other: number };
}

/** One member of the cluster as `cluster_status` shows it. */
export interface ClusterMember extends MemberInfo {
  /**
   * The fraction of ring positions (0 to 1) whose primary replica is this member, on the ring that serves reads;
   * 0 for a member on none (still joining). The shares of the members on the ring add up to 1.
   */
  share: number;
  /**
   * The ring positions it is primary for, as fractions of the ring, `[start, end)`, in ring order. A ring with many
   * tokens is drawn coarser (at most `MAX_RING_ARCS` arcs in all); `share` stays exact.
   */
  arcs: Array<[number, number]>;
  /** Its counters, as its own `stats` gives them; null when it did not answer in time (or is known to be down). */
  stats: NodeStats | null;
}

export type ClusterEventKind = 'node' | 'member' | 'phase' | 'moves' | 'replication';

/** Something that changed in the cluster, as the node that reports it saw it happen. */
export interface ClusterEvent {
  /** When the node saw it: milliseconds since the epoch, by its clock. */
  at: number;
  kind: ClusterEventKind;
  /** The member it is about, if one. */
  address?: string;
  /** A line for people: what happened. */
  message: string;
}

export interface ClusterStatus {
  /** The node that answered: its view of the cluster. */
  self: string;
  /** When it answered: milliseconds since the epoch, by its clock. */
  at: number;
  /** The replication factor in force, and the one a change under way moves to. */
  replication: { replicas: number; target?: number };
  /** Every member that has not left, by address. */
  members: ClusterMember[];
  /** The ring that serves reads: its id (equal on every node that agrees on it) and tokens per member. */
  ring: { id: string; vnodes: number };
  /** The latest changes the node saw, oldest first (at most `MAX_CLUSTER_EVENTS`). */
  events: ClusterEvent[];
}

/** Most arcs a `cluster_status` draws the ring with. */
export const MAX_RING_ARCS = 1024;

/** Most events a node keeps for `cluster_status`. */
export const MAX_CLUSTER_EVENTS = 100;
