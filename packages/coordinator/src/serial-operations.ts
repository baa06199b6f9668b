import { isDeepStrictEqual } from 'node:util';
import { type CasResult, isLive, type JsonValue, type KVRecord, liveRecord } from '@kvdb/core';
import type { SerialDecision } from './serial-round.js';

/**
 * What each serial operation makes of a key's current record (see `SerialRounds.run`): pure functions, so that a
 * round can decide again on a newer record without the operation noticing.
 */

/** The value a record holds at `now`, if it holds one (a tombstone or an expired value holds none). */
function heldValue(
  current: KVRecord | undefined,
  now: number,
): { live: true; value: JsonValue } | { live: false } {
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
export function setValue(value: JsonValue, { ifAbsent, ifPresent }: SetCondition, lifetimeMs?: number) {
  return (current: KVRecord | undefined, now: number): SerialDecision<boolean> => {
    const { live } = heldValue(current, now);
    if ((ifAbsent === true && live) || (ifPresent === true && !live)) return { result: false };
    return { result: true, write: (version) => liveRecord(value, version, lifetimeMs) };
  };
}

/** A pop: the value it takes (the default when there is none), leaving a tombstone. */
export function popValue(fallback: JsonValue) {
  return (current: KVRecord | undefined, now: number): SerialDecision<JsonValue> => {
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
  value: JsonValue,
  expected: { value: JsonValue } | undefined,
  lifetimeMs?: number,
) {
  return (current: KVRecord | undefined, now: number): SerialDecision<CasResult> => {
    const found = heldValue(current, now);
    const matches =
      expected === undefined ? !found.live : found.live && isDeepStrictEqual(found.value, expected.value);
    if (!matches) {
      return { result: { swapped: false, exists: found.live, current: found.live ? found.value : null } };
    }
    return {
      result: { swapped: true, exists: found.live, current: value },
      write: (version) => liveRecord(value, version, lifetimeMs),
    };
  };
}
