import { requireKey, requireRecord } from '../params.js';
import type { MethodDefinition } from './types.js';

/** Replica calls between nodes. They check their input as strictly as public methods: a peer is not trusted blindly. */
export const peerMethods: MethodDefinition[] = [
  {
    name: 'peer.ping',
    params: [],
    call: (_params, { coordinator }) => coordinator.handlePeer('peer.ping', {}),
  },
  {
    name: 'peer.get',
    params: ['key'],
    call: (params, { coordinator, limits }) =>
      coordinator.handlePeer('peer.get', { key: requireKey(params, limits) }),
  },
  {
    name: 'peer.put',
    params: ['key', 'record'],
    call: (params, { coordinator, limits }) => {
      const key = requireKey(params, limits);
      return coordinator.handlePeer('peer.put', { key, record: requireRecord(params) });
    },
  },
  {
    name: 'peer.keys',
    params: [],
    call: (_params, { coordinator }) => coordinator.handlePeer('peer.keys', {}),
  },
];
