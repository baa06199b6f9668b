import { InvalidParamsError, PARAM_ORDER } from '@kvdb/core';
import {
  optionalBoolean,
  optionalConsistency,
  optionalStamp,
  optionalTtl,
  requireKey,
  requireValue,
} from '../params.js';
import type { MethodDefinition } from './types.js';

/**
 * Stores a value: `true`. With `ifAbsent` or `ifPresent` (Redis `SET NX` and `XX`), a serial operation answering
 * whether it stored; those need the consistency left out or `serial`, and take no `stamp`.
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
    const stamp = optionalStamp(params, consistency);
    if (ifAbsent === true || ifPresent === true) {
      if (ifAbsent === true && ifPresent === true) {
        throw new InvalidParamsError('Expected at most one of `ifAbsent` and `ifPresent` to be true');
      }
      if (consistency !== undefined && consistency !== 'serial') {
        throw new InvalidParamsError(
          `A conditional set (\`ifAbsent\`, \`ifPresent\`) is a serial operation: leave \`consistency\` out or make it \`serial\`, not \`${consistency}\``,
        );
      }
      if (stamp !== undefined) {
        throw new InvalidParamsError(
          'A conditional set (`ifAbsent`, `ifPresent`) is a serial operation: it takes no `stamp`',
        );
      }
    }
    const ttl = optionalTtl(params);
    return coordinator.set(key, value, { consistency, ttl, ifAbsent, ifPresent, stamp });
  },
};
