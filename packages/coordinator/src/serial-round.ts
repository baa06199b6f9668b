import {
  type CommitNote,
  compareVersions,
  formatVersion,
  isVersion,
  type KVRecord,
  type MemberAddress,
  newerRecord,
  OutcomeUnknownError,
  type PrepareReply,
  type Proposal,
  TimeoutError,
  type Version,
  type WriteNote,
} from '@kvdb/core';
import { type Clock, systemClock } from './clock.js';
import {
  FAILURE_GRACE_MS,
  PAXOS_STATE_TTL_MS,
  SERIAL_BACKOFF_MAX_MS,
  SERIAL_BACKOFF_MS,
  WRITE_NOTES,
} from './defaults.js';
import { quorumFailure } from './executor.js';
import type { LocalReplica } from './local-replica.js';
import type { Logger } from './logger.js';
import type { ReplicaCalls } from './replica-calls.js';

/** What a serial operation makes of the key's current record: its answer, and the record to write if any. */
export interface SerialDecision<T> {
  result: T;
  /** The record to write, stamped with the round's ballot; left out, the operation only reads. */
  write?: (version: Version) => KVRecord;
}

export interface SerialRoundsComponents {
  calls: ReplicaCalls;
  replica: LocalReplica;
  /** The key's replicas and pending owners now, and how many promises or acceptances a round needs. */
  participants: (key: string) => { members: MemberAddress[]; required: number };
  clock?: Clock;
  random?: () => number;
  logger: Logger;
  /** How long an operation may take, rounds and retries included, in ms. */
  timeoutMs: number;
}

type Promised = Extract<PrepareReply, { promised: true }>;

/**
 * The proposer side of serial operations: single-decree Paxos per key among its replicas, as Cassandra runs its
 * lightweight transactions. Each attempt takes a ballot from this node's clock and
 * 1. asks the participants to promise it (prepare), each answering with what it accepted and committed last and the
 *    key's record it holds;
 * 2. completes first a proposal that a promise shows accepted but not committed (it may have been chosen), then
 *    starts over;
 * 3. decides on the newest record among the promises, and if the operation writes, proposes its record, stamped
 *    with the ballot, and commits it once a majority accepted: the commit applies it as an ordinary write.
 * A higher ballot met anywhere sends the attempt back to the start after a random, growing wait. Our own proposal
 * that some acceptor may hold without a majority has an unknown fate: the next attempt either finds it (and
 * completes it: the operation then answers as it decided) or seals it off by committing at a higher ballot (its
 * own write, or nothing), so it can never be chosen later. Without time left to do either, the operation fails
 * with `OutcomeUnknownError`.
 */
export class SerialRounds {
  private readonly calls: ReplicaCalls;
  private readonly replica: LocalReplica;
  private readonly participants: SerialRoundsComponents['participants'];
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly log: Logger;
  private readonly timeoutMs: number;

  constructor(components: SerialRoundsComponents) {
    this.calls = components.calls;
    this.replica = components.replica;
    this.participants = components.participants;
    this.clock = components.clock ?? systemClock;
    this.random = components.random ?? Math.random;
    this.log = components.logger;
    this.timeoutMs = components.timeoutMs;
  }

  async run<T>(
    operation: string,
    key: string,
    decide: (current: KVRecord | undefined, now: number) => SerialDecision<T>,
  ): Promise<T> {
    const deadline = this.clock.now() + this.timeoutMs;
    let mine: { proposal: Proposal; result: T } | undefined;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await this.backoff(attempt, deadline);
      if (this.clock.now() >= deadline) throw this.outOfTime(operation, key, mine !== undefined);
      const { members, required } = this.participants(key);
      const ballot = this.replica.stamp();
      const prepared = await this.calls.ask(
        members,
        'peer.prepare',
        { key, ballot },
        { required, graceMs: FAILURE_GRACE_MS },
      );
      const promises = prepared.succeeded.flatMap(({ value }) => (value.promised ? [value] : []));
      if (promises.length < required) {
        if (this.sawHigher(prepared.succeeded.map(({ value }) => value))) continue;
        if (mine !== undefined) throw this.unknown(operation, key, 'its replicas stopped answering');
        throw quorumFailure(`serial ${operation}`, key, members, required, prepared);
      }
      const lastCommit = latest(promises.map((promise) => promise.committed));
      const pending = inProgress(promises, lastCommit?.ballot, this.clock.now() - PAXOS_STATE_TTL_MS / 2);
      if (pending !== undefined) {
        const outcome = await this.choose(members, required, key, { ...pending, ballot });
        if (outcome === 'chosen' && mine !== undefined && sameRecord(pending.record, mine.proposal.record)) {
          return mine.result;
        }
        continue;
      }

      let current: KVRecord | undefined;
      for (const promise of promises) current = newerRecord(current, promise.current ?? undefined);
      // What the current record was decided on, if a promise notes it (a write not made by a round has no note).
      const writer = current === undefined ? undefined : writerOf(current, promises);
      if (current !== undefined) {
        this.replica.observe(current.version);
        this.repair(key, current, writer, prepared.succeeded);
      }
      if (mine !== undefined) {
        const fate = fateOf(mine.proposal, current, promises);
        if (fate === 'applied' && this.heldByMajority(mine.proposal, promises, required)) return mine.result;
        if (fate === 'applied') {
          // Applied, but not yet by a majority: commit it again (under this ballot) before saying it is done.
          const again = await this.choose(members, required, key, { ...mine.proposal, ballot });
          if (again === 'chosen') return mine.result;
          continue;
        }
        if (fate === 'unknown') throw this.unknown(operation, key, 'a later write replaced the key');
        if (fate === 'open') {
          // Not applied, but still able to be chosen: commit nothing at this ballot to shut it out, then decide
          // afresh in the next round. Until that seal is chosen, ours stays open.
          const sealed = await this.choose(members, required, key, { ballot, record: null, basis: null });
          if (sealed === 'chosen') mine = undefined;
          continue;
        }
        mine = undefined;
      }
      if (current !== undefined && compareVersions(current.version, ballot) >= 0) continue;
      // Decided as of the ballot's time, which rises from round to round, so that expiry is judged in their order.
      const decision = decide(current, ballot.wall);
      if (decision.write === undefined) return decision.result;

      const basis = current?.version ?? null;
      const proposal: Proposal = { ballot, record: decision.write(ballot), basis };
      const outcome = await this.choose(members, required, key, proposal);
      if (outcome === 'chosen') return decision.result;
      if (outcome === 'maybe') mine = { proposal, result: decision.result };
    }
  }

  /**
   * Proposes, and commits once a majority accepted: 'chosen' once a majority applied the commit; 'refused' when no
   * acceptor can hold the proposal; 'maybe' when some may, or when it was chosen but applied by fewer.
   */
  private async choose(
    members: MemberAddress[],
    required: number,
    key: string,
    proposal: Proposal,
  ): Promise<'chosen' | 'refused' | 'maybe'> {
    const proposed = await this.calls.ask(
      members,
      'peer.propose',
      { key, proposal },
      { required, graceMs: FAILURE_GRACE_MS },
    );
    const accepted = proposed.succeeded.filter(({ value }) => value.accepted).length;
    if (accepted < required) {
      this.sawHigher(proposed.succeeded.map(({ value }) => value));
      const silent = members.length - proposed.succeeded.length;
      return accepted > 0 || silent > 0 ? 'maybe' : 'refused';
    }
    // Done once a majority applied it: a quorum read then sees it, as it sees any write acknowledged at quorum.
    // Chosen but applied by fewer, it is completed by the next round, which the caller makes.
    const commit = await this.calls.ask(members, 'peer.commit', { key, proposal }, { required });
    if (commit.reached) return 'chosen';
    this.log.debug(`serial round on ${JSON.stringify(key)}: chosen, but committed on fewer than a majority`);
    return 'maybe';
  }

  /**
   * Sends the newest record to the participants that promised with an older one (a commit that did not reach
   * them), as read repair does, without waiting: the round does not depend on it.
   */
  private repair(
    key: string,
    newest: KVRecord,
    writer: WriteNote | undefined,
    answers: ReadonlyArray<{ target: MemberAddress; value: PrepareReply }>,
  ): void {
    for (const { target, value } of answers) {
      if (!value.promised) continue;
      const held = value.current;
      if (held !== null && compareVersions(held.version, newest.version) >= 0) continue;
      // The commit that wrote it, when known, so that the participant also learns what it was decided on.
      const repaired =
        writer === undefined
          ? this.calls.call(target, 'peer.put', { key, record: newest })
          : this.calls.call(target, 'peer.commit', {
              key,
              proposal: { ballot: newest.version, record: newest, basis: writer.basis },
            });
      repaired.catch((error: unknown) => {
        this.log.debug(`serial read repair of ${JSON.stringify(key)} on ${target} failed: ${String(error)}`);
      });
    }
  }

  /** Whether at least `required` promises hold the proposal's record (or a newer one) in their stores. */
  private heldByMajority(proposal: Proposal, promises: readonly Promised[], required: number): boolean {
    const version = (proposal.record as KVRecord).version;
    const holding = promises.filter(
      ({ current }) => current !== null && compareVersions(current.version, version) >= 0,
    );
    return holding.length >= required;
  }

  /** Moves the clock past any higher ballot the answers name; whether there was one. */
  private sawHigher(answers: ReadonlyArray<object>): boolean {
    let higher = false;
    for (const answer of answers) {
      if ('newer' in answer && isVersion(answer.newer)) {
        this.replica.observe(answer.newer);
        higher = true;
      }
    }
    return higher;
  }

  /** Waits a random time before another attempt, up to a limit that doubles with each (and within the deadline). */
  private backoff(attempt: number, deadline: number): Promise<void> {
    const ceiling = Math.min(SERIAL_BACKOFF_MAX_MS, SERIAL_BACKOFF_MS * 2 ** Math.min(attempt, 16));
    const wait = Math.min(this.random() * ceiling, Math.max(0, deadline - this.clock.now()));
    return new Promise((resolve) => this.clock.setTimeout(resolve, wait));
  }

  private outOfTime(operation: string, key: string, maybeApplied: boolean): Error {
    if (maybeApplied) return this.unknown(operation, key, `no round completed within ${this.timeoutMs} ms`);
    return new TimeoutError(
      `serial ${operation} ${JSON.stringify(key)} timed out: no round completed within ${this.timeoutMs} ms (contention with other serial operations on the key, or replicas too slow)`,
    );
  }

  private unknown(operation: string, key: string, why: string): OutcomeUnknownError {
    return new OutcomeUnknownError(
      `serial ${operation} ${JSON.stringify(key)}: outcome unknown (${why} after a replica may have accepted it): read the key to find out`,
    );
  }
}

/** The latest of some commits, by ballot, if any. */
function latest(notes: ReadonlyArray<CommitNote | undefined>): CommitNote | undefined {
  let best: CommitNote | undefined;
  for (const note of notes) {
    if (note !== undefined && (best === undefined || compareVersions(note.ballot, best.ballot) > 0))
      best = note;
  }
  return best;
}

/**
 * What became of a proposal of ours that some acceptor may hold, as a later round (that found nothing in
 * progress) sees the key:
 * - `applied`: its record is the current one, or one the current one was decided on, through the writes the
 *   promises note (each serial write names the record it was decided on);
 * - `open`: the current record is older than it, so it was not applied; it could still be chosen until a commit at
 *   a higher ballot seals it off;
 * - `sealed`: tracing back from the current record reaches a write newer than ours that was decided on a record
 *   older than ours, so ours was not applied before it, and that write, chosen at a higher ballot, shuts ours out
 *   for good;
 * - `unknown`: the trace breaks first (a write not made by a serial round, or one older than the notes kept).
 */
function fateOf(
  ours: Proposal,
  current: KVRecord | undefined,
  promises: readonly Promised[],
): 'applied' | 'open' | 'sealed' | 'unknown' {
  const version = (ours.record as KVRecord).version;
  if (current === undefined) return 'open';
  const order = compareVersions(current.version, version);
  if (order === 0) return 'applied';
  if (order < 0) return 'open';
  const basisOf = new Map<string, Version | null>();
  for (const promise of promises) {
    for (const write of promise.writes ?? []) basisOf.set(formatVersion(write.version), write.basis);
  }
  let at: Version = current.version;
  for (let step = 0; step <= WRITE_NOTES * 2; step++) {
    if (compareVersions(at, version) === 0) return 'applied';
    const basis = basisOf.get(formatVersion(at));
    if (basis === undefined) return 'unknown';
    // A write newer than ours decided on a record older than ours: ours was not applied before it.
    if (basis === null || compareVersions(basis, version) < 0) return 'sealed';
    at = basis;
  }
  return 'unknown';
}

/** The note of the write that wrote `current`, among the promises'. */
function writerOf(current: KVRecord, promises: readonly Promised[]): WriteNote | undefined {
  for (const { writes } of promises) {
    const note = writes?.find((write) => compareVersions(write.version, current.version) === 0);
    if (note !== undefined) return note;
  }
  return undefined;
}

/** Whether two proposals' records are the same write (the same version). */
function sameRecord(a: KVRecord | null, b: KVRecord | null): boolean {
  return a !== null && b !== null && compareVersions(a.version, b.version) === 0;
}

/**
 * The proposal accepted under the highest ballot that no promise shows committed (a round may have chosen it),
 * leaving out any accepted under a ballot older than `oldest` (wall ms): its proposer has answered long since,
 * successfully only if its commit reached a majority, and the commit notes that once shut it out may be gone.
 */
function inProgress(
  promises: readonly Promised[],
  committed: Version | undefined,
  oldest: number,
): Proposal | undefined {
  let best: Proposal | undefined;
  for (const { accepted } of promises) {
    if (accepted === undefined || accepted.ballot.wall < oldest) continue;
    if (committed !== undefined && compareVersions(accepted.ballot, committed) <= 0) continue;
    if (best === undefined || compareVersions(accepted.ballot, best.ballot) > 0) best = accepted;
  }
  return best;
}
