import { MAX_LIST_LIMIT, PARAM_ORDER } from '@kvdb/core';
import { optionalKeyText, optionalLimit } from '../params.js';
import type { MethodDefinition } from './types.js';

/** A cursor is a key with at most this much before it (a kind, and a ring position: see `readCursor`). */
const CURSOR_BYTES = 13;

/**
 * With `limit` or `cursor`: one page, `{keys, cursor}` (`limit` defaults to `MAX_LIST_LIMIT`). With neither: every
 * live key as a plain array, as before paging existed, fetched page by page and refused beyond `MAX_UNPAGED_KEYS`.
 * An empty `prefix` is no prefix.
 */
export const listKeys: MethodDefinition = {
  name: 'list_keys',
  params: PARAM_ORDER.list_keys,
  call: (params, { coordinator, limits }) => {
    const prefix = optionalKeyText(params, 'prefix', limits, { allowEmpty: true }) || undefined;
    const limit = optionalLimit(params, 'limit', MAX_LIST_LIMIT);
    const cursor = optionalKeyText(params, 'cursor', limits, { extraBytes: CURSOR_BYTES });
    if (limit === undefined && cursor === undefined) return coordinator.listAllKeys({ prefix });
    return coordinator.listKeys({ prefix, limit, cursor });
  },
};
