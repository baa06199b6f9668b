import type { MemberState } from '@kvdb/core';
import { expect } from 'chai';
import { Placement } from '../src/placement.js';

const [A, B, C, J, L] = ['10.0.0.1:5878', '10.0.0.2:5878', '10.0.0.3:5878', '10.0.0.9:5878', '10.0.0.5:5878'];
const keys = Array.from({ length: 300 }, (_, i) => `key:${i}`);

function placement(states: Array<[string, MemberState['phase'], MemberState['status']?]>): Placement {
  return new Placement(
    states.map(([address, phase, status = 'alive']) => ({ address, status, incarnation: 1, phase })),
    { vnodes: 16 },
  );
}

describe('Placement', () => {
  it('serves reads from members past joining, and makes a joining member a pending owner of its future keys', () => {
    const joining = placement([
      [A, 'normal'],
      [B, 'normal'],
      [C, 'normal'],
      [J, 'joining'],
    ]);
    const joined = placement([
      [A, 'normal'],
      [B, 'normal'],
      [C, 'normal'],
      [J, 'normal'],
    ]);
    expect(joining.moving).to.equal(true);
    expect(joined.moving).to.equal(false);
    let pendingSomewhere = 0;
    for (const key of keys) {
      const { replicas, pending } = joining.place(key, 3);
      expect(replicas, key).to.not.include(J);
      expect(replicas, key).to.have.length(3);
      // The pending owner is exactly the member the key will have and does not have now.
      const after = joined.replicas(key, 3);
      expect([...pending].sort(), key).to.deep.equal(
        after.filter((member) => !replicas.includes(member)).sort(),
      );
      if (pending.length > 0) pendingSomewhere += 1;
    }
    expect(pendingSomewhere, 'keys J takes over').to.be.above(0);
    expect([...joining.pendingMembers(3)]).to.deep.equal([J]);
    expect(joining.pendingSegments(J, 3).length).to.be.above(0);
  });

  it('keeps a leaving member a read replica until it has left, its new owners pending meanwhile', () => {
    const leaving = placement([
      [A, 'normal'],
      [B, 'normal'],
      [C, 'normal'],
      [L, 'leaving'],
    ]);
    const left = placement([
      [A, 'normal'],
      [B, 'normal'],
      [C, 'normal'],
      [L, 'leaving', 'left'],
    ]);
    for (const key of keys) {
      const { replicas, pending } = leaving.place(key, 3);
      if (!replicas.includes(L)) {
        expect(pending, key).to.deep.equal([]);
        continue;
      }
      expect(pending, key).to.have.length(1);
      expect(left.replicas(key, 3), key).to.include(pending[0]);
    }
  });

  it('names a leave by another fill id than the join before it, though no member arrived or went between them', () => {
    const joining = placement([
      [A, 'normal'],
      [B, 'normal'],
      [L, 'normal'],
      [J, 'joining'],
    ]);
    const leaving = placement([
      [A, 'normal'],
      [B, 'normal'],
      [L, 'leaving'],
      [J, 'normal'],
    ]);
    expect(leaving.all.id, 'the same members').to.equal(joining.all.id);
    expect(leaving.fillId, 'a mark J made for its join does not count for the leave').to.not.equal(
      joining.fillId,
    );
    const joined = placement([
      [A, 'normal'],
      [B, 'normal'],
      [L, 'normal'],
      [J, 'normal'],
    ]);
    const stillJoining = placement([
      [A, 'normal'],
      [B, 'normal'],
      [L, 'normal'],
      [J, 'joining'],
      [C, 'joining'],
    ]);
    const oneDone = placement([
      [A, 'normal'],
      [B, 'normal'],
      [L, 'normal'],
      [J, 'normal'],
      [C, 'joining'],
    ]);
    expect(oneDone.fillId, 'one of two joins finishing keeps the other one’s progress').to.equal(
      stillJoining.fillId,
    );
    expect(joined.moving).to.equal(false);
  });
});
