import { compareVersions, isVersion, type Version } from './version.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface LiveRecord {
  readonly version: Version;
  readonly value: JsonValue;
  readonly deleted?: undefined;
}

/** What `pop` leaves behind: it carries a version so that the delete wins over older writes everywhere. */
export interface Tombstone {
  readonly version: Version;
  readonly deleted: true;
}

export type KVRecord = LiveRecord | Tombstone;

/** A record without its value: enough to order it against others and to hash it into a digest. */
export interface RecordHead {
  readonly version: Version;
  readonly deleted?: true;
}

export function headOf(record: KVRecord): RecordHead {
  return isTombstone(record) ? { version: record.version, deleted: true } : { version: record.version };
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

/** Shape check for records arriving from peers. */
export function isRecord(input: unknown): input is KVRecord {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return false;
  const candidate = input as Record<string, unknown>;
  if (!isVersion(candidate.version)) return false;
  if (candidate.deleted === true) return true;
  return candidate.deleted === undefined && Object.hasOwn(candidate, 'value');
}
