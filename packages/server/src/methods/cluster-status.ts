import { nodeStats } from './stats.js';
import type { MethodDefinition } from './types.js';

export const clusterStatus: MethodDefinition = {
  name: 'cluster_status',
  params: [],
  call: async (_params, context) => context.view.status(await nodeStats(context)),
};
