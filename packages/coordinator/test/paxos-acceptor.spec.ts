import type { KVRecord, PaxosLog, PaxosState, Version } from '@kvdb/core';
import { expect } from 'chai';
import type { Clock } from '../src/clock.js';
import { PAXOS_STATE_TTL_MS } from '../src/defaults.js';
import { PaxosAcceptor } from '../src/paxos-acceptor.js';
import { live } from './utils/values.js';

const NOW = 1_000_000_000;
const ballot = (wall: number, node = 'p'): Version => ({ wall, counter: 0, node });

function acceptor(options: { log?: PaxosLog; clock?: Pick<Clock, 'now'> } = {}) {
  const records = new Map<string, KVRecord>();
  const replica = {
    get: async (key: string) => records.get(key),
    merge: async (key: string, record: KVRecord) => records.set(key, record),
  };
  const clock = options.clock ?? { now: () => NOW };
  return { records, acceptor: new PaxosAcceptor({ replica, clock, log: options.log }) };
}

describe('PaxosAcceptor', () => {
  it('promises a ballot higher than any promised, and refuses a lower or equal one, naming its promise', async () => {
    const { acceptor: a } = acceptor();
    expect(await a.prepare({ key: 'k', ballot: ballot(NOW) })).to.deep.equal({
      promised: true,
      current: null,
    });
    expect(await a.prepare({ key: 'k', ballot: ballot(NOW) })).to.deep.equal({
      promised: false,
      newer: ballot(NOW),
    });
    expect(await a.prepare({ key: 'k', ballot: ballot(NOW - 1) })).to.deep.equal({
      promised: false,
      newer: ballot(NOW),
    });
    expect(await a.prepare({ key: 'other', ballot: ballot(NOW - 1) })).to.include({ promised: true });
  });

  it('accepts a proposal at or above its promise only, and reports it in later promises until committed', async () => {
    const { acceptor: a, records } = acceptor();
    await a.prepare({ key: 'k', ballot: ballot(NOW + 2) });
    const low = { ballot: ballot(NOW + 1), record: live(ballot(NOW + 1), 'low') };
    expect(await a.propose({ key: 'k', proposal: low })).to.deep.equal({
      accepted: false,
      newer: ballot(NOW + 2),
    });
    const proposal = { ballot: ballot(NOW + 2), record: live(ballot(NOW + 2), 'v') };
    expect(await a.propose({ key: 'k', proposal })).to.deep.equal({ accepted: true });
    expect(await a.prepare({ key: 'k', ballot: ballot(NOW + 3) })).to.deep.equal({
      promised: true,
      accepted: proposal,
      current: null,
    });
    await a.commit({ key: 'k', proposal });
    expect(records.get('k')).to.deep.equal(proposal.record);
    expect(await a.prepare({ key: 'k', ballot: ballot(NOW + 4) })).to.deep.equal({
      promised: true,
      committed: { ballot: ballot(NOW + 2), version: ballot(NOW + 2), basis: null },
      writes: [{ version: ballot(NOW + 2), basis: null }],
      current: proposal.record,
    });
  });

  it('moves its committed ballot on for a commit of nothing, keeping the note of the write before it', async () => {
    const { acceptor: a } = acceptor();
    const write = { ballot: ballot(NOW + 1), record: live(ballot(NOW + 1), 'v'), basis: null };
    await a.commit({ key: 'k', proposal: write });
    await a.commit({ key: 'k', proposal: { ballot: ballot(NOW + 2), record: null, basis: null } });
    expect(await a.prepare({ key: 'k', ballot: ballot(NOW + 3) })).to.deep.include({
      committed: { ballot: ballot(NOW + 2), version: ballot(NOW + 1), basis: null },
    });
  });

  it('refuses a ballot older than half the state TTL, with one the proposer can move its clock past', async () => {
    const { acceptor: a } = acceptor();
    const reply = await a.prepare({ key: 'k', ballot: ballot(NOW - PAXOS_STATE_TTL_MS) });
    expect(reply).to.include({ promised: false });
    const newer = (reply as { newer: Version }).newer;
    expect(newer.wall).to.equal(NOW - PAXOS_STATE_TTL_MS / 2);
  });

  it('keeps its states in the log and reads them back, and forgets states untouched for the TTL', async () => {
    const saved = new Map<string, PaxosState>();
    const log: PaxosLog = {
      loadPaxos: () => saved.entries(),
      savePaxos: async (key, state) => {
        if (state === undefined) saved.delete(key);
        else saved.set(key, structuredClone(state));
      },
    };
    let now = NOW;
    const clock = { now: () => now };
    const { acceptor: first } = acceptor({ log, clock });
    const proposal = { ballot: ballot(NOW + 1), record: live(ballot(NOW + 1), 'v') };
    await first.prepare({ key: 'k', ballot: ballot(NOW + 1) });
    await first.propose({ key: 'k', proposal });
    await first.prepare({ key: 'settled', ballot: ballot(NOW + 1) });
    expect(saved.get('k')).to.deep.equal({ promised: ballot(NOW + 1), accepted: proposal });

    const { acceptor: restarted } = acceptor({ log, clock });
    expect(await restarted.prepare({ key: 'k', ballot: ballot(NOW) })).to.deep.equal({
      promised: false,
      newer: ballot(NOW + 1),
    });
    now += PAXOS_STATE_TTL_MS + 1;
    await restarted.prepare({ key: 'fresh', ballot: ballot(now) });
    expect(saved.has('settled'), 'a settled state is forgotten').to.equal(false);
    expect(saved.has('k'), 'and one with a proposal accepted so long ago').to.equal(false);
    expect(saved.has('fresh')).to.equal(true);
  });
});
