import {
  compareVersions,
  isDeletedAt,
  type KVRecord,
  type MemberAddress,
  type PeerParams,
  type PeerResult,
  reasonOf,
  type Version,
} from '@kvdb/core';
import { DEFAULT_TOMBSTONE_GRACE_MS } from './defaults.js';
import type { DataMethod } from './local-replica.js';
import {
  ReplicaGroups,
  ReplicaTask,
  type ReplicaTaskComponents,
  type ReplicaTaskInit,
} from './replica-task.js';

/**
 * `intervalMs`: how often a collection round runs, by default graceMs / 10 between 1 s and 60 s; `batchSize`: keys
 * per confirmation call.
 */
export interface TombstoneCollectorInit extends ReplicaTaskInit {
  /**
   * How old a tombstone must be before it may be collected (an expired record: how long ago it expired).
   * @default DEFAULT_TOMBSTONE_GRACE_MS (1 hour)
   */
  graceMs?: number;
}

/**
 * Removes tombstones once every replica is known to hold them, never on a timer alone: the key's primary asks
 * each of its replicas for the record, and only if all of them answer with that very tombstone does it tell
 * them all to purge it (each purges only that exact version). A replica that missed the pop cannot confirm, so
 * it holds collection back until anti-entropy or a hint has given it the tombstone; it can never bring the key
 * back. The grace period bounds what can: hints older than it are dropped, and a member removed for good must
 * not rejoin with its old data dir. An expired record is a tombstone from its expiry on, collected on the same
 * rules once it expired longer than the grace period ago.
 */
export class TombstoneCollector extends ReplicaTask {
  readonly graceMs: number;
  /** Tombstones purged cluster-wide by this node's rounds since start. */
  purged = 0;

  constructor(components: ReplicaTaskComponents, init: TombstoneCollectorInit) {
    const graceMs = init.graceMs ?? DEFAULT_TOMBSTONE_GRACE_MS;
    super(components, init, 'tombstone collection', Math.min(60_000, Math.max(1_000, graceMs / 10)));
    this.graceMs = graceMs;
  }

  protected tick(): Promise<number> {
    return this.round();
  }

  /**
   * One pass over the tombstones this node is primary for; resolves with how many were purged everywhere. None
   * while a member joins or leaves.
   */
  async round(): Promise<number> {
    // While members join or leave, a pending owner may hold an older live value of a key and not yet its
    // tombstone: tombstones wait until every move is done.
    if (this.membership.placement.moving) return 0;
    const ring = this.membership.ring;
    const n = this.replicas();
    const self = this.membership.self;
    const cutoff = this.clock.now() - this.graceMs;
    const groups = new ReplicaGroups<[string, Version]>();
    const signal = this.signal;
    // Only heads are read, a page at a time: on a large node this round runs every minute. A record that expired
    // before the cutoff reads as deleted, and its version is older than its expiry.
    for await (const page of this.replica.pages(signal, cutoff)) {
      for (const [key, version, deleted] of page) {
        if (!deleted || version.wall > cutoff) continue;
        const replicas = ring.preferenceList(key, n);
        if (replicas[0] === self) groups.add(replicas, [key, version]);
      }
    }

    let purged = 0;
    for (const [replicas, batch] of groups.batches(this.batchSize)) {
      if (signal.aborted) break; // the node is stopping: the rest waits for the next round
      purged += await this.collect(replicas, batch, cutoff);
    }
    this.purged += purged;
    if (purged > 0) this.log.info(`collected ${purged} tombstone(s) every replica held`);
    return purged;
  }

  private async collect(
    replicas: MemberAddress[],
    entries: Array<[string, Version]>,
    cutoff: number,
  ): Promise<number> {
    const keys = entries.map(([key]) => key);
    let answers: Array<Array<KVRecord | null>>;
    try {
      answers = await Promise.all(replicas.map((replica) => this.call(replica, 'peer.get_many', { keys })));
    } catch (error) {
      this.log.debug(`tombstone collection waits: a replica did not answer (${reasonOf(error)})`);
      return 0;
    }
    const confirmed = entries.filter(([, version], index) =>
      answers.every((records) => {
        const record = records[index];
        return (
          record != null && isDeletedAt(record, cutoff) && compareVersions(record.version, version) === 0
        );
      }),
    );
    if (confirmed.length === 0) return 0;
    const removed = await Promise.all(
      replicas.map((replica) =>
        this.call(replica, 'peer.purge', { entries: confirmed }).catch((error: unknown) => {
          this.log.debug(
            `purge on ${replica} failed; anti-entropy will bring the tombstone back for a retry (${reasonOf(error)})`,
          );
          return 0;
        }),
      ),
    );
    return Math.min(...removed);
  }

  private call<M extends DataMethod>(
    to: MemberAddress,
    method: M,
    params: PeerParams<M>,
  ): Promise<PeerResult<M>> {
    if (to === this.membership.self) return this.replica.handlePeer(method, params);
    return this.transport.call(to, method, params, { timeoutMs: this.timeoutMs });
  }
}
