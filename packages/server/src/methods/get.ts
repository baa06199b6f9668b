import { PARAM_ORDER } from '@kvdb/core';
import { optionalConsistency, optionalDefault, requireKey } from '../params.js';
import { type MethodDefinition, rawJson } from './types.js';

export const get: MethodDefinition = {
  name: 'get',
  params: PARAM_ORDER.get,
  call: (params, { coordinator, limits }) => {
    const key = requireKey(params, limits);
    const options = { default: optionalDefault(params, limits), consistency: optionalConsistency(params) };
    return coordinator.get(key, options);
  },
  reply: rawJson,
};
