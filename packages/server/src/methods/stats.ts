import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { NodeStats, ReplicationSetting } from '@kvdb/core';
import type { MethodContext, MethodDefinition } from './types.js';

/**
 * How long the event loop waited past its due time, since the process started: the longest any one piece of work
 * held up every other request of the node (10 ms resolution).
 */
const delays = monitorEventLoopDelay({ resolution: 10 });
delays.enable();

function replicationStats({ replicas, target }: ReplicationSetting): { replicas: number; target?: number } {
  return target === undefined ? { replicas } : { replicas, target };
}

/** The node's counters: what `stats` answers, and `peer.stats` to a member gathering the cluster's. */
export async function nodeStats({ coordinator, node, view }: MethodContext): Promise<NodeStats> {
  const { rss, heapUsed } = process.memoryUsage();
  return {
    ...(await coordinator.stats()),
    memory: { rss, heapUsed },
    antiEntropy: { ...node.antiEntropy.stats },
    handoff: node.rangeFill.stats,
    eventLoop: {
      maxDelayMs: Math.round(delays.max / 1e5) / 10,
      p99DelayMs: Math.round(delays.percentile(99) / 1e5) / 10,
    },
    replication: replicationStats(node.replication.current),
    requests: view.requests.counts,
  };
}

export const stats: MethodDefinition = {
  name: 'stats',
  params: [],
  call: (_params, context) => nodeStats(context),
};
