import {
  compareVersions,
  isTombstone,
  type KVRecord,
  type MemberAddress,
  type PeerMethod,
  type PeerParams,
  type PeerResult,
  reasonOf,
  type Version,
} from '@kvdb/core';
import { type Clock, type Repeating, repeat, systemClock } from './clock.js';
import type { LocalReplica } from './local-replica.js';
import { type Logger, silentLogger } from './logger.js';
import type { Membership } from './membership.js';
import type { PeerHandler, PeerTransport } from './peer-transport.js';

export interface TombstoneCollectorInit {
  /** How old a tombstone must be before it may be collected. @default 3600000 (1 hour) */
  graceMs?: number;
  /** How often a collection round runs. @default graceMs / 10, between 1 s and 60 s */
  intervalMs?: number;
  /** The replication factor in force. */
  replicas: () => number;
  /** Timeout of each call. @default 5000 */
  timeoutMs?: number;
  /** Keys per confirmation call. @default 500 */
  batchSize?: number;
}

/**
 * Removes tombstones once every replica is known to hold them, never on a timer alone: the key's primary asks
 * each of its replicas for the record, and only if all of them answer with that very tombstone does it tell
 * them all to purge it (each purges only that exact version). A replica that missed the pop cannot confirm, so
 * it holds collection back until anti-entropy or a hint has given it the tombstone; it can never bring the key
 * back. The grace period bounds what can: hints older than it are dropped, and a member removed for good must
 * not rejoin with its old data dir.
 */
export class TombstoneCollector {
  readonly graceMs: number;
  /** Tombstones purged cluster-wide by this node's rounds since start. */
  purged = 0;
  private readonly membership: Membership;
  private readonly replica: LocalReplica;
  private readonly transport: PeerTransport;
  private readonly local: PeerHandler;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly intervalMs: number;
  private readonly replicas: () => number;
  private readonly timeoutMs: number;
  private readonly batchSize: number;
  private loop: Repeating | undefined;

  constructor(
    components: {
      membership: Membership;
      replica: LocalReplica;
      transport: PeerTransport;
      local: PeerHandler;
      clock?: Clock;
      logger?: Logger;
    },
    init: TombstoneCollectorInit,
  ) {
    this.membership = components.membership;
    this.replica = components.replica;
    this.transport = components.transport;
    this.local = components.local;
    this.clock = components.clock ?? systemClock;
    this.log = components.logger ?? silentLogger;
    this.graceMs = init.graceMs ?? 3_600_000;
    this.intervalMs = init.intervalMs ?? Math.min(60_000, Math.max(1_000, this.graceMs / 10));
    this.replicas = init.replicas;
    this.timeoutMs = init.timeoutMs ?? 5_000;
    this.batchSize = init.batchSize ?? 500;
  }

  start(): void {
    this.loop = repeat(
      this.clock,
      this.intervalMs,
      () => this.round(),
      (error) => this.log.warn(`tombstone collection failed: ${reasonOf(error)}`),
    );
  }

  stop(): void {
    this.loop?.stop();
  }

  /** One pass over the tombstones this node is primary for; resolves with how many were purged everywhere. */
  async round(): Promise<number> {
    const ring = this.membership.ring;
    const n = this.replicas();
    const self = this.membership.self;
    const cutoff = this.clock.now() - this.graceMs;
    const groups = new Map<string, { replicas: MemberAddress[]; entries: Array<[string, Version]> }>();
    for (const [key, record] of this.replica.entries()) {
      if (!isTombstone(record) || record.version.wall > cutoff) continue;
      const replicas = ring.preferenceList(key, n);
      if (replicas[0] !== self) continue;
      const id = replicas.join(',');
      let group = groups.get(id);
      if (group === undefined) {
        group = { replicas, entries: [] };
        groups.set(id, group);
      }
      group.entries.push([key, record.version]);
    }

    let purged = 0;
    for (const { replicas, entries } of groups.values()) {
      for (let i = 0; i < entries.length; i += this.batchSize) {
        purged += await this.collect(replicas, entries.slice(i, i + this.batchSize));
      }
    }
    this.purged += purged;
    if (purged > 0) this.log.info(`collected ${purged} tombstone(s) every replica held`);
    return purged;
  }

  private async collect(replicas: MemberAddress[], entries: Array<[string, Version]>): Promise<number> {
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
        return record != null && isTombstone(record) && compareVersions(record.version, version) === 0;
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

  private call<M extends PeerMethod>(
    to: MemberAddress,
    method: M,
    params: PeerParams<M>,
  ): Promise<PeerResult<M>> {
    if (to === this.membership.self) return this.local.handlePeer(method, params);
    return this.transport.call(to, method, params, { timeoutMs: this.timeoutMs });
  }
}
