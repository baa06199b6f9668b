import { expect } from 'chai';
import { type Hasher, md5Hasher } from '../src/hasher.js';
import { memberTokens, mergeTokens } from '../src/ring-tokens.js';

/** Every token with its owner, sorted by token then owner: the order a ring's tokens must come in. */
function reference(lists: readonly Float64Array[]): { tokens: number[]; owners: number[] } {
  const points = lists.flatMap((list, owner) => [...list].map((token) => ({ token, owner })));
  points.sort((a, b) => a.token - b.token || a.owner - b.owner);
  return { tokens: points.map((p) => p.token), owners: points.map((p) => p.owner) };
}

describe('ring tokens', () => {
  it("gives a member's tokens, the same as hashing them afresh", () => {
    const tokens = memberTokens(md5Hasher, 64, '10.0.0.1:5878');
    const fresh = Array.from({ length: 64 }, (_, i) => md5Hasher.hash(`10.0.0.1:5878#${i}`));
    expect([...tokens]).to.deep.equal(fresh);
    expect(memberTokens(md5Hasher, 64, '10.0.0.1:5878'), 'from the cache').to.equal(tokens);
    expect(memberTokens(md5Hasher, 32, '10.0.0.1:5878')).to.have.length(32);
  });

  it('hashes a member once per hasher and vnodes', () => {
    let calls = 0;
    const counting: Hasher = {
      name: 'counting',
      hash: (input) => {
        calls++;
        return md5Hasher.hash(input);
      },
    };
    memberTokens(counting, 8, 'a');
    memberTokens(counting, 8, 'a');
    memberTokens(counting, 8, 'b');
    expect(calls).to.equal(16);
  });

  it('merges lists in token order, equal tokens in owner order', () => {
    const lists = [
      Float64Array.of(9, 1, 5),
      Float64Array.of(),
      Float64Array.of(2, 5, 10, 5),
      Float64Array.of(5, 0),
      Float64Array.of(11),
    ];
    const merged = mergeTokens(lists);
    expect([...merged.tokens]).to.deep.equal(reference(lists).tokens);
    expect([...merged.owners]).to.deep.equal(reference(lists).owners);
    expect([...merged.owners]).to.deep.equal([3, 0, 2, 0, 2, 2, 3, 0, 2, 4]);
    expect(mergeTokens([]).tokens).to.have.length(0);
    const crowded = [Float64Array.of(2 ** 48 - 1, 2 ** 48 - 3), Float64Array.of(2 ** 48 - 2, 0)];
    expect([...mergeTokens(crowded).tokens], 'tokens that share a bucket').to.deep.equal(
      reference(crowded).tokens,
    );
  });

  it('merges 200 members of 256 tokens as a sort of them all would', () => {
    const lists = Array.from({ length: 200 }, (_, i) => memberTokens(md5Hasher, 256, `10.0.1.${i}:5878`));
    const merged = mergeTokens(lists);
    const expected = reference(lists);
    expect([...merged.tokens]).to.deep.equal(expected.tokens);
    expect([...merged.owners]).to.deep.equal(expected.owners);
  });
});
