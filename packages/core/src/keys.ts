import type { KeyVersion } from './peer-protocol.js';
import { isDeletedAt } from './record.js';
import type { ScanOptions } from './store.js';
import type { Version } from './version.js';

/**
 * The order of keys wherever kvdb lists them: by Unicode code point, which is the order of their UTF-8 bytes (and
 * so of LevelDB's). It differs from JavaScript's `<` only where a surrogate pair (U+10000 and up) meets a character
 * from U+E000 to U+FFFF: `<` compares UTF-16 code units and puts the pair first.
 */
export function compareKeys(a: string, b: string): number {
  return compareKeyRanges(a, 0, a.length, b, 0, b.length);
}

/** `compareKeys` of `a.slice(aStart, aEnd)` and `b.slice(bStart, bEnd)`, without slicing. */
export function compareKeyRanges(
  a: string,
  aStart: number,
  aEnd: number,
  b: string,
  bStart: number,
  bEnd: number,
): number {
  const length = Math.min(aEnd - aStart, bEnd - bStart);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(aStart + i);
    const y = b.charCodeAt(bStart + i);
    if (x !== y) return x >= 0xd800 && y >= 0xd800 ? codePointRank(x) - codePointRank(y) : x - y;
  }
  return aEnd - aStart - (bEnd - bStart);
}

/** Surrogates (0xD800–0xDFFF) stand for code points above 0xFFFF: rank them after 0xE000–0xFFFF. */
function codePointRank(unit: number): number {
  return unit <= 0xdfff ? unit + 0x2000 : unit - 0x800;
}

/**
 * One page of a store's key scan (see `Store.scanKeys`): `sorted(from)` iterates the store's entries in
 * `compareKeys` order starting at `from` (inclusive; at the first key when undefined), and `head` reads a
 * stored value's head. This applies the cursor, the prefix, the limit and `now`.
 */
export function scanPage<T>(
  sorted: (from: string | undefined) => Iterable<readonly [string, T]>,
  { prefix, after, limit, now }: ScanOptions,
  head: (value: T) => { version: Version; deleted: boolean; expires?: number },
): KeyVersion[] {
  const page: KeyVersion[] = [];
  const from =
    after !== undefined && (prefix === undefined || compareKeys(after, prefix) > 0) ? after : prefix;
  for (const [key, value] of sorted(from)) {
    if (page.length >= limit) break;
    if (key === after) continue;
    if (prefix !== undefined && !key.startsWith(prefix)) break;
    const found = head(value);
    page.push([key, found.version, now === undefined ? found.deleted : isDeletedAt(found, now)]);
  }
  return page;
}
