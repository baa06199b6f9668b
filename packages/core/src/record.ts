import { MAX_TTL_SECONDS } from './constants.js';
import type { JsonText } from './json-text.js';
import type { TtlResult } from './protocol.js';
import { compareVersions, isVersion, type Version } from './version.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface LiveRecord {
  readonly version: Version;
  /** The value's JSON text, as the client sent it (see json-text.ts). */
  readonly value: JsonText;
  readonly deleted?: undefined;
  /**
   * When the value expires, in wall-clock ms (see `isExpired`); none: it holds until overwritten. From then on the
   * record reads as absent and counts as a tombstone, deleted at that time, for repair and collection.
   */
  readonly expires?: number;
}

/** What `pop` leaves behind: it carries a version so that the delete wins over older writes everywhere. */
export interface Tombstone {
  readonly version: Version;
  readonly deleted: true;
  readonly expires?: undefined;
}

export type KVRecord = LiveRecord | Tombstone;

/** A record without its value: enough to order it against others, hash it into a digest and tell if it expired. */
export interface RecordHead {
  readonly version: Version;
  readonly deleted?: true;
  readonly expires?: number;
}

export function headOf(record: KVRecord): RecordHead {
  if (isTombstone(record)) return { version: record.version, deleted: true };
  return record.expires === undefined
    ? { version: record.version }
    : { version: record.version, expires: record.expires };
}

export function isTombstone(record: KVRecord): record is Tombstone {
  return record.deleted === true;
}

/** The newer of two records (either may be missing); ties keep `a`. */
export function newerRecord(a: KVRecord | undefined, b: KVRecord): KVRecord;
export function newerRecord(a: KVRecord | undefined, b: KVRecord | undefined): KVRecord | undefined;
export function newerRecord(a: KVRecord | undefined, b: KVRecord | undefined): KVRecord | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareVersions(b.version, a.version) > 0 ? b : a;
}

/** Whether `candidate` would replace `current` in a store. */
export function supersedes(candidate: RecordHead, current: RecordHead | undefined): boolean {
  return current === undefined || compareVersions(candidate.version, current.version) > 0;
}

/**
 * Shape check for records arriving from peers: a tombstone never expires, an expiry is a whole ms from 1 up, a
 * value is JSON text (peers are trusted to send text their own front end checked).
 */
export function isRecord(input: unknown): input is KVRecord {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return false;
  const candidate = input as Record<string, unknown>;
  if (!isVersion(candidate.version)) return false;
  const { expires } = candidate;
  if (expires !== undefined && !(Number.isSafeInteger(expires) && (expires as number) >= 1)) return false;
  if (candidate.deleted === true) return expires === undefined;
  const { value } = candidate;
  return (
    candidate.deleted === undefined &&
    Object.hasOwn(candidate, 'value') &&
    typeof value === 'string' &&
    value.length > 0
  );
}

/*
 * Expiry. A record written with a time to live carries its expiry as an absolute wall-clock time, and every node
 * decides with its own clock whether it has passed: clocks must agree within `MAX_CLOCK_SKEW_MS` (see
 * @kvdb/coordinator) for nodes to agree on it. An expired record is a tombstone deleted at its expiry: it reads as
 * absent, listings leave it out, it is repaired and collected like a tombstone, and it keeps its version, so an
 * older value a stale replica holds still loses to it.
 */

/** Whether `ttl` is a time to live a write may take: a number of seconds above 0, at most `MAX_TTL_SECONDS`. */
export function isTtl(ttl: unknown): ttl is number {
  return typeof ttl === 'number' && ttl > 0 && ttl <= MAX_TTL_SECONDS;
}

/** What a bad `ttl` is told. */
export const TTL_EXPECTED = `Expected \`ttl\` to be a number of seconds above 0 and at most ${MAX_TTL_SECONDS} (10 years)`;

/**
 * A time to live in seconds as whole ms (at least 1), for `liveRecord`; undefined for none. Throws a RangeError
 * for anything `isTtl` refuses, so a caller checks before it writes.
 */
export function ttlMs(ttl: number | undefined): number | undefined {
  if (ttl === undefined) return undefined;
  if (!isTtl(ttl)) throw new RangeError(`${TTL_EXPECTED}, got \`${ttl}\``);
  return Math.max(1, Math.round(ttl * 1_000));
}

/**
 * The record a write of `value` stamped `version` stores: expiring `lifetimeMs` after the version's wall time
 * (never, without it). Counting from the version keeps the expiry after the write in version order, which
 * tombstone collection relies on.
 */
export function liveRecord(value: JsonText, version: Version, lifetimeMs?: number): LiveRecord {
  return lifetimeMs === undefined
    ? { value, version }
    : { value, version, expires: version.wall + lifetimeMs };
}

/** Whether the record (or head) has an expiry and `now` (wall ms) has reached it. */
export function isExpired(record: { readonly expires?: number }, now: number): boolean {
  return record.expires !== undefined && record.expires <= now;
}

/** Whether the record holds a value at `now`: it exists, is no tombstone and has not expired. */
export function isLive(record: KVRecord | undefined, now: number): record is LiveRecord {
  return record !== undefined && record.deleted !== true && !isExpired(record, now);
}

/** Whether the record (or head) counts as deleted at `now`: a tombstone, or expired by then. */
export function isDeletedAt(
  record: { readonly deleted?: boolean; readonly expires?: number },
  now: number,
): boolean {
  return record.deleted === true || isExpired(record, now);
}

/** What `ttl` answers for the newest record of a key at `now`: whether it holds a value, and its seconds left. */
export function timeToLive(record: KVRecord | undefined, now: number): TtlResult {
  if (!isLive(record, now)) return { exists: false, ttl: null };
  return { exists: true, ttl: record.expires === undefined ? null : (record.expires - now) / 1_000 };
}
