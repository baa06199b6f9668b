import {
  compareKeys,
  compareVersions,
  type KeyPage,
  type KeyVersion,
  MAX_UNPAGED_KEYS,
  TooLargeError,
  type Version,
} from '@kvdb/core';

/**
 * Merges what members answered to one `peer.keys` call (the same `limit` keys after the same cursor, asked of
 * each) into one page of live keys.
 *
 * A member that answered `limit` entries (a full page) vouches only for keys up to its last one: it may hold more
 * after. So the page ends at the boundary, the smallest last key among full answers; every answering member has
 * reported every key it holds up to there, and each key's newest version among them decides whether it is live,
 * as a whole-store listing would. Live keys beyond `limit` are cut, and the next page starts after the last key
 * returned; otherwise it starts after the boundary, which skips the tombstones up to it. No full answer means
 * every member has said everything: the listing is complete.
 */
export function mergeKeyPages(answers: ReadonlyArray<readonly KeyVersion[]>, limit: number): KeyPage {
  let boundary: string | undefined;
  for (const answer of answers) {
    const last = answer.at(-1);
    if (answer.length < limit || last === undefined) continue;
    if (boundary === undefined || compareKeys(last[0], boundary) < 0) boundary = last[0];
  }
  return mergeHeads(answers, boundary, limit);
}

/**
 * The live keys among sorted answers, up to and including `boundary` (every answer vouches for the keys up to
 * there; all of them when undefined), at most `limit`: the page and where the next one starts after (the last key
 * kept when the page is full, else the boundary; null when neither cut it short).
 */
export function mergeHeads(
  answers: ReadonlyArray<readonly KeyVersion[]>,
  boundary: string | undefined,
  limit: number,
): KeyPage {
  // Each answer is sorted, so a k-way merge visits every key once, in order, with no map and no sort: a page of
  // 10,000 keys from three members costs a few milliseconds.
  const heads = answers.map(() => 0);
  const live: string[] = [];
  while (live.length <= limit) {
    let key: string | undefined;
    for (const [member, answer] of answers.entries()) {
      const head = answer[heads[member] ?? 0];
      if (head !== undefined && (key === undefined || compareKeys(head[0], key) < 0)) key = head[0];
    }
    if (key === undefined || (boundary !== undefined && compareKeys(key, boundary) > 0)) break;
    let newest: { version: Version; deleted: boolean } | undefined;
    for (const [member, answer] of answers.entries()) {
      const at = heads[member] ?? 0;
      const head = answer[at];
      if (head === undefined || head[0] !== key) continue;
      heads[member] = at + 1;
      if (newest === undefined || compareVersions(head[1], newest.version) > 0) {
        newest = { version: head[1], deleted: head[2] };
      }
    }
    if (newest !== undefined && !newest.deleted) live.push(key);
  }

  if (live.length > limit) {
    const keys = live.slice(0, limit);
    return { keys, cursor: keys.at(-1) ?? null };
  }
  return { keys: live, cursor: boundary ?? null };
}

export interface CollectKeysOptions {
  /**
   * Refuse, with `TooLargeError`, a listing that would hold more keys than this.
   * @default MAX_UNPAGED_KEYS
   */
  maxKeys?: number;
}

/**
 * Every key of a paged listing, fetched one page at a time: between pages the event loop serves other requests,
 * so even a long listing never holds it for more than one page. Stops as soon as the keys exceed `maxKeys`.
 */
export async function collectKeys(
  listPage: (cursor: string | undefined) => Promise<KeyPage>,
  options: CollectKeysOptions = {},
): Promise<string[]> {
  const maxKeys = options.maxKeys ?? MAX_UNPAGED_KEYS;
  const keys: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await listPage(cursor);
    for (const key of page.keys) keys.push(key);
    if (keys.length > maxKeys) {
      throw new TooLargeError(
        `list_keys would return more than ${maxKeys.toLocaleString('en-US')} keys; pass \`limit\` and page through them with \`cursor\``,
        { data: { limit: maxKeys } },
      );
    }
    if (page.cursor === null) return keys;
    cursor = page.cursor;
  }
}
