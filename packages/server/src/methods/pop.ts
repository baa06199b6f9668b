import { PARAM_ORDER } from '@kvdb/core';
import { optionalConsistency, optionalDefault, requireKey } from '../params.js';
import { type MethodDefinition, rawJson } from './types.js';

export const pop: MethodDefinition = {
  name: 'pop',
  params: PARAM_ORDER.pop,
  call: (params, { coordinator, limits }) => {
    const key = requireKey(params, limits);
    const options = { default: optionalDefault(params, limits), consistency: optionalConsistency(params) };
    return coordinator.pop(key, options);
  },
  reply: rawJson,
};
