import { Membership } from '@kvdb/coordinator';
import { expect } from 'chai';
import { ClusterEvents } from '../src/cluster-events.js';

const SELF = '127.0.0.1:5878';
const PEER = '127.0.0.1:5879';
const NEW = '127.0.0.1:5880';

describe('ClusterEvents', () => {
  let membership: Membership;
  let events: ClusterEvents;
  let now: number;

  beforeEach(() => {
    now = 1_000;
    membership = new Membership(SELF, [PEER]);
    events = new ClusterEvents(membership, { now: () => now++ });
  });

  const messages = () => events.list().map((event) => `${event.kind}: ${event.message}`);

  it('notes its start, then status changes as the membership hears of them, stamped in order', () => {
    membership.apply({ address: PEER, status: 'suspect', incarnation: 0, phase: 'normal' });
    membership.apply({ address: PEER, status: 'alive', incarnation: 1, phase: 'normal' });
    expect(messages()).to.deep.equal([
      `node: ${SELF} started, knowing 2 member(s)`,
      `member: ${PEER} is suspect (was alive)`,
      `member: ${PEER} is alive (was suspect)`,
    ]);
    const at = events.list().map((event) => event.at);
    expect(at).to.deep.equal([...at].sort((a, b) => a - b));
    expect(events.list()[1]?.address).to.equal(PEER);
  });

  it('notes a join as a new member, a phase change and data moving, then the move finished', () => {
    membership.apply({ address: NEW, status: 'alive', incarnation: 1, phase: 'joining' });
    membership.apply({ address: NEW, status: 'alive', incarnation: 2, phase: 'normal' });
    expect(messages().slice(1)).to.deep.equal([
      `member: ${NEW} joined the cluster (alive)`,
      `phase: ${NEW} is joining`,
      'moves: data started moving: 1 member(s) joining or leaving',
      `phase: ${NEW} is normal (was joining)`,
      'moves: data finished moving: 3 member(s) serve the ring',
    ]);
  });

  it('notes replication changes and members leaving', () => {
    membership.applyReplication({ replicas: 2, stamp: 5, by: SELF, target: 3 });
    membership.apply({ address: PEER, status: 'left', incarnation: 3, phase: 'leaving' });
    const lines = events.list().map((event) => `${event.kind}: ${event.message}`);
    expect(lines).to.include('replication: replication is 2, changing to 3');
    expect(lines).to.include(`member: ${PEER} left the cluster`);
  });

  it('keeps only the latest events, up to its limit', () => {
    const events = new ClusterEvents(membership, { limit: 5 });
    for (let incarnation = 1; incarnation <= 10; incarnation++) {
      membership.apply({ address: PEER, status: incarnation % 2 === 0 ? 'alive' : 'suspect', incarnation });
    }
    const kept = events.list();
    expect(kept).to.have.length(5);
    expect(kept[4]?.message).to.equal(`${PEER} is alive (was suspect)`);
    // A copy: changing it changes nothing kept.
    kept.pop();
    expect(events.list()).to.have.length(5);
  });
});
