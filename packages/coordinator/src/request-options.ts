import type { Consistency, JsonText, Version } from '@kvdb/core';
import type { CollectKeysOptions } from './key-listing.js';

/** The options of the coordinator's client requests. */

export interface ConsistencyOptions {
  /**
   * How many replicas must answer: one, a majority of the key's replicas (the default), or all of them; or
   * `serial`, a consensus round among a majority that is linearizable with every other serial operation on the key.
   */
  consistency?: Consistency;
}

export interface SetOptions extends ConsistencyOptions {
  /**
   * Seconds until the value expires: above 0, at most `MAX_TTL_SECONDS`, fractions rounded to the ms.
   * @default none: the value stays until overwritten or popped
   */
  ttl?: number;
  /** Store only if the key holds no value; runs as a serial operation. */
  ifAbsent?: boolean;
  /** Store only if the key holds a value; runs as a serial operation. */
  ifPresent?: boolean;
  /**
   * The write's version, chosen by the client (see `parseStamp`); not with a serial or conditional set.
   * @default a version from this node's clock
   */
  stamp?: Version;
}

/** The options of `setMany`: each entry written as `set` writes it. */
export interface SetManyOptions extends ConsistencyOptions {
  /** One version for every entry (see `SetOptions.stamp`). */
  stamp?: Version;
}

export interface CasOptions {
  /** Store only if the key's value deep-equals this (`null` included); left out, only if it holds no value. */
  expected?: JsonText;
  /** Seconds until a stored value expires, as `set` takes it. @default none */
  ttl?: number;
}

export interface DefaultOptions extends ConsistencyOptions {
  /** Returned when the key holds no value. */
  default?: JsonText;
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
