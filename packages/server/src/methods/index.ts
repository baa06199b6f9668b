import { cas } from './cas.js';
import { clusterStatus } from './cluster-status.js';
import { get } from './get.js';
import { has } from './has.js';
import { leave } from './leave.js';
import { listKeys } from './list-keys.js';
import { listMembers } from './list-members.js';
import { locate } from './locate.js';
import { mget } from './mget.js';
import { mset } from './mset.js';
import { peerMethods } from './peer.js';
import { ping } from './ping.js';
import { pop } from './pop.js';
import { ring } from './ring.js';
import { set } from './set.js';
import { setReplicas } from './set-replicas.js';
import { stats } from './stats.js';
import { ttl } from './ttl.js';
import type { MethodDefinition } from './types.js';

export type { MethodContext, MethodDefinition } from './types.js';

/** Counts each call by whether this node is one of the key's replicas (see `RequestCounts.coordinated`). */
function countedByKey(method: MethodDefinition): MethodDefinition {
  return {
    ...method,
    call: (params, context) => {
      const key = params.get('key');
      if (typeof key === 'string') {
        const { coordinator, view } = context;
        view.requests.recordCoordinated(coordinator.locate(key).includes(coordinator.self));
      }
      return method.call(params, context);
    },
  };
}

/** The method table: every public method, then the `peer.` methods nodes call on each other. */
export const METHODS: readonly MethodDefinition[] = [
  ping,
  ...[get, set, has, pop, cas, ttl].map(countedByKey),
  listKeys,
  mget,
  mset,
  listMembers,
  locate,
  ring,
  stats,
  clusterStatus,
  leave,
  setReplicas,
  ...peerMethods,
];

/**
 * The `peer.` methods, which nodes call on each other. They are answered on peer streams only, opened with the peer
 * credential: they take records with whatever version the caller gives (a client could stamp a write past every
 * other), values as JSON text the sending node checked, and membership and replication settings as they come.
 */
export const PEER_METHOD_NAMES: ReadonlySet<string> = new Set(peerMethods.map((method) => method.name));

/** The methods clients call on POST `/`: every method but the `peer.` ones. */
export const PUBLIC_METHODS: readonly MethodDefinition[] = METHODS.filter(
  (method) => !PEER_METHOD_NAMES.has(method.name),
);

/** The -32601 message for a `peer.` method asked for on POST `/`; undefined for any other method. */
export function peerOnly(method: string): string | undefined {
  if (!PEER_METHOD_NAMES.has(method)) return undefined;
  return `Method ${JSON.stringify(method)} is served on peer streams only (nodes calling each other with the peer token), not on POST /`;
}
