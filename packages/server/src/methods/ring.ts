import type { MethodDefinition } from './types.js';

/** The ring that serves reads: what a client needs to send each key straight to one of its replicas. */
export const ring: MethodDefinition = {
  name: 'ring',
  params: [],
  call: (_params, { coordinator }) => coordinator.ringInfo(),
};
