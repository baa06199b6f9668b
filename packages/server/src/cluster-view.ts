import type { ClusterNode, PeerTransport } from '@kvdb/coordinator';
import {
  type ClusterMember,
  type ClusterStatus,
  type HashRing,
  MAX_RING_ARCS,
  type MemberAddress,
  type NodeStats,
  type RingShare,
  ringShares,
} from '@kvdb/core';
import { ClusterEvents } from './cluster-events.js';
import { RequestCounter } from './request-counter.js';

/** How long `cluster_status` waits for a member's counters: a page polling once a second stays current. */
export const DEFAULT_STATS_TIMEOUT_MS = 750;

export interface ClusterViewComponents {
  node: ClusterNode;
  /** Asks the other members for their counters (`peer.stats`). */
  transport: PeerTransport;
}

export interface ClusterViewInit {
  /** How long to wait for each member's counters before showing it without them. @default DEFAULT_STATS_TIMEOUT_MS */
  statsTimeoutMs?: number;
}

/**
 * What the cluster page shows, gathered on one node: the members with their state, ring share and counters (each
 * asked for its own, at once), the node's recent events, and the requests it answered.
 */
export class ClusterView {
  readonly events: ClusterEvents;
  readonly requests = new RequestCounter();
  private readonly node: ClusterNode;
  private readonly transport: PeerTransport;
  private readonly statsTimeoutMs: number;
  /** The shares of the last ring drawn: rings change seldom, the page asks every second. */
  private shares: { ring: HashRing; shares: Map<MemberAddress, RingShare> } | undefined;

  constructor(components: ClusterViewComponents, init: ClusterViewInit = {}) {
    this.node = components.node;
    this.transport = components.transport;
    this.statsTimeoutMs = init.statsTimeoutMs ?? DEFAULT_STATS_TIMEOUT_MS;
    this.events = new ClusterEvents(components.node.membership);
  }

  /** The cluster as this node sees it; `own` is this node's counters. */
  async status(own: NodeStats): Promise<ClusterStatus> {
    const { membership } = this.node;
    const ring = membership.ring;
    const shares = this.sharesOf(ring);
    const states = membership.list().filter((member) => member.status !== 'left');
    const members = await Promise.all(
      states.map(async (member): Promise<ClusterMember> => {
        const { share, arcs } = shares.get(member.address) ?? { share: 0, arcs: [] };
        const stats =
          member.address === membership.self ? own : await this.statsOf(member.address, member.status);
        return { ...member, share, arcs, stats };
      }),
    );
    const { replicas, target } = this.node.replication.current;
    return {
      self: membership.self,
      at: Date.now(),
      replication: target === undefined ? { replicas } : { replicas, target },
      members,
      ring: { id: ring.id, vnodes: ring.vnodes },
      events: this.events.list(),
    };
  }

  /** A member's counters, or null when it is known to be down, or does not answer in time. */
  private async statsOf(address: MemberAddress, status: string): Promise<NodeStats | null> {
    if (status === 'dead') return null;
    try {
      return await this.transport.call(address, 'peer.stats', {}, { timeoutMs: this.statsTimeoutMs });
    } catch {
      return null;
    }
  }

  private sharesOf(ring: HashRing): Map<MemberAddress, RingShare> {
    if (this.shares?.ring !== ring) this.shares = { ring, shares: ringShares(ring, MAX_RING_ARCS) };
    return this.shares.shares;
  }
}
