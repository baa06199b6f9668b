import { type Hasher, RING_SIZE } from './hasher.js';
import type { MemberAddress } from './member.js';

/** Members whose tokens are kept per hasher; past it the cache starts over (a member's tokens never change). */
const CACHED_MEMBERS = 10_000;

const cache = new WeakMap<Hasher, Map<string, Float64Array>>();

/**
 * A member's `vnodes` tokens. Every ring change builds a whole new ring on every node, and hashing each
 * member's tokens again (N × vnodes digests) was most of what a join into a large cluster cost: each member's are
 * hashed once per process instead.
 */
export function memberTokens(hasher: Hasher, vnodes: number, member: MemberAddress): Float64Array {
  let byMember = cache.get(hasher);
  if (byMember === undefined) {
    byMember = new Map();
    cache.set(hasher, byMember);
  }
  const key = `${vnodes}#${member}`;
  let tokens = byMember.get(key);
  if (tokens === undefined) {
    tokens = new Float64Array(vnodes);
    for (let i = 0; i < vnodes; i++) tokens[i] = hasher.hash(`${member}#${i}`);
    if (byMember.size >= CACHED_MEMBERS) byMember.clear();
    byMember.set(key, tokens);
  }
  return tokens;
}

/**
 * Merges token lists, one per owner, into one sorted list with each token's owner (the list's index); equal tokens
 * go in owner order, so every node builds the same ring. Tokens are spread evenly over the ring, so with a bucket
 * per token of the ring's range, each bucket holds about one and the merge takes linear time: a few ms for 200
 * members of 256 tokens, where sorting them all took 30.
 */
export function mergeTokens(lists: readonly Float64Array[]): { tokens: Float64Array; owners: Uint32Array } {
  const total = lists.reduce((sum, list) => sum + list.length, 0);
  const bucketOf = (token: number) =>
    Math.max(0, Math.min(total - 1, Math.floor((token / RING_SIZE) * total)));
  // Where each bucket's tokens start, and where the next one of it goes.
  const start = new Uint32Array(total + 1);
  for (const list of lists) {
    for (const token of list) {
      const next = bucketOf(token) + 1;
      start[next] = (start[next] ?? 0) + 1;
    }
  }
  for (let bucket = 0; bucket < total; bucket++)
    start[bucket + 1] = (start[bucket + 1] ?? 0) + (start[bucket] ?? 0);
  const free = start.slice(0, total);
  const tokens = new Float64Array(total);
  const owners = new Uint32Array(total);
  lists.forEach((list, owner) => {
    for (const token of list) {
      const bucket = bucketOf(token);
      const first = start[bucket] ?? 0;
      let at = free[bucket] ?? 0;
      free[bucket] = at + 1;
      // Insertion within the bucket; owners come in order, so an equal token stays after the earlier owner's.
      for (; at > first && (tokens[at - 1] ?? 0) > token; at--) {
        tokens[at] = tokens[at - 1] ?? 0;
        owners[at] = owners[at - 1] ?? 0;
      }
      tokens[at] = token;
      owners[at] = owner;
    }
  });
  return { tokens, owners };
}
