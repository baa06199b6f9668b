import { compareKeys, type KeyPage, KVError } from '@kvdb/core';

/**
 * Every key of a paged listing, fetching a page at a time with `page(cursor)` (the first without one) until the
 * cursor is `null`; refuses a cursor that does not advance, which would loop for ever.
 */
export async function* keysOfPages(
  page: (cursor: string | undefined) => Promise<KeyPage>,
): AsyncGenerator<string, void, undefined> {
  let cursor: string | undefined;
  do {
    const next = await page(cursor);
    yield* next.keys;
    if (next.cursor !== null && cursor !== undefined && compareKeys(next.cursor, cursor) <= 0) {
      throw new KVError(`list_keys returned a cursor that does not advance (${cursor})`);
    }
    cursor = next.cursor ?? undefined;
  } while (cursor !== undefined);
}
