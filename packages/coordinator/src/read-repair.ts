import { compareVersions, type KVRecord, type MemberAddress, newerRecord, reasonOf } from '@kvdb/core';
import type { Settled } from './executor.js';
import { type Logger, silentLogger } from './logger.js';

export interface ReadRepairComponents {
  /** Sends a record to one replica, this node's own included (as a `peer.put`). */
  send: (target: MemberAddress, key: string, record: KVRecord) => Promise<unknown>;
  logger?: Logger;
}

/**
 * Read repair: once every replica a read asked has answered, the newest record goes to each one that answered with
 * an older version or none. It reaches only the replicas the read asked (see `--read-repair-chance`); hints and
 * anti-entropy bring the others up to date.
 */
export class ReadRepair {
  private readonly send: ReadRepairComponents['send'];
  private readonly log: Logger;

  constructor(components: ReadRepairComponents) {
    this.send = components.send;
    this.log = components.logger ?? silentLogger;
  }

  /**
   * Whether a read decided on `answers`, with `inFlight` calls still out, may leave a replica to repair. A read
   * whose calls have all answered with one version needs none (most reads), so it need not wait for them.
   */
  static needed(
    answers: ReadonlyArray<{ value: KVRecord | null }>,
    newest: KVRecord | undefined,
    inFlight: number,
  ): boolean {
    return inFlight > 0 || answers.some(({ value }) => isBehind(value, newest));
  }

  /** Sends the newest of `answers` to every replica that answered with less; resolves once each send has ended. */
  async repair(key: string, answers: ReadonlyArray<Settled<KVRecord | null>>): Promise<void> {
    let newest: KVRecord | undefined;
    for (const answer of answers) if (answer.ok) newest = newerRecord(newest, answer.value ?? undefined);
    if (newest === undefined) return;
    const record = newest;
    const stale = answers.filter((answer) => answer.ok && isBehind(answer.value, record));
    if (stale.length > 0) {
      const targets = stale.map(({ target }) => target);
      this.log.debug(`read repair of ${JSON.stringify(key)} on ${targets.join(', ')}`, { key, targets });
    }
    await Promise.all(
      stale.map(({ target }) => {
        return this.send(target, key, record).catch((error: unknown) => {
          this.log.debug(`read repair of ${JSON.stringify(key)} on ${target} failed: ${reasonOf(error)}`);
        });
      }),
    );
  }
}

/** Whether a replica's answer lags `newest`: it holds no record of the key, or an older version. */
export function isBehind(answer: KVRecord | null | undefined, newest: KVRecord | undefined): boolean {
  if (newest === undefined) return false;
  return answer == null || compareVersions(answer.version, newest.version) < 0;
}
