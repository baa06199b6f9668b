import type { ReplicationSetting } from '@kvdb/core';
import type { MethodDefinition } from './types.js';

function replicationStats({ replicas, target }: ReplicationSetting): { replicas: number; target?: number } {
  return target === undefined ? { replicas } : { replicas, target };
}

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
      replication: replicationStats(node.replication.current),
    };
  },
};
