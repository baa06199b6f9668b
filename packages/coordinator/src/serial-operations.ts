import {
  type CasResult,
  isLive,
  type JsonText,
  type JsonValue,
  type KVRecord,
  liveRecord,
  NULL_TEXT,
  parseJsonText,
} from '@kvdb/core';
import type { SerialDecision } from './serial-round.js';

/**
 * What each serial operation makes of a key's current record (see `SerialRounds.run`): pure functions, so that a
 * round can decide again on a newer record without the operation noticing.
 */

/** The value a record holds at `now`, if it holds one (a tombstone or an expired value holds none). */
function heldValue(
  current: KVRecord | undefined,
  now: number,
): { live: true; value: JsonText } | { live: false } {
  return isLive(current, now) ? { live: true, value: current.value } : { live: false };
}

/** A read: the record as the round found it, or none if it had expired by the round's time. */
export function readCurrent(
  current: KVRecord | undefined,
  now: number,
): SerialDecision<KVRecord | undefined> {
  return { result: isLive(current, now) ? current : undefined };
}

export interface SetCondition {
  /** Store only if the key holds no value. */
  ifAbsent?: boolean;
  /** Store only if the key holds a value. */
  ifPresent?: boolean;
}

/** A set, unconditional or not, expiring `lifetimeMs` after its version when given: answers whether it stored. */
export function setValue(value: JsonText, { ifAbsent, ifPresent }: SetCondition, lifetimeMs?: number) {
  return (current: KVRecord | undefined, now: number): SerialDecision<boolean> => {
    const { live } = heldValue(current, now);
    if ((ifAbsent === true && live) || (ifPresent === true && !live)) return { result: false };
    return { result: true, write: (version) => liveRecord(value, version, lifetimeMs) };
  };
}

/** A pop: the value it takes (the default when there is none), leaving a tombstone. */
export function popValue(fallback: JsonText) {
  return (current: KVRecord | undefined, now: number): SerialDecision<JsonText> => {
    const found = heldValue(current, now);
    if (!found.live) return { result: fallback };
    return { result: found.value, write: (version) => ({ deleted: true, version }) };
  };
}

/**
 * A compare-and-set: stores `value` (expiring `lifetimeMs` after its version when given) when the current value
 * deep-equals `expected` (given as `{ value }`), or, without `expected`, when the key holds no value.
 */
export function compareAndSet(
  value: JsonText,
  expected: { value: JsonText } | undefined,
  lifetimeMs?: number,
) {
  return (current: KVRecord | undefined, now: number): SerialDecision<CasResult<JsonText>> => {
    const found = heldValue(current, now);
    const matches =
      expected === undefined ? !found.live : found.live && sameValue(found.value, expected.value);
    if (!matches) {
      return {
        result: { swapped: false, exists: found.live, current: found.live ? found.value : NULL_TEXT },
      };
    }
    return {
      result: { swapped: true, exists: found.live, current: value },
      write: (version) => liveRecord(value, version, lifetimeMs),
    };
  };
}

/**
 * Whether two texts hold deep-equal values: the same text, or texts that differ only in spacing, escapes or the
 * order of object members. Parses only when the texts differ: a compare-and-set of what a read returned sends
 * back the very text it read.
 */
function sameValue(a: JsonText, b: JsonText): boolean {
  return a === b || jsonEqual(parseJsonText(a), parseJsonText(b));
}

/** Deep equality of JSON values, numbers compared with `===` (so `0` equals `-0`, as JSON does not tell them apart). */
function jsonEqual(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, index) => jsonEqual(item, b[index] as JsonValue));
  }
  const names = Object.keys(a);
  if (names.length !== Object.keys(b).length) return false;
  return names.every(
    (name) => Object.hasOwn(b, name) && jsonEqual(a[name] as JsonValue, b[name] as JsonValue),
  );
}
