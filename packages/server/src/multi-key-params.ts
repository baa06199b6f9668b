import { InvalidParamsError, type JsonText, TooLargeError } from '@kvdb/core';
import type { Limits } from './config.js';
import { jsonText, keyParam, type Params } from './params.js';

/** The keys of an `mget`: each checked as `get` checks its `key`, at most `--max-batch` of them. */
export function requireKeys(params: Params, limits: Limits): string[] {
  return batch(params, 'keys', 'keys', limits).map((key, index) => keyParam(`keys[${index}]`, key, limits));
}

/** The `[key, value]` pairs of an `mset`: each checked as `set` checks its `key` and `value`, at most `--max-batch`. */
export function requireEntries(params: Params, limits: Limits): Array<[string, JsonText]> {
  return batch(params, 'entries', '[key, value] pairs', limits).map((entry, index) => {
    if (!Array.isArray(entry) || entry.length !== 2) {
      throw new InvalidParamsError(`Expected \`entries[${index}]\` to be a [key, value] pair`);
    }
    return [
      keyParam(`entries[${index}][0]`, entry[0], limits),
      jsonText(`entries[${index}][1]`, entry[1], params.text('entries', index, 1), limits),
    ];
  });
}

/** An array param of at most `--max-batch` items: a call over it is refused whole, as a batch over it is. */
function batch(params: Params, name: string, what: string, limits: Limits): unknown[] {
  const value = params.get(name);
  if (value === undefined) throw new InvalidParamsError(`Missing param \`${name}\``);
  if (!Array.isArray(value)) throw new InvalidParamsError(`Expected \`${name}\` to be an array of ${what}`);
  if (value.length > limits.maxBatch) {
    throw new TooLargeError(
      `\`${name}\` holds ${value.length} ${what}; the limit is ${limits.maxBatch} (--max-batch)`,
      { data: { limit: limits.maxBatch, size: value.length } },
    );
  }
  return value;
}
