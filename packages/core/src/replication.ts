import type { MemberAddress } from './member.js';

/** The largest replication factor a node accepts, from an operator or from a peer. */
export const MAX_REPLICAS = 64;

/**
 * The cluster's replication factor, agreed through membership gossip as a last-writer-wins register. While a
 * change is under way `target` names the factor it moves to: reads and quorums keep `replicas` until the new
 * replicas hold their data (see `Placement`).
 */
export interface ReplicationSetting {
  /** The factor in force: how many replicas serve each key's reads and make its quorums. */
  replicas: number;
  /** The factor a change under way moves to; absent when none is, never equal to `replicas`. */
  target?: number;
  /**
   * Raised by each change (a wall-clock time in ms, past the stamp it replaces). 0 is the founding members' `-R`:
   * one stamp-0 value never replaces another, so founders started with different factors disagree visibly rather
   * than settle on one of them silently.
   */
  stamp: number;
  /** The member that made the change: breaks a tie between two changes at the same stamp. */
  by: MemberAddress;
}

/** Whether `update` should replace `current`: the later stamp wins, then the greater `by`. */
export function replacesSetting(
  update: ReplicationSetting,
  current: ReplicationSetting | undefined,
): boolean {
  if (current === undefined) return true;
  if (update.stamp !== current.stamp) return update.stamp > current.stamp;
  return update.stamp > 0 && update.by > current.by;
}

const isFactor = (value: unknown): value is number =>
  Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_REPLICAS;

/** `replicas` if it is a replication factor kvdb accepts; else a `TypeError` that names it. */
export function requireFactor(replicas: number): number {
  if (!isFactor(replicas)) {
    throw new TypeError(
      `Expected \`replicas\` to be an integer from 1 to ${MAX_REPLICAS}, got \`${replicas}\``,
    );
  }
  return replicas;
}

export function isReplicationSetting(input: unknown): input is ReplicationSetting {
  if (typeof input !== 'object' || input === null) return false;
  const { replicas, target, stamp, by } = input as Record<string, unknown>;
  return (
    isFactor(replicas) &&
    (target === undefined || (isFactor(target) && target !== replicas)) &&
    Number.isSafeInteger(stamp) &&
    (stamp as number) >= 0 &&
    typeof by === 'string' &&
    by.length > 0 &&
    by.length <= 300
  );
}

/**
 * Where a node keeps the replication setting it agreed to, so that a restart keeps it (the disk store provides one);
 * without one, a restarted node learns it from the cluster again.
 */
export interface ReplicationLog {
  /** The setting the last run stored, if any. */
  loadReplication(): ReplicationSetting | undefined;
  saveReplication(setting: ReplicationSetting): Promise<void>;
}
