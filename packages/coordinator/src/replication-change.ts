import {
  InvalidParamsError,
  MAX_REPLICAS,
  type MemberAddress,
  type ReplicationSetting,
  type SetReplicasResult,
  TimeoutError,
  UnavailableError,
} from '@kvdb/core';
import type { Clock } from './clock.js';
import type { FailureDetector } from './failure-detector.js';
import type { Logger } from './logger.js';
import type { Membership } from './membership.js';

export interface ReplicationChangeComponents {
  membership: Membership;
  detector: Pick<FailureDetector, 'publishReplication'>;
  clock: Clock;
  logger: Logger;
}

export interface ReplicationChangeInit {
  /** The factor in force until the cluster's is known (this node's `-R`). */
  configured: number;
  /** Resolves whether every pending owner holds its ranges by the deadline (see `ClusterNode`). */
  untilMovesDone: (deadline: number, what: string) => Promise<boolean>;
  /** How long a change may take before it is rolled back. */
  timeoutMs: number;
}

/**
 * Changes the cluster's replication factor, as Cassandra's `ALTER KEYSPACE` and a repair do: this node publishes
 * the setting with a `target` (see `ReplicationSetting`), waits like a leave until every member that must fetch
 * data for it says it holds it (see `Placement`), then publishes the target as the factor in force. A raise goes
 * in one step; a drop goes one step at a time, the only drop after which every write acknowledged before it is
 * still in every quorum. A change that does not complete in time is rolled back (the factor stays as it was, and
 * the copies fetched for it are dropped again), and the call fails.
 */
export class ReplicationChange {
  private readonly membership: Membership;
  private readonly detector: ReplicationChangeComponents['detector'];
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly init: ReplicationChangeInit;

  constructor(components: ReplicationChangeComponents, init: ReplicationChangeInit) {
    this.membership = components.membership;
    this.detector = components.detector;
    this.clock = components.clock;
    this.log = components.logger;
    this.init = init;
  }

  /** The setting in force: the cluster's, or this node's own `-R` until it has heard the cluster's. */
  get current(): ReplicationSetting {
    return (
      this.membership.replication ?? { replicas: this.init.configured, stamp: 0, by: this.membership.self }
    );
  }

  /**
   * Moves the cluster to `replicas`; resolves once every member that has heard serves reads at it. A change under
   * way to the same factor is seen through; one to another factor is refused, unless `replicas` is the factor it
   * started from, which rolls it back.
   */
  async set(replicas: number): Promise<SetReplicasResult> {
    const members = this.membership.placement.future.size;
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > Math.min(members, MAX_REPLICAS)) {
      throw new InvalidParamsError(
        `Expected \`replicas\` to be an integer from 1 to ${Math.min(members, MAX_REPLICAS)} (the members that will hold data), got \`${replicas}\``,
      );
    }
    const start = this.current;
    const previous = start.replicas;
    if (start.target !== undefined && replicas !== start.target) {
      if (replicas !== start.replicas) {
        throw new UnavailableError(
          `a change of the replication from ${start.replicas} to ${start.target} is under way: wait for it, see it through with set_replicas ${start.target}, or roll it back with set_replicas ${start.replicas}`,
        );
      }
      await this.publish({ replicas: start.replicas });
      this.log.warn(`replication change to ${start.target} rolled back: ${start.replicas} stays`);
      return { replicas: previous, previous };
    }
    const deadline = this.clock.now() + this.init.timeoutMs;
    let from = start;
    if (from.target !== undefined) this.log.info(`seeing the replication change to ${from.target} through`);
    while (from.replicas !== replicas || from.target !== undefined) {
      const step = from.target ?? (replicas > from.replicas ? replicas : from.replicas - 1);
      if (from.target === undefined) {
        this.log.info(`changing the replication from ${from.replicas} to ${step}`);
        await this.publish({ replicas: from.replicas, target: step });
      }
      const mine = this.current;
      const done = await this.init.untilMovesDone(deadline, `replication ${from.replicas} → ${step}`);
      if (!sameSetting(this.current, mine)) {
        throw new UnavailableError('another change of the replication replaced this one: see `stats`');
      }
      if (!done) {
        await this.publish({ replicas: from.replicas });
        throw new TimeoutError(
          `the new replicas did not confirm holding their data within ${this.init.timeoutMs} ms: the replication stays at ${from.replicas}`,
        );
      }
      await this.publish({ replicas: step });
      this.log.info(`replication is now ${step}`);
      from = this.current;
    }
    return { replicas, previous };
  }

  /** Publishes a setting at a stamp past the current one. */
  private publish(change: { replicas: number; target?: number }): Promise<number> {
    const stamp = Math.max(this.clock.now(), this.current.stamp + 1);
    const by: MemberAddress = this.membership.self;
    return this.detector.publishReplication({ ...change, stamp, by });
  }
}

function sameSetting(a: ReplicationSetting, b: ReplicationSetting): boolean {
  return a.stamp === b.stamp && a.by === b.by;
}
