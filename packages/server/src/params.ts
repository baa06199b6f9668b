import {
  CONSISTENCY_LEVELS,
  type Consistency,
  InvalidParamsError,
  isRecord,
  isTtl,
  type JsonText,
  type KVRecord,
  MAX_STAMP_COUNTER,
  parseStamp,
  TooLargeError,
  TTL_EXPECTED,
  type Version,
} from '@kvdb/core';
import type { Limits } from './config.js';
import type { ParamSpans, RequestSource, Span } from './json-spans.js';

/** Params after normalising: only the names the method declares, read from an object or by position. */
export interface Params {
  get(name: string): unknown;
  has(name: string): boolean;
  /**
   * The text the request gave a param as (at `path`, item by item, inside arrays), when the request came with
   * its body's text (see `RequestSource`); else undefined.
   */
  text(name: string, ...path: number[]): string | undefined;
}

/** Where a request's params came from: the body's text, and the request's place in its batch. */
export interface ParamsSource {
  source: RequestSource;
  index: number;
}

/** Named params, read from the request's own object: no copy on the path every request takes. */
class NamedParams implements Params {
  constructor(
    private readonly raw: object,
    private readonly from?: ParamsSource,
  ) {}

  get(name: string): unknown {
    return Object.hasOwn(this.raw, name) ? (this.raw as Record<string, unknown>)[name] : undefined;
  }

  has(name: string): boolean {
    return Object.hasOwn(this.raw, name);
  }

  text(name: string, ...path: number[]): string | undefined {
    return spanText(this.from, (spans) => (spans instanceof Map ? spans.get(name) : undefined), path);
  }
}

/** Positional params, by the names of their positions. */
class PositionalParams implements Params {
  private readonly values = new Map<string, unknown>();

  constructor(
    raw: readonly unknown[],
    private readonly names: readonly string[],
    private readonly from?: ParamsSource,
  ) {
    for (const [index, value] of raw.entries()) {
      const name = names[index];
      if (name !== undefined) this.values.set(name, value);
    }
  }

  get(name: string): unknown {
    return this.values.get(name);
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  text(name: string, ...path: number[]): string | undefined {
    const position = this.names.indexOf(name);
    return spanText(this.from, (spans) => (Array.isArray(spans) ? spans[position] : undefined), path);
  }
}

/** The text of the param `pick` finds among the request's spans, then `path` items into it. */
function spanText(
  from: ParamsSource | undefined,
  pick: (spans: ParamSpans) => Span | undefined,
  path: readonly number[],
): string | undefined {
  if (from === undefined) return undefined;
  const { source, index } = from;
  const spans = source.params(index);
  let at = spans === undefined ? undefined : pick(spans);
  for (const item of path) at = at?.items?.[item];
  if (at === undefined) return undefined;
  const text = source.text.slice(at.start, at.end);
  // A slice keeps the whole body alive in V8; a value that may outlive the request (a hint, a serial round's state)
  // must not hold a large batch with it, so a value under half its body is copied out.
  return 2 * text.length < source.text.length ? Buffer.from(text).toString() : text;
}

const NO_PARAMS: Params = new NamedParams(Object.freeze({}));

/**
 * Accepts named (`{"key": "a"}`) or positional (`["a"]`) params and returns them by name. Unknown names, extra
 * positions and other shapes are refused, so a typo never silently does something else.
 */
export function normalizeParams(
  method: string,
  raw: unknown,
  names: readonly string[],
  from?: ParamsSource,
): Params {
  if (raw === undefined) return NO_PARAMS;
  if (Array.isArray(raw)) {
    if (raw.length > names.length) {
      throw new InvalidParamsError(
        `\`${method}\` takes at most ${names.length} positional params (${names.join(', ') || 'none'}), got ${raw.length}`,
      );
    }
    return new PositionalParams(raw, names, from);
  }
  if (typeof raw !== 'object' || raw === null) {
    throw new InvalidParamsError(`Expected the params of \`${method}\` to be an object or an array`);
  }
  for (const name of Object.keys(raw)) {
    if (!names.includes(name)) {
      const expected = names.length > 0 ? `: expected ${names.map((n) => `\`${n}\``).join(', ')}` : '';
      throw new InvalidParamsError(`Unknown param \`${name}\` for \`${method}\`${expected}`);
    }
  }
  return new NamedParams(raw, from);
}

export function requireKey(params: Params, limits: Limits): string {
  const key = params.get('key');
  if (key === undefined) throw new InvalidParamsError('Missing param `key`');
  return keyParam('key', key, limits);
}

/** A key: a non-empty string of at most `--max-key-bytes`; `name` is what the errors call it. */
export function keyParam(name: string, key: unknown, limits: Limits): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidParamsError(`Expected \`${name}\` to be a non-empty string`);
  }
  // A UTF-16 code unit is at most 3 bytes of UTF-8: a short key needs no count.
  if (key.length * 3 <= limits.maxKeyBytes) return key;
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > limits.maxKeyBytes) {
    throw new TooLargeError(
      `\`${name}\` is ${bytes} bytes; the limit is ${limits.maxKeyBytes} (--max-key-bytes)`,
      {
        data: { limit: limits.maxKeyBytes, size: bytes },
      },
    );
  }
  return key;
}

export function requireValue(params: Params, limits: Limits): JsonText {
  if (!params.has('value')) throw new InvalidParamsError('Missing param `value`');
  return jsonText('value', params.get('value'), params.text('value'), limits);
}

/** The `expected` of a compare-and-set, wrapped so that an expected `null` differs from none given. */
export function optionalExpected(params: Params, limits: Limits): { value: JsonText } | undefined {
  return params.has('expected')
    ? { value: jsonText('expected', params.get('expected'), params.text('expected'), limits) }
    : undefined;
}

export function optionalDefault(params: Params, limits: Limits): JsonText | undefined {
  return params.has('default')
    ? jsonText('default', params.get('default'), params.text('default'), limits)
    : undefined;
}

export function optionalConsistency(params: Params): Consistency | undefined {
  const consistency = params.get('consistency');
  if (consistency === undefined || consistency === null) return undefined;
  if (typeof consistency !== 'string' || !CONSISTENCY_LEVELS.includes(consistency as Consistency)) {
    throw new InvalidParamsError(`Expected \`consistency\` to be one of ${CONSISTENCY_LEVELS.join(', ')}`);
  }
  return consistency as Consistency;
}

/** `ttl`, in seconds (see `isTtl`); `null` counts as absent, so positional params can skip it. */
export function optionalTtl(params: Params): number | undefined {
  const ttl = params.get('ttl');
  if (ttl === undefined || ttl === null) return undefined;
  if (!isTtl(ttl)) throw new InvalidParamsError(`${TTL_EXPECTED}, got ${describe(ttl)}`);
  return ttl;
}

/**
 * A write's `stamp` (see `parseStamp`); `null` counts as absent. A serial write is stamped by its consensus round,
 * so `consistency: serial` refuses one.
 */
export function optionalStamp(params: Params, consistency: Consistency | undefined): Version | undefined {
  const stamp = params.get('stamp');
  if (stamp === undefined || stamp === null) return undefined;
  const version = typeof stamp === 'string' ? parseStamp(stamp) : undefined;
  if (version === undefined) {
    throw new InvalidParamsError(
      `Expected \`stamp\` to be a write's version, wall.counter@writer (1733486400000.0@app-1; the writer letters, digits, _ . ~ -; the counter at most ${MAX_STAMP_COUNTER}), got ${describe(stamp)}`,
    );
  }
  if (consistency === 'serial') {
    throw new InvalidParamsError('A serial write takes no `stamp`: its consensus round stamps it');
  }
  return version;
}

export function requireRecord(params: Params): KVRecord {
  const record = params.get('record');
  if (!isRecord(record))
    throw new InvalidParamsError('Expected `record` to be a versioned record or tombstone');
  return record;
}

/** Deepest nesting of arrays and objects a value may have. */
export const MAX_VALUE_DEPTH = 100;

/** Whether a value nests deeper than `limit`, checked without recursion so hostile input cannot blow the stack. */
function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
    const [item, depth] = entry;
    if (typeof item !== 'object' || item === null) continue;
    if (depth >= limit) return true;
    for (const child of Array.isArray(item) ? item : Object.values(item)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

/**
 * A value as it arrived, `value` parsed and `text` the JSON the request gave it as (see `Params.text`), bounded in
 * size (the bytes of its text) and depth; without `text` (a request that came without its body's text), its
 * `JSON.stringify`. `undefined` (a positional hole) is refused.
 */
export function jsonText(name: string, value: unknown, text: string | undefined, limits: Limits): JsonText {
  if (value === undefined) throw new InvalidParamsError(`Missing param \`${name}\``);
  if (typeof value === 'object' && value !== null && nestsDeeperThan(value, MAX_VALUE_DEPTH)) {
    throw new InvalidParamsError(`\`${name}\` nests deeper than ${MAX_VALUE_DEPTH} levels`);
  }
  let json = text;
  if (json === undefined) {
    try {
      json = JSON.stringify(value) as string | undefined;
    } catch {}
    if (json === undefined) throw new InvalidParamsError(`Expected \`${name}\` to be a JSON value`);
  }
  // A UTF-16 code unit is at most 3 bytes of UTF-8: most values need no counting.
  if (json.length * 3 <= limits.maxValueBytes) return json as JsonText;
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > limits.maxValueBytes) {
    throw new TooLargeError(
      `\`${name}\` is ${bytes} bytes of JSON; the limit is ${limits.maxValueBytes} (--max-value-bytes)`,
      {
        data: { limit: limits.maxValueBytes, size: bytes },
      },
    );
  }
  return json as JsonText;
}

/** Most items in one peer batch (get_many, put_many, member lists, segment lists). */
export const MAX_PEER_ITEMS = 100_000;

/** An array param whose every item passes `check`, at most MAX_PEER_ITEMS long. */
export function requireArray<T>(
  params: Params,
  name: string,
  check: (item: unknown) => item is T,
  what: string,
): T[] {
  const value = params.get(name);
  if (!Array.isArray(value) || value.length > MAX_PEER_ITEMS || !value.every(check)) {
    throw new InvalidParamsError(`Expected \`${name}\` to be an array of at most ${MAX_PEER_ITEMS} ${what}`);
  }
  return value;
}

export function requireString(params: Params, name: string): string {
  const value = params.get(name);
  if (typeof value !== 'string' || value.length === 0 || value.length > 4_096) {
    throw new InvalidParamsError(`Expected \`${name}\` to be a non-empty string`);
  }
  return value;
}

export function requireBoolean(params: Params, name: string): boolean {
  const value = params.get(name);
  if (typeof value !== 'boolean') throw new InvalidParamsError(`Expected \`${name}\` to be a boolean`);
  return value;
}

/** An optional boolean param; `null` counts as absent, so positional params can skip it. */
export function optionalBoolean(params: Params, name: string): boolean | undefined {
  const value = params.get(name);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean')
    throw new InvalidParamsError(`Expected \`${name}\` to be a boolean, got ${describe(value)}`);
  return value;
}

export function optionalString(params: Params, name: string): string | undefined {
  return params.get(name) === undefined ? undefined : requireString(params, name);
}

/** An optional integer param from 1 to `max`; `null` counts as absent, so positional params can skip it. */
export function optionalLimit(params: Params, name: string, max: number): number | undefined {
  const value = params.get(name);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new InvalidParamsError(
      `Expected \`${name}\` to be an integer from 1 to ${max}, got ${describe(value)}`,
    );
  }
  return value;
}

/**
 * An optional string param that is a key or the start of one (a prefix, a cursor): at most `--max-key-bytes`, and
 * non-empty unless `allowEmpty`. `null` counts as absent.
 */
export function optionalKeyText(
  params: Params,
  name: string,
  limits: Limits,
  { allowEmpty = false, extraBytes = 0 } = {},
): string | undefined {
  const value = params.get(name);
  if (value === undefined || value === null) return undefined;
  const what = allowEmpty ? 'a string' : 'a non-empty string';
  if (typeof value !== 'string' || (value.length === 0 && !allowEmpty)) {
    throw new InvalidParamsError(`Expected \`${name}\` to be ${what}, got ${describe(value)}`);
  }
  if (Buffer.byteLength(value, 'utf8') > limits.maxKeyBytes + extraBytes) {
    throw new InvalidParamsError(
      `Expected \`${name}\` to be ${what} of at most ${limits.maxKeyBytes + extraBytes} UTF-8 bytes (--max-key-bytes)`,
    );
  }
  return value;
}

/** A short description of a bad param for error messages: its JSON, cut short, or its type. */
function describe(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {}
  if (text === undefined) return typeof value;
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
