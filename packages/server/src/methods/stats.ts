import type { MethodDefinition } from './types.js';

export const stats: MethodDefinition = {
  name: 'stats',
  params: [],
  call: async (_params, { coordinator, node }) => {
    const { rss, heapUsed } = process.memoryUsage();
    return {
      ...(await coordinator.stats()),
      memory: { rss, heapUsed },
      antiEntropy: { ...node.antiEntropy.stats },
      handoff: node.rangeFill.stats,
    };
  },
};
