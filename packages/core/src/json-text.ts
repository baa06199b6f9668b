/**
 * Values as text. A value is parsed once, where it enters a node (the HTTP front end checks it), and from there on
 * travels as the JSON text the client sent: through the coordinator, in peer frames (as a JSON string), into the
 * stores and onto disk, and back into replies, where it is written as it is. Riak, Cassandra and Redis treat values
 * as opaque bytes in the same way; it saves every layer a parse and a stringify of values that can be megabytes.
 */
import type { JsonValue } from './record.js';

declare const jsonTextBrand: unique symbol;

/**
 * The JSON text of a value: a string that `JSON.parse` takes, as a client sent it (its spacing kept). Branded, so
 * that a value's text is never mistaken for a string value, whose text has quotes.
 */
export type JsonText = string & { readonly [jsonTextBrand]: true };

/** The text of `null`: what reads of an absent key answer without a default. */
export const NULL_TEXT = 'null' as JsonText;

/** The text of a value built in code (a default, a test's value): its `JSON.stringify`. */
export function toJsonText(value: JsonValue): JsonText {
  const text = JSON.stringify(value) as string | undefined;
  if (text === undefined) throw new TypeError('Expected a JSON value');
  return text as JsonText;
}

/**
 * Takes `text` as a value's JSON text without checking it: for text that was checked where it entered the cluster
 * (the front end's parse, a peer's frame, the disk).
 */
export function trustJsonText(text: string): JsonText {
  return text as JsonText;
}

/** The value a text holds: for the few places that look inside a value (a compare-and-set's comparison). */
export function parseJsonText(text: JsonText): JsonValue {
  return JSON.parse(text) as JsonValue;
}

/**
 * A value's text in a reply to a client: the reply writer (`encodeJson`) puts the text in as it is. Anything else
 * that serialises it with `JSON.stringify` gets the parsed value (correct, only slower).
 */
export class RawJson {
  constructor(readonly text: JsonText) {}

  toJSON(): JsonValue {
    return parseJsonText(this.text);
  }
}

/**
 * `JSON.stringify` for replies that carry values as `RawJson`: each one is written as its text, everything else as
 * `JSON.stringify` writes it (properties that are undefined left out, undefined array items as null).
 */
export function encodeJson(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (typeof value !== 'object' || value === null) return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    if (!value.some(holdsObject)) return JSON.stringify(value);
    const items: string[] = [];
    for (const item of value) items.push(item === undefined ? 'null' : encodeJson(item));
    return `[${items.join(',')}]`;
  }
  if (!(value instanceof Object) || Object.getPrototypeOf(value) !== Object.prototype) {
    return JSON.stringify(value);
  }
  const members: string[] = [];
  for (const name of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[name];
    if (item === undefined || typeof item === 'function') continue;
    members.push(`${JSON.stringify(name)}:${encodeJson(item)}`);
  }
  return `{${members.join(',')}}`;
}

const holdsObject = (item: unknown): boolean => typeof item === 'object' && item !== null;
