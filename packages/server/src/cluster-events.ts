import type { Membership, Placement } from '@kvdb/coordinator';
import {
  type ClusterEvent,
  type ClusterEventKind,
  MAX_CLUSTER_EVENTS,
  type MemberAddress,
  type MemberPhase,
  type ReplicationSetting,
} from '@kvdb/core';

export interface ClusterEventsInit {
  /** Most events kept: older ones are dropped. @default MAX_CLUSTER_EVENTS */
  limit?: number;
  /** The time an event is stamped with, in ms since the epoch. @default Date.now */
  now?: () => number;
}

/**
 * The latest changes this node saw in the cluster, for the cluster page: members joining, changing status and
 * leaving, members' phases, moves starting and finishing, and replication changes. It listens to the membership
 * (it never asks anything of it on a request's path) and keeps a bounded list in memory, lost at a restart.
 */
export class ClusterEvents {
  private readonly events: ClusterEvent[] = [];
  private readonly limit: number;
  private readonly now: () => number;
  private readonly phases = new Map<MemberAddress, MemberPhase | undefined>();
  private moving: boolean;

  constructor(membership: Membership, init: ClusterEventsInit = {}) {
    this.limit = init.limit ?? MAX_CLUSTER_EVENTS;
    this.now = init.now ?? Date.now;
    for (const { address, phase } of membership.states()) this.phases.set(address, phase);
    this.moving = membership.placement.moving;
    membership.onChange(({ address, from, to }) => {
      if (from === undefined) this.add('member', `${address} joined the cluster (${to})`, address);
      else if (to === 'left') this.add('member', `${address} left the cluster`, address);
      else this.add('member', `${address} is ${to} (was ${from})`, address);
    });
    membership.onRingChange((placement) => this.ringChanged(membership, placement));
    membership.onReplicationChange((setting) => this.replicationChanged(setting));
    this.add('node', `${membership.self} started, knowing ${membership.states().length} member(s)`);
  }

  /** The events kept, oldest first. */
  list(): ClusterEvent[] {
    return this.events.map((event) => ({ ...event }));
  }

  private add(kind: ClusterEventKind, message: string, address?: MemberAddress): void {
    this.events.push(
      address === undefined ? { at: this.now(), kind, message } : { at: this.now(), kind, address, message },
    );
    if (this.events.length > this.limit) this.events.splice(0, this.events.length - this.limit);
  }

  private ringChanged(membership: Membership, placement: Placement): void {
    for (const { address, status, phase } of membership.states()) {
      const before = this.phases.get(address);
      this.phases.set(address, phase);
      // A seed first heard of as normal is no change of phase; a member that left is told of by its status.
      if (before === phase || status === 'left' || (before === undefined && phase === 'normal')) continue;
      this.add(
        'phase',
        `${address} is ${phase ?? 'normal'}${before === undefined ? '' : ` (was ${before})`}`,
        address,
      );
    }
    if (placement.moving === this.moving) return;
    this.moving = placement.moving;
    if (placement.moving) {
      const moving = placement.all.size - placement.read.size + placement.all.size - placement.future.size;
      const target = placement.target === undefined ? '' : `, replication moving to ${placement.target}`;
      this.add('moves', `data started moving: ${moving} member(s) joining or leaving${target}`);
    } else {
      this.add('moves', `data finished moving: ${placement.read.size} member(s) serve the ring`);
    }
  }

  private replicationChanged({ replicas, target }: ReplicationSetting): void {
    const change = target === undefined ? '' : `, changing to ${target}`;
    this.add('replication', `replication is ${replicas}${change}`);
  }
}
