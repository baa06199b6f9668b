import { InvalidParamsError, PARAM_ORDER, parseAddress } from '@kvdb/core';
import { optionalString } from '../params.js';
import type { MethodDefinition } from './types.js';

/**
 * Takes a member out for good. Sent to a node without params, that node hands its data to the new owners,
 * answers, and shuts down. With `address` naming a member that is down, that member is removed instead.
 */
export const leave: MethodDefinition = {
  name: 'leave',
  params: PARAM_ORDER.leave,
  call: async (params, { node, onLeft }) => {
    const raw = optionalString(params, 'address');
    let address: string | undefined;
    if (raw !== undefined) {
      try {
        address = parseAddress(raw).address;
      } catch (error) {
        throw new InvalidParamsError((error as Error).message);
      }
    }
    const result = await node.leave(address);
    if (result.left === node.self) onLeft();
    return result;
  },
};
