import { type CasResult, type JsonText, PARAM_ORDER } from '@kvdb/core';
import { optionalExpected, optionalTtl, requireKey, requireValue } from '../params.js';
import { type MethodDefinition, rawJson } from './types.js';

/**
 * A compare-and-set, always serial: stores `value` if the key's value deep-equals `expected`, or, without
 * `expected`, if the key holds no value. Answers `{swapped, exists, current}`.
 */
export const cas: MethodDefinition = {
  name: 'cas',
  params: PARAM_ORDER.cas,
  call: (params, { coordinator, limits }) => {
    const key = requireKey(params, limits);
    const value = requireValue(params, limits);
    const expected = optionalExpected(params, limits);
    const ttl = optionalTtl(params);
    return coordinator.cas(key, value, expected === undefined ? { ttl } : { expected: expected.value, ttl });
  },
  reply: (result: CasResult<JsonText>) => ({ ...result, current: rawJson(result.current) }),
};
