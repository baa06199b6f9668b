import {
  errorFromRpc,
  InvalidParamsError,
  type JsonText,
  KVError,
  type MultiKeyFailure,
  NULL_TEXT,
  reasonOf,
} from '@kvdb/core';
import pLimit from 'p-limit';
import type { Coordinator } from './coordinator.js';
import type { ConsistencyOptions, SetManyOptions } from './request-options.js';

/**
 * Most keys of one multi-key request in flight at once. With the default `--max-batch` every key of a call starts
 * at once, so that a call takes one request timeout at worst (a hung replica fails every key together, not wave
 * after wave); a node that allows larger calls does not start them all in one turn.
 */
export const MULTI_KEY_CONCURRENCY = 1_000;

/** What a multi-key request runs on: the coordinator's own reads and writes of one key. */
export type KeyRequests = Pick<Coordinator, 'get' | 'set' | 'checkStamp'>;

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * The keys' values in the order given, `null` for a key that holds none. Each key is an ordinary `get` at the
 * level asked (quorum, read repair and all), every key in parallel whatever replicas own it; a key named twice is
 * read once. Rejects when any key fails (see `throwIfFailed`).
 */
export async function getMany(
  coordinator: KeyRequests,
  keys: readonly string[],
  options: ConsistencyOptions = {},
): Promise<JsonText[]> {
  // Each key once, with where it first appears, which is the index a failure names.
  const firsts = new Map<string, number>();
  for (const [index, key] of keys.entries()) if (!firsts.has(key)) firsts.set(key, index);
  const distinct = [...firsts.keys()];
  const { consistency } = options;
  const outcomes = await eachKey(distinct, (key) => coordinator.get(key, { consistency }));
  throwIfFailed('mget', distinct, [...firsts.values()], outcomes);
  const values = new Map<string, JsonText>();
  for (const [index, key] of distinct.entries()) {
    const outcome = outcomes[index];
    if (outcome?.ok) values.set(key, outcome.value);
  }
  return keys.map((key) => values.get(key) ?? NULL_TEXT);
}

/**
 * Writes each entry with an ordinary `set` at the level asked (pending owners, hints and all), every key in
 * parallel whatever replicas own it, and resolves once every key is acknowledged. Not atomic: when some keys fail
 * it rejects naming them (see `throwIfFailed`), and the keys that were acknowledged stay written. A key given
 * twice is refused before anything is written: which of two writes of one key in flight together wins is not
 * defined.
 */
export async function setMany(
  coordinator: KeyRequests,
  entries: ReadonlyArray<readonly [string, JsonText]>,
  options: SetManyOptions = {},
): Promise<true> {
  const keys = entries.map(([key]) => key);
  const seen = new Map<string, number>();
  for (const [index, key] of keys.entries()) {
    const first = seen.get(key);
    if (first !== undefined) {
      throw new InvalidParamsError(
        `Expected each key once in \`entries\`: entries ${first} and ${index} both set ${JSON.stringify(key)}`,
      );
    }
    seen.set(key, index);
  }
  const { consistency, stamp } = options;
  // Checked once, before any key: checked key by key, a stamp just over the bound would be refused for the first
  // keys and, the clock having moved on, taken for the rest.
  if (stamp !== undefined) coordinator.checkStamp(stamp);
  const outcomes = await eachKey(entries, ([key, value]) =>
    coordinator.set(key, value, { consistency, stamp }),
  );
  throwIfFailed('mset', keys, [...keys.keys()], outcomes);
  return true;
}

/** Runs `run` on every item, at most MULTI_KEY_CONCURRENCY at a time; resolves with each outcome in order. */
function eachKey<I, T>(items: readonly I[], run: (item: I) => Promise<T>): Promise<Array<Outcome<T>>> {
  const limit = pLimit(MULTI_KEY_CONCURRENCY);
  return Promise.all(
    items.map((item) =>
      limit(() => run(item)).then(
        (value): Outcome<T> => ({ ok: true, value }),
        (error: unknown): Outcome<T> => ({ ok: false, error }),
      ),
    ),
  );
}

/**
 * Throws when any key failed: an error with the class and code of the first failed key's error (in the order
 * given: a `QuorumNotReachedError` when replicas are down, as a `get` or `set` of that key would), whose `data`
 * (a `MultiKeyFailure`) names every key that failed and why. An error that is not a `KVError` (a fault of this
 * node, not of the request) is thrown as it is.
 */
function throwIfFailed(
  operation: MultiKeyFailure['operation'],
  keys: readonly string[],
  positions: readonly number[],
  outcomes: ReadonlyArray<Outcome<unknown>>,
): void {
  const failedKeys: MultiKeyFailure['failedKeys'] = [];
  for (const [i, outcome] of outcomes.entries()) {
    if (outcome.ok) continue;
    if (!(outcome.error instanceof KVError)) throw outcome.error;
    const { code } = outcome.error;
    failedKeys.push({ index: positions[i] ?? i, key: keys[i] ?? '', code, reason: reasonOf(outcome.error) });
  }
  const [first] = failedKeys;
  if (first === undefined) return;
  const data: MultiKeyFailure = { operation, keys: keys.length, failedKeys };
  const message = `${operation} failed for ${failedKeys.length} of ${keys.length} keys; the first: ${first.reason}`;
  throw errorFromRpc({ code: first.code, message, data });
}
