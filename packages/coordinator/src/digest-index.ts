import { hash } from 'node:crypto';
import type { Digest, HashRing, MemberAddress, RecordHead } from '@kvdb/core';

/** A record's contribution to a digest: 64 bits of md5 over its key, version and kind. */
export function recordHash(key: string, record: RecordHead): Digest {
  const { wall, counter, node } = record.version;
  const kind = record.deleted === true ? 'd' : 'v';
  // The one-shot hash() to hex is several times cheaper than createHash() to a Buffer; it runs twice per write.
  const digest = hash('md5', `${key}\0${wall}.${counter}.${node}\0${kind}`, 'hex');
  return [Number.parseInt(digest.slice(0, 8), 16), Number.parseInt(digest.slice(8, 16), 16)];
}

/**
 * The XOR of every stored record's hash, per ring segment, kept up to date on each write (on rings of two or more
 * members; a lone node has no one to compare with): comparing two replicas' digests costs one number pair per
 * segment, whatever the number of keys. XOR makes it order-free and lets a replaced record be taken out exactly.
 * Built for one ring; rebuilt when the ring changes.
 */
export class DigestIndex {
  readonly ring: HashRing;
  private readonly digests: Uint32Array;
  private readonly shared = new Map<string, number[]>();

  constructor(ring: HashRing) {
    this.ring = ring;
    this.digests = new Uint32Array(Math.max(1, ring.segmentCount) * 2);
  }

  /**
   * Takes `previous` (if any) out of its segment's digest and puts `next` (if any) in. On a ring of one member
   * there is no one to compare with, and any other ring gets an index built afresh, so this does nothing there.
   */
  replace(key: string, previous: RecordHead | undefined, next: RecordHead | undefined): void {
    if (this.ring.size <= 1) return;
    const slot = this.ring.segmentOf(key) * 2;
    if (previous !== undefined) this.xor(slot, recordHash(key, previous));
    if (next !== undefined) this.xor(slot, recordHash(key, next));
  }

  segment(segment: number): Digest {
    return [this.digests[segment * 2]!, this.digests[segment * 2 + 1]!];
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
      high ^= this.digests[segment * 2]!;
      low ^= this.digests[segment * 2 + 1]!;
    }
    return [high >>> 0, low >>> 0];
  }

  /** The segments whose first `n` replicas include both `self` and `peer`: the ones the two must agree on. */
  sharedSegments(self: MemberAddress, peer: MemberAddress, n: number): number[] {
    const cacheKey = `${self}|${peer}|${n}`;
    let segments = this.shared.get(cacheKey);
    if (segments === undefined) {
      segments = [];
      for (let segment = 0; segment < this.ring.segmentCount; segment++) {
        const replicas = this.ring.segmentReplicas(segment, n);
        if (replicas.includes(self) && replicas.includes(peer)) segments.push(segment);
      }
      this.shared.set(cacheKey, segments);
    }
    return segments;
  }

  private xor(slot: number, [high, low]: Digest): void {
    this.digests[slot] = (this.digests[slot]! ^ high) >>> 0;
    this.digests[slot + 1] = (this.digests[slot + 1]! ^ low) >>> 0;
  }
}
