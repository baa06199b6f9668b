import type { Consistency, JsonValue } from '@kvdb/core';
import type { CollectKeysOptions } from './key-listing.js';

/** The options of the coordinator's client requests. */

export interface ConsistencyOptions {
  /** How many replicas must answer: one, a majority of the key's replicas (the default), or all of them. */
  consistency?: Consistency;
}

export interface SetOptions extends ConsistencyOptions {
  /**
   * Seconds until the value expires: above 0, at most `MAX_TTL_SECONDS`, fractions rounded to the ms.
   * @default none: the value stays until overwritten or popped
   */
  ttl?: number;
}

export interface DefaultOptions extends ConsistencyOptions {
  /** Returned when the key holds no value. */
  default?: JsonValue;
}

export interface ListKeysOptions {
  /** Only keys that start with this. */
  prefix?: string;
  /**
   * Most keys in the page, and how many entries each member is asked for: 1 to `MAX_LIST_LIMIT`.
   * @default MAX_LIST_LIMIT
   */
  limit?: number;
  /** The `cursor` of the previous page; leave out for the first. */
  cursor?: string;
}

export interface ListAllKeysOptions extends CollectKeysOptions {
  /** Only keys that start with this. */
  prefix?: string;
}
