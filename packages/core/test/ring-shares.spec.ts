import { expect } from 'chai';
import { HashRing } from '../src/hash-ring.js';
import { RING_SIZE } from '../src/hasher.js';
import { ringShares } from '../src/ring-shares.js';

const members = ['10.0.0.1:5878', '10.0.0.2:5878', '10.0.0.3:5878', '10.0.0.4:5878'];

/** The member whose arcs hold `fraction`, from `ringShares`' answer. */
function ownerAt(shares: ReturnType<typeof ringShares>, fraction: number): string | undefined {
  for (const [member, { arcs }] of shares) {
    if (arcs.some(([start, end]) => start <= fraction && fraction < end)) return member;
  }
  return undefined;
}

describe('ringShares', () => {
  it('gives each member its exact primary share, all adding up to the whole ring', () => {
    const ring = new HashRing(members, { vnodes: 64 });
    const shares = ringShares(ring, 10_000);
    expect([...shares.keys()].sort()).to.deep.equal(members);
    const total = [...shares.values()].reduce((sum, { share }) => sum + share, 0);
    expect(total).to.be.closeTo(1, 1e-9);
    // Against the ring itself: the share of 20,000 evenly spaced positions each member is primary for.
    const counted = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const owner = ring.replicasAt(Math.floor(((i + 0.5) * RING_SIZE) / 20_000), 1)[0] as string;
      counted.set(owner, (counted.get(owner) ?? 0) + 1 / 20_000);
    }
    for (const [member, { share }] of shares) expect(share).to.be.closeTo(counted.get(member) ?? 0, 0.01);
  });

  it('draws arcs that tile the ring in order, each where its member is primary', () => {
    const ring = new HashRing(members, { vnodes: 16 });
    const shares = ringShares(ring, 10_000);
    const arcs = [...shares.values()].flatMap(({ arcs }) => arcs).sort((a, b) => a[0] - b[0]);
    expect(arcs[0]?.[0]).to.equal(0);
    expect(arcs[arcs.length - 1]?.[1]).to.equal(1);
    for (let i = 1; i < arcs.length; i++) expect(arcs[i]?.[0]).to.equal(arcs[i - 1]?.[1]);
    for (let i = 0; i < 1_000; i++) {
      const position = Math.floor(((i + 0.5) * RING_SIZE) / 1_000);
      const fraction = position / RING_SIZE;
      const near = arcs.some(
        ([start, end]) => Math.abs(start - fraction) < 1e-5 || Math.abs(end - fraction) < 1e-5,
      );
      if (!near) expect(ownerAt(shares, fraction)).to.equal(ring.replicasAt(position, 1)[0]);
    }
  });

  it('samples the ring when the arcs would be too many, keeping the shares exact', () => {
    const ring = new HashRing(members, { vnodes: 256 });
    const exact = ringShares(ring, 100_000);
    const coarse = ringShares(ring, 32);
    expect([...coarse.values()].reduce((n, { arcs }) => n + arcs.length, 0)).to.be.at.most(32);
    for (const [member, { share }] of coarse) expect(share).to.equal(exact.get(member)?.share);
  });

  it('gives a lone member the whole ring as one arc, and an empty ring nothing', () => {
    expect(ringShares(new HashRing(['a:1']), 100).get('a:1')).to.deep.equal({ share: 1, arcs: [[0, 1]] });
    expect(ringShares(new HashRing([]), 100).size).to.equal(0);
  });
});
