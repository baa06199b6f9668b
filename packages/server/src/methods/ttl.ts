import { PARAM_ORDER } from '@kvdb/core';
import { optionalConsistency, requireKey } from '../params.js';
import type { MethodDefinition } from './types.js';

export const ttl: MethodDefinition = {
  name: 'ttl',
  params: PARAM_ORDER.ttl,
  call: (params, { coordinator, limits }) => {
    const key = requireKey(params, limits);
    return coordinator.ttl(key, { consistency: optionalConsistency(params) });
  },
};
