import type { HashRing } from './hash-ring.js';
import { RING_SIZE } from './hasher.js';
import type { MemberAddress } from './member.js';

/** A member's part of a ring: the fraction of positions it is primary for, and where they lie. */
export interface RingShare {
  share: number;
  /** `[start, end)` as fractions of the ring, in ring order, adjacent arcs of the member merged. */
  arcs: Array<[number, number]>;
}

/** Arc ends kept to this many decimals: finer than any screen draws, and short on the wire. */
const DIGITS = 1e6;

/**
 * Each member's primary share of the ring, with its arcs. Shares are exact (summed over every segment); the arcs
 * are exact too unless they would number more than `maxArcs`, in which case the ring is sampled at `maxArcs`
 * evenly spaced points and each piece drawn as its midpoint's owner has it.
 */
export function ringShares(ring: HashRing, maxArcs: number): Map<MemberAddress, RingShare> {
  const shares = new Map<MemberAddress, RingShare>(ring.members.map((m) => [m, { share: 0, arcs: [] }]));
  const runs: Array<[number, number, MemberAddress]> = [];
  for (let segment = 0; segment < ring.segmentCount; segment++) {
    const owner = ring.segmentReplicas(segment, 1)[0];
    if (owner === undefined) continue;
    for (const [start, end] of ring.segmentRanges(segment)) {
      (shares.get(owner) as RingShare).share += (end - start + 1) / RING_SIZE;
      runs.push([start, end + 1, owner]);
    }
  }
  runs.sort((a, b) => a[0] - b[0]);
  const arcs = merged(runs);
  const drawn = arcs.length <= maxArcs ? arcs : merged(sampled(ring, maxArcs));
  for (const [start, end, owner] of drawn) {
    (shares.get(owner) as RingShare).arcs.push([rounded(start / RING_SIZE), rounded(end / RING_SIZE)]);
  }
  return shares;
}

/** The ring cut into `count` equal pieces, each its midpoint's owner's. */
function sampled(ring: HashRing, count: number): Array<[number, number, MemberAddress]> {
  const pieces: Array<[number, number, MemberAddress]> = [];
  for (let piece = 0; piece < count; piece++) {
    const start = Math.floor((piece * RING_SIZE) / count);
    const end = Math.floor(((piece + 1) * RING_SIZE) / count);
    const owner = ring.replicasAt(Math.floor((start + end) / 2), 1)[0];
    if (owner !== undefined) pieces.push([start, end, owner]);
  }
  return pieces;
}

/** Runs in ring order with each member's adjacent runs joined. */
function merged(runs: Array<[number, number, MemberAddress]>): Array<[number, number, MemberAddress]> {
  const result: Array<[number, number, MemberAddress]> = [];
  for (const run of runs) {
    const last = result[result.length - 1];
    if (last !== undefined && last[2] === run[2] && last[1] === run[0]) last[1] = run[1];
    else result.push([...run]);
  }
  return result;
}

function rounded(fraction: number): number {
  return Math.round(fraction * DIGITS) / DIGITS;
}
