import type { Digest, HashRing, MemberAddress, RecordHead } from '@kvdb/core';

/**
 * Names how `recordHash` computes, in `DigestIndex.id`: nodes whose record hashes differ (md5 before this one)
 * never compare digests, which would differ in every segment and have anti-entropy exchange every key.
 */
export const DIGEST_FORMAT = 'mm3x2';

/** The seeds of the two 32-bit halves of a record hash. */
const SEED_HIGH = 0x9747b28c;
const SEED_LOW = 0x2f1b3c5d;
const TWO_TO_32 = 0x1_0000_0000;

/**
 * A record's contribution to a digest: 64 bits over its key, version and kind, as two 32-bit halves with their own
 * seeds, each mixed the way MurmurHash3 mixes its blocks (one block per UTF-16 unit or 32-bit number). A digest only
 * has to change, all but certainly, when a replica's records do; nothing is gained by forging a collision, so a
 * cryptographic hash is not needed. This is about five times cheaper than md5 was here, and it runs twice on every
 * write a replica takes. Replicas compare digests only with replicas that compute them the same way: the id they
 * exchange (`DigestIndex.id`) names both the ring and the hash.
 */
export function recordHash(key: string, record: RecordHead): Digest {
  const { wall, counter, node } = record.version;
  const kind = record.deleted === true ? 1 : 0;
  return [half(SEED_HIGH, key, wall, counter, node, kind), half(SEED_LOW, key, wall, counter, node, kind)];
}

function half(seed: number, key: string, wall: number, counter: number, node: string, kind: number): number {
  let h = mixText(seed, key);
  h = mixBlock(h, wall % TWO_TO_32);
  h = mixBlock(h, Math.floor(wall / TWO_TO_32));
  h = mixBlock(h, counter % TWO_TO_32);
  h = mixBlock(h, Math.floor(counter / TWO_TO_32));
  h = mixText(h, node);
  h = mixBlock(h, kind);
  return finish(h ^ (key.length + node.length));
}

function mixText(h: number, text: string): number {
  let state = h;
  for (let i = 0; i < text.length; i++) state = mixBlock(state, text.charCodeAt(i));
  return state;
}

function mixBlock(h: number, block: number): number {
  let k = Math.imul(block, 0xcc9e2d51);
  k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
  const mixed = h ^ k;
  return (Math.imul((mixed << 13) | (mixed >>> 19), 5) + 0xe6546b64) | 0;
}

/** MurmurHash3's finaliser: every input bit reaches every output bit. */
function finish(h: number): number {
  let x = h ^ (h >>> 16);
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * The XOR of every stored record's hash, per ring segment, kept up to date on each write (on rings of two or more
 * members; a lone node has no one to compare with): comparing two replicas' digests costs one number pair per
 * segment, whatever the number of keys. XOR makes it order-free and lets a replaced record be taken out exactly.
 * Built for one ring; rebuilt when the ring changes.
 */
export class DigestIndex {
  readonly ring: HashRing;
  /** What replicas compare before their digests: equal when they use the same ring and the same record hash. */
  readonly id: string;
  private readonly digests: Uint32Array;
  /** Per `self|n`: every peer that shares segments with `self`, with those segments in ring order. */
  private readonly shared = new Map<string, Map<MemberAddress, number[]>>();

  constructor(ring: HashRing) {
    this.ring = ring;
    this.id = `${ring.id}/${DIGEST_FORMAT}`;
    this.digests = new Uint32Array(Math.max(1, ring.segmentCount) * 2);
  }

  /**
   * Takes `previous` (if any) out of its segment's digest and puts `next` (if any) in; `position` is the key's
   * place on the ring, when the caller has it already. On a ring of one member
   * there is no one to compare with, and any other ring gets an index built afresh, so this does nothing there.
   */
  replace(
    key: string,
    previous: RecordHead | undefined,
    next: RecordHead | undefined,
    position = this.ring.hasher.hash(key),
  ): void {
    if (this.ring.size <= 1) return;
    const slot = this.ring.segmentAt(position) * 2;
    if (previous !== undefined) this.xor(slot, recordHash(key, previous));
    if (next !== undefined) this.xor(slot, recordHash(key, next));
  }

  segment(segment: number): Digest {
    return [this.digests[segment * 2] ?? 0, this.digests[segment * 2 + 1] ?? 0];
  }

  /** Puts a record known to fall in `segment` into that segment's digest. */
  include(segment: number, key: string, head: RecordHead): void {
    this.xor(segment * 2, recordHash(key, head));
  }

  /** Sets one segment's digest, as recomputed from the store. */
  assign(segment: number, [high, low]: Digest): void {
    if (segment < 0 || segment >= this.ring.segmentCount) return;
    this.digests[segment * 2] = high;
    this.digests[segment * 2 + 1] = low;
  }

  /** The XOR of the given segments' digests: equal on two replicas when they hold the same records there. */
  combine(segments: readonly number[]): Digest {
    let high = 0;
    let low = 0;
    for (const segment of segments) {
      high ^= this.digests[segment * 2] ?? 0;
      low ^= this.digests[segment * 2 + 1] ?? 0;
    }
    return [high >>> 0, low >>> 0];
  }

  /** The segments whose first `n` replicas include both `self` and `peer`: the ones the two must agree on. */
  sharedSegments(self: MemberAddress, peer: MemberAddress, n: number): number[] {
    return this.sharing(self, n).get(peer) ?? [];
  }

  /** The members that share segments with `self` (its replica peers), in address order. */
  replicaPeers(self: MemberAddress, n: number): MemberAddress[] {
    return [...this.sharing(self, n).keys()].sort();
  }

  /**
   * Every peer's shared segments, found in one walk of the ring: a cluster of N members has N × vnodes segments,
   * and a walk per peer would cost O(N²) on each ring change.
   */
  private sharing(self: MemberAddress, n: number): Map<MemberAddress, number[]> {
    const cacheKey = `${self}|${n}`;
    let peers = this.shared.get(cacheKey);
    if (peers === undefined) {
      peers = new Map();
      for (let segment = 0; segment < this.ring.segmentCount; segment++) {
        const replicas = this.ring.segmentReplicas(segment, n);
        if (!replicas.includes(self)) continue;
        for (const peer of replicas) {
          if (peer === self) continue;
          const segments = peers.get(peer);
          if (segments === undefined) peers.set(peer, [segment]);
          else segments.push(segment);
        }
      }
      this.shared.set(cacheKey, peers);
    }
    return peers;
  }

  private xor(slot: number, [high, low]: Digest): void {
    this.digests[slot] = ((this.digests[slot] ?? 0) ^ high) >>> 0;
    this.digests[slot + 1] = ((this.digests[slot + 1] ?? 0) ^ low) >>> 0;
  }
}
