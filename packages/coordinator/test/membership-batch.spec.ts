import type { HashRing, MemberState } from '@kvdb/core';
import { expect } from 'chai';
import { FailureDetector } from '../src/failure-detector.js';
import { Membership } from '../src/membership.js';
import type { PeerTransport } from '../src/peer-transport.js';

const address = (index: number) => `10.0.${Math.floor(index / 250)}.${(index % 250) + 1}:5878`;

/** A Membership that counts its ring builds (as seen by ring listeners) and its status changes. */
function observed(membership: Membership): { rings: HashRing[]; changes: string[] } {
  const rings: HashRing[] = [];
  const changes: string[] = [];
  membership.onRingChange((placement) => rings.push(placement.read));
  membership.onChange(({ address, to }) => changes.push(`${address} ${to}`));
  return { rings, changes };
}

describe('Membership batches', () => {
  it('takes a whole member list with one ring build, and tells status listeners of each member', () => {
    const membership = new Membership(address(0), [address(1)]);
    const { rings, changes } = observed(membership);
    const list: MemberState[] = Array.from({ length: 100 }, (_, i) => ({
      address: address(i + 1),
      status: 'alive',
      incarnation: 1,
    }));

    const changed = membership.applyAll(list);
    expect(changed, 'each newer state, the known one included').to.have.length(100);
    expect(rings, 'one ring for the batch').to.have.length(1);
    expect(rings[0]?.size).to.equal(101);
    expect(membership.ring).to.equal(rings[0]);
    expect(changes, 'the 99 new members, not the one already alive').to.have.length(99);
  });

  it('builds no ring for a batch that changes only statuses, and none for news it already has', () => {
    const membership = new Membership(address(0), [address(1), address(2)]);
    const ring = membership.ring;
    const { rings, changes } = observed(membership);
    const news: MemberState[] = [
      { address: address(1), status: 'suspect', incarnation: 0 },
      { address: address(2), status: 'dead', incarnation: 0 },
    ];

    expect(membership.applyAll(news)).to.deep.equal(news);
    expect(membership.applyAll(news), 'nothing new the second time').to.deep.equal([]);
    expect(rings).to.deep.equal([]);
    expect(membership.ring).to.equal(ring);
    expect(changes).to.deep.equal([`${address(1)} suspect`, `${address(2)} dead`]);
  });

  it('rebuilds once for a batch where members join and leave, with the ring of the batch end', () => {
    const membership = new Membership(address(0), [address(1), address(2)]);
    const { rings } = observed(membership);
    membership.applyAll([
      { address: address(1), status: 'left', incarnation: 1 },
      { address: address(3), status: 'alive', incarnation: 0 },
      { address: address(4), status: 'alive', incarnation: 0 },
    ]);
    expect(rings.map((ring) => ring.members)).to.deep.equal([
      [address(0), address(2), address(3), address(4)],
    ]);
  });

  it('shows status listeners the ring from before the batch while it is applied', () => {
    const membership = new Membership(address(0));
    const before = membership.ring;
    const seen: number[] = [];
    membership.onChange(() => seen.push(membership.ring.size));
    membership.applyAll([1, 2, 3].map((i) => ({ address: address(i), status: 'alive', incarnation: 0 })));
    expect(seen).to.deep.equal([1, 1, 1]);
    expect(membership.ring).to.not.equal(before);
    expect(membership.ring.size).to.equal(4);
  });

  it("builds the ring once for a push-pull that names a whole cluster, as a joiner's first one does", () => {
    const membership = new Membership(address(0), [address(1)]);
    const { rings } = observed(membership);
    const transport: PeerTransport = { call: () => Promise.reject(new Error('no network in this test')) };
    const detector = new FailureDetector({ membership, transport });
    const members: MemberState[] = Array.from({ length: 200 }, (_, i) => ({
      address: address(i + 1),
      status: 'alive',
      incarnation: 1,
    }));

    const reply = detector.handleSync({
      members: [...members, { address: address(0), status: 'alive', incarnation: 0 }],
    });
    expect(rings.map((ring) => ring.size)).to.deep.equal([201]);
    expect(reply.members).to.have.length(201);
  });
});
