import { DEFAULT_VNODES } from './constants.js';
import { type Hasher, md5Hasher, RING_SIZE } from './hasher.js';
import type { MemberAddress } from './member.js';
import { memberTokens, mergeTokens } from './ring-tokens.js';

export interface HashRingInit {
  /**
   * Virtual nodes (tokens) per member.
   * @default DEFAULT_VNODES
   */
  vnodes?: number;
  /**
   * Places keys and tokens on the ring.
   * @default md5Hasher
   */
  hasher?: Hasher;
}

/**
 * A consistent-hash ring with virtual nodes. Immutable: membership changes build a new ring. Every node that
 * builds a ring from the same member set, in any order, gets the same tokens and so the same preference lists.
 */
export class HashRing {
  readonly members: readonly MemberAddress[];
  readonly vnodes: number;
  readonly hasher: Hasher;
  private readonly tokens: Float64Array;
  private readonly owners: Uint32Array;
  private cachedId: string | undefined;

  constructor(members: Iterable<MemberAddress>, init: HashRingInit = {}) {
    this.vnodes = init.vnodes ?? DEFAULT_VNODES;
    this.hasher = init.hasher ?? md5Hasher;
    if (!Number.isInteger(this.vnodes) || this.vnodes < 1) {
      throw new TypeError(`Expected \`vnodes\` to be an integer from 1 and up, got \`${this.vnodes}\``);
    }
    this.members = [...new Set(members)].sort();

    const merged = mergeTokens(this.members.map((member) => memberTokens(this.hasher, this.vnodes, member)));
    this.tokens = merged.tokens;
    this.owners = merged.owners;
  }

  get size(): number {
    return this.members.length;
  }

  /**
   * Names this ring: equal on every node with the same members, vnodes and hasher. Nodes compare it before
   * comparing digests, which only mean the same thing over the same ring.
   */
  get id(): string {
    this.cachedId ??= `${this.hasher.name}/${this.vnodes}/${this.hasher.hash(this.members.join(','))}`;
    return this.cachedId;
  }

  /**
   * Segments are the arcs between consecutive tokens; every key in one segment has the same preference list.
   * Anti-entropy keeps a digest per segment. There are `members x vnodes` of them.
   */
  get segmentCount(): number {
    return this.tokens.length;
  }

  /** The segment a key falls in. */
  segmentOf(key: string): number {
    return this.segmentAt(this.hasher.hash(key));
  }

  /** The segment that holds a position on the ring (a key's `hasher.hash`). */
  segmentAt(position: number): number {
    return this.firstTokenAtOrAfter(position);
  }

  /** The position on the ring where a segment ends (inclusive): its token. */
  segmentEnd(segment: number): number {
    return this.tokens[segment] ?? 0;
  }

  /**
   * The positions a segment covers, as ranges of whole positions (both ends included), lowest first: one range, or
   * two for the segment that wraps past the top of the ring, or none for a segment between two equal tokens.
   */
  segmentRanges(segment: number): Array<[number, number]> {
    const end = this.tokens[segment];
    if (end === undefined) return [];
    if (segment > 0) {
      const start = (this.tokens[segment - 1] ?? 0) + 1;
      return start <= end ? [[start, end]] : [];
    }
    const ranges: Array<[number, number]> = [[0, end]];
    const top = (this.tokens[this.tokens.length - 1] ?? 0) + 1;
    if (top < RING_SIZE) ranges.push([top, RING_SIZE - 1]);
    return ranges;
  }

  /** The first `n` distinct members clockwise from a position on the ring (see `segmentEnd`). */
  replicasAt(position: number, n: number): MemberAddress[] {
    return this.walk(position, n);
  }

  /** The preference list shared by every key of a segment. */
  segmentReplicas(segment: number, n: number): MemberAddress[] {
    return this.walkFrom(segment, n);
  }

  has(member: MemberAddress): boolean {
    return this.members.includes(member);
  }

  /** The first `n` distinct members clockwise from the key's position, primary first (fewer if the ring is smaller). */
  preferenceList(key: string, n: number): MemberAddress[] {
    // With one member every key is its own; a single node skips hashing every key it serves.
    if (this.members.length <= 1) return n >= 1 ? [...this.members] : [];
    return this.walk(this.hasher.hash(key), n);
  }

  /** The member that owns the key's position: the head of its preference list. */
  primary(key: string): MemberAddress | undefined {
    return this.preferenceList(key, 1)[0];
  }

  withMember(member: MemberAddress): HashRing {
    return new HashRing([...this.members, member], { vnodes: this.vnodes, hasher: this.hasher });
  }

  withoutMember(member: MemberAddress): HashRing {
    return new HashRing(
      this.members.filter((m) => m !== member),
      { vnodes: this.vnodes, hasher: this.hasher },
    );
  }

  private walk(position: number, n: number): MemberAddress[] {
    return this.walkFrom(this.firstTokenAtOrAfter(position), n);
  }

  private walkFrom(start: number, n: number): MemberAddress[] {
    const wanted = Math.min(n, this.members.length);
    const result: MemberAddress[] = [];
    if (wanted <= 0) return result;
    const count = this.tokens.length;
    let index = start;
    for (let step = 0; step < count && result.length < wanted; step++, index++) {
      const member = this.members[this.owners[index % count] ?? -1];
      if (member === undefined) throw new Error(`token ${index % count} of the ring has no member`);
      if (!result.includes(member)) result.push(member);
    }
    return result;
  }

  private firstTokenAtOrAfter(position: number): number {
    let low = 0;
    let high = this.tokens.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.tokens[mid] ?? 0) < position) low = mid + 1;
      else high = mid;
    }
    return low === this.tokens.length ? 0 : low;
  }
}
