import { InvalidParamsError, PARAM_ORDER } from '@kvdb/core';
import { optionalBoolean, optionalConsistency, optionalTtl, requireKey, requireValue } from '../params.js';
import type { MethodDefinition } from './types.js';

/**
 * Stores a value: `true`. With `ifAbsent` or `ifPresent` (Redis `SET NX` and `XX`), a serial operation answering
 * whether it stored; those need the consistency left out or `serial`.
 */
export const set: MethodDefinition = {
  name: 'set',
  params: PARAM_ORDER.set,
  call: (params, { coordinator, limits }) => {
    const key = requireKey(params, limits);
    const value = requireValue(params, limits);
    const consistency = optionalConsistency(params);
    const ifAbsent = optionalBoolean(params, 'ifAbsent');
    const ifPresent = optionalBoolean(params, 'ifPresent');
    if (ifAbsent === true || ifPresent === true) {
      if (ifAbsent === true && ifPresent === true) {
        throw new InvalidParamsError('Expected at most one of `ifAbsent` and `ifPresent` to be true');
      }
      if (consistency !== undefined && consistency !== 'serial') {
        throw new InvalidParamsError(
          `A conditional set (\`ifAbsent\`, \`ifPresent\`) is a serial operation: leave \`consistency\` out or make it \`serial\`, not \`${consistency}\``,
        );
      }
    }
    return coordinator.set(key, value, { consistency, ttl: optionalTtl(params), ifAbsent, ifPresent });
  },
};
