import { InvalidParamsError, PARAM_ORDER } from '@kvdb/core';
import type { MethodDefinition } from './types.js';

/**
 * Changes the cluster's replication factor (see `ReplicationChange`) and answers once every new replica holds its
 * data, or with why not: a factor out of range, a change already under way, or a timeout (the change is then
 * rolled back).
 */
export const setReplicas: MethodDefinition = {
  name: 'set_replicas',
  params: PARAM_ORDER.set_replicas,
  call: (params, { node }) => {
    const replicas = params.get('replicas');
    if (typeof replicas !== 'number') {
      throw new InvalidParamsError(
        `Expected \`replicas\` to be an integer, got ${replicas === undefined ? 'none' : JSON.stringify(replicas)}`,
      );
    }
    return node.setReplicas(replicas);
  },
};
