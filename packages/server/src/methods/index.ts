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
import { set } from './set.js';
import { setReplicas } from './set-replicas.js';
import { stats } from './stats.js';
import { ttl } from './ttl.js';
import type { MethodDefinition } from './types.js';

export type { MethodContext, MethodDefinition } from './types.js';

/**
 * The `peer.` methods that write records a peer sends. A record's value is JSON text that the sending node's front
 * end checked, and replies carry it as it is, so these are answered on peer streams only: on POST `/` they are not
 * found (-32601), and a client cannot store text that is not JSON.
 */
export const RECORD_WRITES: ReadonlySet<string> = new Set([
  'peer.put',
  'peer.put_many',
  'peer.propose',
  'peer.commit',
]);

/** The method table: every public method, then the `peer.` methods nodes call on each other. */
export const METHODS: readonly MethodDefinition[] = [
  ping,
  get,
  set,
  has,
  pop,
  cas,
  ttl,
  listKeys,
  mget,
  mset,
  listMembers,
  locate,
  stats,
  clusterStatus,
  leave,
  setReplicas,
  ...peerMethods,
];
