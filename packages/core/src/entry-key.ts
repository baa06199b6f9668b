import { getRandomValues } from 'node:crypto';

/*
 * The layout of an in-memory store's entry: a string that starts with its key's length, then the key, then
 * whatever the store keeps after it (see `MemoryStore`); and the seeded hash that places an entry's key in the
 * `EntryTable`.
 */

/**
 * An entry starts with its key's length: one character below 255, or 255 and three more (base 256). For keys
 * shorter than 2^24 characters (all of them: keys are at most 1,024 UTF-8 bytes by default) every one is at most
 * U+00FF, so a Latin-1 key and record stay a one-byte string.
 */
export function lengthPrefix(length: number): string {
  if (length < 0xff) return String.fromCharCode(length);
  return String.fromCharCode(0xff, length >>> 16, (length >>> 8) & 0xff, length & 0xff);
}

/** An entry of the key alone, as one flat string. */
export function keyEntry(key: string): string {
  return [lengthPrefix(key.length), key].join('');
}

/** Where the key starts in an entry. */
export function keyStart(entry: string): number {
  return entry.charCodeAt(0) < 0xff ? 1 : 4;
}

export function keyLength(entry: string): number {
  const first = entry.charCodeAt(0);
  if (first < 0xff) return first;
  return (entry.charCodeAt(1) << 16) | (entry.charCodeAt(2) << 8) | entry.charCodeAt(3);
}

/** Where the key ends in an entry: where what the store keeps after it starts. */
export function keyEnd(entry: string): number {
  return keyStart(entry) + keyLength(entry);
}

export function hashOfEntry(entry: string): number {
  const start = keyStart(entry);
  return hashRange(entry, start, start + keyLength(entry));
}

/**
 * Each process hashes with its own random seed, so that keys crafted to collide in one process (all probing the
 * same cells, which makes every lookup of them walk a long run) do not collide in another.
 */
const SEED = getRandomValues(new Uint32Array(1))[0] ?? 0;

/**
 * FNV-1a over the UTF-16 code units of `text.slice(start, end)`, from a seeded start, then MurmurHash3's finalizer
 * to spread it.
 */
export function hashRange(text: string, start: number, end: number): number {
  let hash = 0x811c9dc5 ^ SEED;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
