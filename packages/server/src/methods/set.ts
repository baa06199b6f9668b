import { PARAM_ORDER } from '@kvdb/core';
import { optionalConsistency, optionalTtl, requireKey, requireValue } from '../params.js';
import type { MethodDefinition } from './types.js';

export const set: MethodDefinition = {
  name: 'set',
  params: PARAM_ORDER.set,
  call: (params, { coordinator, limits }) => {
    const key = requireKey(params, limits);
    const value = requireValue(params, limits);
    return coordinator.set(key, value, {
      consistency: optionalConsistency(params),
      ttl: optionalTtl(params),
    });
  },
};
