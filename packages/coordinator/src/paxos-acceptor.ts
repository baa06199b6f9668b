import {
  compareVersions,
  type KVRecord,
  type PaxosLog,
  type PaxosState,
  type PrepareParams,
  type PrepareReply,
  type ProposalParams,
  type ProposeReply,
  type Version,
} from '@kvdb/core';
import { type Clock, systemClock } from './clock.js';
import { PAXOS_STATE_TTL_MS, WRITE_NOTES } from './defaults.js';

export interface PaxosAcceptorComponents {
  /** The replica's record of a key, and how a committed record is applied to it (with its digests and clock). */
  replica: {
    get(key: string): Promise<KVRecord | undefined>;
    merge(key: string, record: KVRecord): Promise<unknown>;
  };
  log?: PaxosLog;
  clock?: Pick<Clock, 'now'>;
}

/**
 * The acceptor side of serial rounds: single-decree Paxos per key, as Cassandra's lightweight transactions run it.
 * Written here because the rounds are the point of `serial`: a promise, an acceptance and a commit per key, kept
 * beside the key's replica. Each handler decides within one turn of the event loop, so calls for one key never
 * interleave between a check and its change; a reply goes out only once the state it promises is stored.
 *
 * States are dropped once untouched for `PAXOS_STATE_TTL_MS`, and a ballot older than half that is refused (with a
 * ballot the proposer's clock then moves past), so a dropped promise cannot let an old proposal through; rounds
 * leave proposals accepted under a ballot that old alone (see `SerialRounds`).
 */
export class PaxosAcceptor {
  private readonly states = new Map<string, PaxosState & { touched: number }>();
  private readonly replica: PaxosAcceptorComponents['replica'];
  private readonly log: PaxosLog | undefined;
  private readonly clock: Pick<Clock, 'now'>;
  private lastSweep: number;

  constructor(components: PaxosAcceptorComponents) {
    this.replica = components.replica;
    this.log = components.log;
    this.clock = components.clock ?? systemClock;
    this.lastSweep = this.clock.now();
    const now = this.clock.now();
    for (const [key, state] of this.log?.loadPaxos() ?? []) this.states.set(key, { ...state, touched: now });
  }

  /** Keys with a state kept. */
  get size(): number {
    return this.states.size;
  }

  async prepare({ key, ballot }: PrepareParams): Promise<PrepareReply> {
    const state = this.touch(key);
    const refusal = this.refusal(state, ballot, true);
    if (refusal !== undefined) return { promised: false, newer: refusal };
    state.promised = ballot;
    // The state as promised, taken before the record is read: a commit landing meanwhile may add to the record,
    // never leave a note of a write the record does not show.
    const reply: PrepareReply = { promised: true, current: null };
    if (state.accepted !== undefined) reply.accepted = state.accepted;
    if (state.committed !== undefined) reply.committed = state.committed;
    if (state.writes !== undefined) reply.writes = state.writes;
    const saved = this.save(key, state);
    reply.current = (await this.replica.get(key)) ?? null;
    await saved;
    return reply;
  }

  async propose({ key, proposal }: ProposalParams): Promise<ProposeReply> {
    const state = this.touch(key);
    const refusal = this.refusal(state, proposal.ballot, false);
    if (refusal !== undefined) return { accepted: false, newer: refusal };
    state.promised = proposal.ballot;
    state.accepted = proposal;
    await this.save(key, state);
    return { accepted: true };
  }

  async commit({ key, proposal }: ProposalParams): Promise<true> {
    if (proposal.record !== null) await this.replica.merge(key, proposal.record);
    const state = this.touch(key);
    const last = state.committed;
    if (last === undefined || compareVersions(proposal.ballot, last.ballot) > 0) {
      // A commit of nothing (a seal) moves the ballot on but keeps the note of the write before it.
      state.committed =
        proposal.record === null && last !== undefined
          ? { ...last, ballot: proposal.ballot }
          : {
              ballot: proposal.ballot,
              version: proposal.record?.version ?? null,
              basis: proposal.basis ?? null,
            };
    }
    if (proposal.record !== null) {
      const note = { version: proposal.record.version, basis: proposal.basis ?? null };
      const writes = (state.writes ?? []).filter(
        (write) => compareVersions(write.version, note.version) !== 0,
      );
      writes.push(note);
      state.writes = writes.slice(-WRITE_NOTES);
    }
    const committed = state.committed;
    if (state.accepted !== undefined && committed !== undefined) {
      if (compareVersions(state.accepted.ballot, committed.ballot) <= 0) delete state.accepted;
    }
    await this.save(key, state);
    return true;
  }

  /**
   * The ballot that refuses `ballot`, if any: a higher (or, to prepare, an equal) promise, or the oldest ballot
   * still taken when `ballot` is older than that.
   */
  private refusal(state: PaxosState, ballot: Version, preparing: boolean): Version | undefined {
    const { promised } = state;
    if (promised !== undefined) {
      const order = compareVersions(ballot, promised);
      if (order < 0 || (order === 0 && preparing)) return promised;
    }
    const oldest = this.clock.now() - PAXOS_STATE_TTL_MS / 2;
    return ballot.wall < oldest ? { wall: Math.floor(oldest), counter: 0, node: '' } : undefined;
  }

  private touch(key: string): PaxosState & { touched: number } {
    const now = this.clock.now();
    if (now - this.lastSweep >= PAXOS_STATE_TTL_MS / 4) this.sweep(now);
    let state = this.states.get(key);
    if (state === undefined) {
      state = { touched: now };
      this.states.set(key, state);
    }
    state.touched = now;
    return state;
  }

  /**
   * Forgets the states untouched for the TTL. A proposal accepted that long ago is past any round's use: a
   * proposer answers success only once its commit reached a majority, and rounds take no proposal accepted under a
   * ballot older than half the TTL as one to complete.
   */
  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, state] of this.states) {
      if (now - state.touched < PAXOS_STATE_TTL_MS) continue;
      this.states.delete(key);
      void this.log?.savePaxos(key, undefined).catch(() => {});
    }
  }

  private save(key: string, { touched: _, ...state }: PaxosState & { touched: number }): Promise<void> {
    return this.log?.savePaxos(key, state) ?? Promise.resolve();
  }
}
