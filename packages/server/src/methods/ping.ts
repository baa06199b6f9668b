import type { MethodDefinition } from './types.js';

export const ping: MethodDefinition = {
  name: 'ping',
  params: [],
  call: async () => 'pong',
};
