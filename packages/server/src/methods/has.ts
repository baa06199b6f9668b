import { PARAM_ORDER } from '@kvdb/core';
import { optionalConsistency, requireKey } from '../params.js';
import type { MethodDefinition } from './types.js';

export const has: MethodDefinition = {
  name: 'has',
  params: PARAM_ORDER.has,
  call: (params, { coordinator, limits }) => {
    const key = requireKey(params, limits);
    return coordinator.has(key, { consistency: optionalConsistency(params) });
  },
};
