import { getMany } from '@kvdb/coordinator';
import { type JsonText, PARAM_ORDER } from '@kvdb/core';
import { requireKeys } from '../multi-key-params.js';
import { optionalConsistency } from '../params.js';
import { type MethodDefinition, rawJson } from './types.js';

/** Every key read in parallel, as `get` reads one; at most `--max-batch` keys. */
export const mget: MethodDefinition = {
  name: 'mget',
  params: PARAM_ORDER.mget,
  call: (params, { coordinator, limits }) => {
    const keys = requireKeys(params, limits);
    return getMany(coordinator, keys, { consistency: optionalConsistency(params) });
  },
  reply: (values: JsonText[]) => values.map(rawJson),
};
