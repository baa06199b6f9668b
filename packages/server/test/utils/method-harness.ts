import { ClusterNode, type Coordinator } from '@kvdb/coordinator';
import { MemoryStore } from '@kvdb/core';
import { ClusterView } from '../../src/cluster-view.js';
import type { Limits } from '../../src/config.js';
import type { MethodContext } from '../../src/methods/types.js';

export const SELF = '127.0.0.1:5878';

/** A one-member node in memory, not started: every replica call it makes is to itself, so no transport is needed. */
export function singleNode(limits: Limits): { context: MethodContext; coordinator: Coordinator } {
  const transport = { call: () => Promise.reject(new Error('a single node calls no peer')) };
  const node = new ClusterNode(
    { store: new MemoryStore(), transport },
    { self: SELF, seeds: [SELF], replicas: 1 },
  );
  const { coordinator, peerHandlers: peer } = node;
  const view = new ClusterView({ node, transport });
  return { coordinator, context: { node, coordinator, peer, limits, view, onLeft: () => {} } };
}
