import type { MemberStatus } from '@kvdb/core';
import { expect } from 'chai';
import { Membership } from '../src/membership.js';
import { defined } from './utils/assertions.js';

const A = '10.0.0.1:5878';
const B = '10.0.0.2:5878';
const C = '10.0.0.3:5878';
const D = '10.0.0.4:5878';

type Change = { address: string; from?: MemberStatus; to: MemberStatus };

function recordChanges(membership: Membership): Change[] {
  const changes: Change[] = [];
  membership.onChange((change) => changes.push(change));
  return changes;
}

describe('Membership', () => {
  it('always holds itself, alive, even with no seeds', () => {
    const membership = new Membership(B);
    expect(membership.list()).to.deep.equal([{ address: B, status: 'alive', phase: 'normal' }]);
    expect(membership.isAlive(B)).to.equal(true);
    expect(membership.ring.members).to.deep.equal([B]);
    expect(membership.get(B)).to.deep.equal({ address: B, status: 'alive', incarnation: 0, phase: 'normal' });
  });

  it('adds every seed once, alive, and lists members sorted by address (a seed with no phase, not answered, until heard from)', () => {
    const membership = new Membership(C, [D, A, C, A, B]);
    expect(membership.list()).to.deep.equal([
      { address: A, status: 'alive', answered: false },
      { address: B, status: 'alive', answered: false },
      { address: C, status: 'alive', phase: 'normal' },
      { address: D, status: 'alive', answered: false },
    ]);
    expect(membership.states()).to.have.length(4);
    expect(membership.ring.members).to.deep.equal([A, B, C, D]);
  });

  it('sorts addresses as strings, the same on every node', () => {
    const ten = '10.0.0.10:5878';
    const two = '10.0.0.2:5878';
    expect(new Membership(two, [ten, A]).list().map((m) => m.address)).to.deep.equal([ten, A, two]);
    const statuses = (membership: Membership) =>
      membership.list().map(({ address, status }) => [address, status]);
    expect(statuses(new Membership(ten, [two, A]))).to.deep.equal(statuses(new Membership(A, [two, ten])));
  });

  it('hands out copies of member state', () => {
    const membership = new Membership(A, [B]);
    const state = defined(membership.get(B));
    state.status = 'dead';
    defined(membership.states()[0]).status = 'left';
    expect(defined(membership.get(B)).status).to.equal('alive');
    expect(membership.isAlive(A)).to.equal(true);
    expect(membership.get(D)).to.equal(undefined);
  });

  it('tells who is alive', () => {
    const membership = new Membership(A, [B, C, D]);
    membership.update(B, 'suspect');
    membership.update(C, 'dead');
    membership.update(D, 'left');
    expect(membership.isAlive(A)).to.equal(true);
    expect(membership.isAlive(B)).to.equal(false);
    expect(membership.isAlive(C)).to.equal(false);
    expect(membership.isAlive(D)).to.equal(false);
    expect(membership.isAlive('10.9.9.9:5878')).to.equal(false);
    membership.update(B, 'alive');
    expect(membership.isAlive(B)).to.equal(true);
  });

  describe('update', () => {
    it('tells listeners of a status change, with the old and the new status', () => {
      const membership = new Membership(A, [B]);
      const changes = recordChanges(membership);
      membership.update(B, 'suspect');
      membership.update(B, 'dead');
      expect(changes).to.deep.equal([
        { address: B, from: 'alive', to: 'suspect' },
        { address: B, from: 'suspect', to: 'dead' },
      ]);
      expect(membership.list()).to.deep.include({ address: B, status: 'dead', answered: false });
    });

    it('tells listeners of a new member, with no old status', () => {
      const membership = new Membership(A);
      const changes = recordChanges(membership);
      membership.update(C, 'alive');
      expect(changes).to.deep.equal([{ address: C, from: undefined, to: 'alive' }]);
      expect(membership.list().map((m) => m.address)).to.deep.equal([A, C]);
      expect(membership.ring.members).to.deep.equal([A, C]);
    });

    it('stays silent when the status does not change', () => {
      const membership = new Membership(A, [B]);
      const changes = recordChanges(membership);
      membership.update(B, 'alive');
      membership.update(B, 'alive', 3);
      expect(changes).to.deep.equal([]);
      expect(defined(membership.get(B)).incarnation, 'the incarnation is still updated').to.equal(3);
    });

    it('keeps the incarnation when none is given', () => {
      const membership = new Membership(A, [B]);
      membership.update(B, 'suspect', 5);
      membership.update(B, 'alive');
      expect(membership.get(B)).to.deep.equal({ address: B, status: 'alive', incarnation: 5 });
    });

    it('stops telling a listener once it unsubscribes', () => {
      const membership = new Membership(A, [B]);
      const heard: string[] = [];
      const unsubscribe = membership.onChange(({ to }) => heard.push(to));
      membership.update(B, 'suspect');
      unsubscribe();
      membership.update(B, 'dead');
      expect(heard).to.deep.equal(['suspect']);
    });
  });

  describe('ring', () => {
    it('leaves out members that have left, and rebuilds when one leaves', () => {
      const membership = new Membership(A, [B, C]);
      const before = membership.ring;
      expect(before.members).to.deep.equal([A, B, C]);
      membership.update(B, 'left');
      const after = membership.ring;
      expect(after).to.not.equal(before);
      expect(after.members).to.deep.equal([A, C]);
      expect(after.preferenceList('some-key', 3)).to.not.include(B);
      expect(membership.list(), 'a member that left is still listed').to.deep.include({
        address: B,
        status: 'left',
        answered: false,
      });
    });

    it('leaves another name of a member (`aliasOf`) off the ring and out of the list, and keeps it out', () => {
      const membership = new Membership(A, [B, C]);
      expect(membership.apply({ address: C, status: 'left', incarnation: 0, aliasOf: B })).to.equal(true);
      expect(membership.ring.members).to.deep.equal([A, B]);
      expect(membership.list().map((m) => m.address)).to.deep.equal([A, B]);
      expect(
        membership.apply({ address: C, status: 'alive', incarnation: 0 }),
        'a seed heard again',
      ).to.equal(false);
      expect(membership.get(C)).to.include({ status: 'left', aliasOf: B });
      const real = { address: C, status: 'alive' as const, incarnation: 7, phase: 'normal' as const };
      expect(membership.apply(real), 'a node that advertises that address later').to.equal(true);
      expect(membership.get(C)).to.deep.equal(real);
      expect(membership.list().map((m) => m.address)).to.deep.equal([A, B, C]);
    });

    it('keeps suspect and dead members on the ring: failures change routing, not ownership', () => {
      const membership = new Membership(A, [B, C]);
      const before = membership.ring;
      membership.update(B, 'suspect');
      membership.update(C, 'dead');
      expect(membership.ring, 'rebuilt on a transient failure').to.equal(before);
      expect(membership.ring.members).to.deep.equal([A, B, C]);
    });

    it('takes a member that left back when it rejoins', () => {
      const membership = new Membership(A, [B]);
      membership.update(B, 'left');
      expect(membership.ring.members).to.deep.equal([A]);
      membership.update(B, 'alive');
      expect(membership.ring.members).to.deep.equal([A, B]);
    });

    it('gives the same preference lists on every node with the same members', () => {
      const views = [
        new Membership(A, [B, C, D]),
        new Membership(D, [C, B, A]),
        new Membership(B, [A, C, D]),
      ];
      for (let i = 0; i < 50; i++) {
        const key = `key:${i}`;
        const lists = views.map((view) => view.ring.preferenceList(key, 3));
        expect(lists[1], key).to.deep.equal(lists[0]);
        expect(lists[2], key).to.deep.equal(lists[0]);
      }
    });

    it('passes ring options through', () => {
      const membership = new Membership(A, [B], { vnodes: 7 });
      expect(membership.ring.vnodes).to.equal(7);
      membership.update(C, 'alive');
      expect(membership.ring.vnodes, 'after a rebuild').to.equal(7);
    });
  });
});
