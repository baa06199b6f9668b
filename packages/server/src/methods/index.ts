import { cas } from './cas.js';
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
  leave,
  setReplicas,
  ...peerMethods,
];
