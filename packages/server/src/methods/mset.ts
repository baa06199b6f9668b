import { setMany } from '@kvdb/coordinator';
import { PARAM_ORDER } from '@kvdb/core';
import { requireEntries } from '../multi-key-params.js';
import { optionalConsistency, optionalStamp } from '../params.js';
import type { MethodDefinition } from './types.js';

/**
 * Every entry written in parallel, as `set` writes one; at most `--max-batch` entries, each key once. Any bad
 * entry refuses the whole call before anything is written; a key that fails leaves the others written.
 */
export const mset: MethodDefinition = {
  name: 'mset',
  params: PARAM_ORDER.mset,
  call: (params, { coordinator, limits }) => {
    const entries = requireEntries(params, limits);
    const consistency = optionalConsistency(params);
    return setMany(coordinator, entries, { consistency, stamp: optionalStamp(params, consistency) });
  },
};
