import {
  compareKeys,
  type HashRing,
  InvalidParamsError,
  isDeletedAt,
  isVersion,
  type KeyPage,
  type KeyScanParams,
  type KeyVersion,
  type MemberAddress,
  type PeerParams,
  type PeerResult,
  RING_SIZE,
  type RingKeysParams,
  type RingKeysReply,
  type Store,
} from '@kvdb/core';
import { RING_SCAN_LIMIT } from './defaults.js';
import { type QuorumOutcome, quorumFailure } from './executor.js';
import { mergeHeads, mergeKeyPages } from './key-listing.js';
import type { KeyPositions, PlacedKey } from './key-positions.js';
import type { ListKeysOptions } from './request-options.js';

/** Hex digits of a position in a ring key: 48 bits. */
const POSITION_DIGITS = 12;
/**
 * Segments the first round of a page asks about. Each later round sizes its window to hold about the keys still
 * wanted, from how many the rounds before found per segment, and grows at most fourfold a round: every member
 * asked may answer up to the keys still wanted, so a window much larger than needed would have members read (and
 * send) keys the page then cuts.
 */
const FIRST_WINDOW = 4;
const WINDOW_GROWTH = 4;

/** A key as a listing in ring order carries it: its position as 12 hex digits, then the key (see `RingKeysParams`). */
export function ringKey(position: number, key: string): string {
  return position.toString(16).padStart(POSITION_DIGITS, '0') + key;
}

/** The key and position a ring key names, or undefined when it is not one. */
export function parseRingKey(text: string): PlacedKey | undefined {
  const digits = text.slice(0, POSITION_DIGITS);
  if (!/^[0-9a-f]{12}$/.test(digits)) return undefined;
  const position = Number.parseInt(digits, 16);
  return position < RING_SIZE ? [text.slice(POSITION_DIGITS), position] : undefined;
}

/**
 * The replica's side of `peer.ring_keys`: its keys in the asked ranges, in ring order, read from `positions` with
 * each key's head from the store, a record expired by `now` reported deleted. One call reads at most
 * `RING_SCAN_LIMIT` keys, so a prefix that matches few of them still answers in bounded time (with `stop` where it
 * ended). When the ranges hold more than that and the prefix matches fewer in the whole store, its matches are
 * looked up in key order instead.
 */
export function ringKeysPage(
  positions: KeyPositions,
  store: Pick<Store, 'headSync' | 'scanKeys'>,
  hash: (key: string) => number,
  { ranges, after, prefix, limit }: RingKeysParams,
  now: number,
): RingKeysReply {
  const from = after === undefined ? undefined : parseRingKey(after);
  // Ranges that hold more keys than one call reads, and a prefix that matches fewer than that in the whole
  // store: look the matches up by key instead (small windows never get here, so this is not paid page after page).
  if (prefix !== undefined && prefix !== '' && holdsMore(positions, ranges, RING_SCAN_LIMIT)) {
    const matches = store.scanKeys({ prefix, limit: RING_SCAN_LIMIT, now });
    if (matches.length < RING_SCAN_LIMIT) return fewMatches(matches, hash, { ranges, after, limit });
  }
  const heads: KeyVersion[] = [];
  let read = 0;
  for (const [low, high] of ranges) {
    for (const [key, position] of positions.between(low, high, from)) {
      read++;
      const head = prefix === undefined || key.startsWith(prefix) ? store.headSync(key) : undefined;
      if (head !== undefined) heads.push([ringKey(position, key), head.version, isDeletedAt(head, now)]);
      if (heads.length >= limit || read >= RING_SCAN_LIMIT) return { heads, stop: ringKey(position, key) };
    }
  }
  return { heads, stop: null };
}

/** Whether the ranges hold more than `count` keys. */
function holdsMore(positions: KeyPositions, ranges: ReadonlyArray<[number, number]>, count: number): boolean {
  let total = 0;
  for (const [low, high] of ranges) {
    total += positions.countBetween(low, high);
    if (total > count) return true;
  }
  return false;
}

/** `ringKeysPage` for the few keys that match a prefix, given in key order. */
function fewMatches(
  matches: KeyVersion[],
  hash: (key: string) => number,
  { ranges, after, limit }: Omit<RingKeysParams, 'prefix'>,
): RingKeysReply {
  const inRanges = (position: number) => ranges.some(([low, high]) => position >= low && position <= high);
  const found: KeyVersion[] = [];
  for (const [key, version, deleted] of matches) {
    const position = hash(key);
    const placed = ringKey(position, key);
    if (inRanges(position) && (after === undefined || compareKeys(placed, after) > 0)) {
      found.push([placed, version, deleted]);
    }
  }
  found.sort((a, b) => compareKeys(a[0], b[0]));
  if (found.length <= limit) return { heads: found, stop: null };
  const heads = found.slice(0, limit);
  return { heads, stop: heads.at(-1)?.[0] ?? null };
}

/** A stretch of the ring walked in one round: positions `low` to `high`, all in one segment. */
interface Span {
  low: number;
  high: number;
  replicas: MemberAddress[];
}

/** How a listing asks members: each its own params, every call settled (or timed out) before it resolves. */
export type AskEach = <M extends 'peer.keys' | 'peer.ring_keys'>(
  requests: ReadonlyMap<MemberAddress, PeerParams<M>>,
  method: M,
) => Promise<Pick<QuorumOutcome<PeerResult<M>>, 'succeeded' | 'failed' | 'timedOut'>>;

export interface Listing {
  /** The ring whose replicas serve reads. */
  ring: HashRing;
  /** Replicas per segment (the replication factor). */
  replicas: number;
  ask: AskEach;
}

/**
 * One page of the live keys in the cluster. A cluster of one member lists its store in `compareKeys` order; a
 * larger one walks the ring (see `walkRing`). Either way each key's newest version among the answers decides
 * whether it is live, so a stale replica cannot list a popped key.
 */
export async function listPage(
  listing: Listing,
  { prefix, cursor, limit }: ListKeysOptions & { limit: number },
): Promise<KeyPage> {
  const { ring } = listing;
  const after = readCursor(cursor, ring.size > 1);
  if (typeof after === 'object' || ring.size > 1) {
    const walked = await walkRing(listing, { prefix, limit, after: after as PlacedKey | undefined });
    return { keys: walked.keys, cursor: walked.after === null ? null : `r${walked.after}` };
  }
  const request: KeyScanParams = { limit };
  if (prefix !== undefined) request.prefix = prefix;
  if (after !== undefined) request.after = after;
  const outcome = await listing.ask(new Map(ring.members.map((member) => [member, request])), 'peer.keys');
  const answer = outcome.succeeded[0];
  if (answer === undefined) throw shortOfAnswers(ring.members, 1, outcome);
  const page = mergeKeyPages([answer.value], limit);
  return { keys: page.keys, cursor: page.cursor === null ? null : `k${page.cursor}` };
}

/**
 * One page of a listing in ring order. It walks the ring from the cursor a few segments a round, asking only each
 * segment's replicas about that segment (Riak's coverage of the ring, one range at a time); the page ends when
 * it holds `limit` keys, at the first place a replica stopped short, or at the end of the ring. As with a read,
 * every replica of a segment is asked and each key's newest version among the answers decides whether it is
 * live, so a stale replica cannot list a popped key; a segment needs one answer, so a listing works while one
 * replica of each key does. A member that failed or did not answer in time is not asked again for the page.
 *
 * The cursor it returns is a ring key (see `ringKey`), so a page costs about `limit` keys from each of R
 * replicas however many members the cluster has.
 */
async function walkRing(
  { ring, replicas, ask }: Listing,
  { prefix, limit, after: start }: { prefix?: string; limit: number; after?: PlacedKey },
): Promise<{ keys: string[]; after: string | null }> {
  const n = Math.min(replicas, ring.size);
  const keys: string[] = [];
  const silent = new Set<MemberAddress>();
  let at = start?.[1] ?? 0;
  let after = start === undefined ? undefined : ringKey(start[1], start[0]);
  let found = 0;
  let walked = 0;
  for (let window = FIRST_WINDOW; at < RING_SIZE; ) {
    const spans = spansFrom(ring, at, window, n);
    const requests = new Map<MemberAddress, RingKeysParams>();
    for (const { low, high, replicas: members } of spans) {
      for (const member of members) {
        if (silent.has(member)) continue;
        let request = requests.get(member);
        if (request === undefined) {
          request = { ranges: [], limit: limit - keys.length };
          if (after !== undefined) request.after = after;
          if (prefix !== undefined) request.prefix = prefix;
          requests.set(member, request);
        }
        request.ranges.push([low, high]);
      }
    }
    const outcome = await ask(requests, 'peer.ring_keys');
    // A peer is not trusted blindly: a malformed reply counts as no answer.
    const replies = outcome.succeeded.filter(({ value }) => isRingKeysReply(value));
    const answered = new Set(replies.map(({ target }) => target));
    for (const member of requests.keys()) if (!answered.has(member)) silent.add(member);
    for (const { replicas: members } of spans) {
      if (!members.some((member) => answered.has(member))) throw shortOfAnswers(members, 1, outcome);
    }
    let boundary: string | undefined;
    for (const { value } of replies) {
      const { stop } = value;
      if (stop !== null && (boundary === undefined || compareKeys(stop, boundary) < 0)) boundary = stop;
    }
    const page = mergeHeads(
      replies.map(({ value }) => value.heads),
      boundary,
      limit - keys.length,
    );
    for (const placed of page.keys) keys.push(placed.slice(POSITION_DIGITS));
    if (page.cursor !== null) return { keys, after: page.cursor };
    at = (spans.at(-1)?.high ?? RING_SIZE - 1) + 1;
    after = undefined;
    if (keys.length >= limit) return { keys, after: at < RING_SIZE ? ringKey(at, '') : null };
    // No replica stopped short, so each reported every key of its segments: about n answers a key.
    found += replies.reduce((sum, { value }) => sum + value.heads.length, 0) / n;
    walked += spans.length;
    const wanted = found === 0 ? Number.POSITIVE_INFINITY : ((limit - keys.length) * walked) / found;
    window = Math.max(1, Math.min(window * WINDOW_GROWTH, Math.ceil(wanted)));
  }
  return { keys, after: null };
}

function isRingKeysReply(reply: unknown): reply is RingKeysReply {
  if (typeof reply !== 'object' || reply === null) return false;
  const { heads, stop } = reply as Partial<RingKeysReply>;
  return (
    (stop === null || typeof stop === 'string') &&
    Array.isArray(heads) &&
    heads.every(
      (head) =>
        Array.isArray(head) &&
        typeof head[0] === 'string' &&
        isVersion(head[1]) &&
        typeof head[2] === 'boolean',
    )
  );
}

/** The error of a listing that a segment's replicas (or the lone member) did not answer enough. */
function shortOfAnswers(
  replicas: readonly MemberAddress[],
  required: number,
  { succeeded, failed, timedOut }: Pick<QuorumOutcome<unknown>, 'succeeded' | 'failed' | 'timedOut'>,
): Error {
  const among = ({ target }: { target: string }) => replicas.includes(target);
  const outcome = { succeeded: succeeded.filter(among), failed: failed.filter(among), timedOut };
  return quorumFailure('list_keys', undefined, replicas, required, outcome);
}

/** Up to `count` spans from position `at`, one per segment, in ring order, stopping at the top of the ring. */
function spansFrom(ring: HashRing, from: number, count: number, n: number): Span[] {
  const spans: Span[] = [];
  for (let at = from; spans.length < count && at < RING_SIZE; ) {
    const segment = ring.segmentAt(at);
    const end = ring.segmentEnd(segment);
    const high = end >= at ? end : RING_SIZE - 1;
    spans.push({ low: at, high, replicas: ring.segmentReplicas(segment, n) });
    at = high + 1;
  }
  return spans;
}

/** A cursor from a listing begun before the cluster grew from one member, or shrank to one. */
export class StaleCursorError extends InvalidParamsError {
  override name = 'StaleCursorError';

  constructor() {
    super(
      'This `cursor` is from a listing begun before the cluster grew from one member or shrank to one: list again from the start',
    );
  }
}

/**
 * Where a page starts, from the cursor of the page before: a key (`k` then the key) on a cluster of one member,
 * which lists in key order; a ring key (`r` then the ring key, see `ringKey`) on a larger one, which lists in
 * ring order. A cursor of the other kind means the membership changed during the listing.
 */
export function readCursor(cursor: string | undefined, ringOrder: boolean): string | PlacedKey | undefined {
  if (cursor === undefined) return undefined;
  const kind = cursor[0];
  const rest = cursor.slice(1);
  const placed = kind === 'r' ? parseRingKey(rest) : undefined;
  if ((kind !== 'k' || rest === '') && placed === undefined) {
    throw new InvalidParamsError('Expected `cursor` to be a cursor that list_keys returned');
  }
  if ((kind === 'r') !== ringOrder) throw new StaleCursorError();
  return placed ?? rest;
}
