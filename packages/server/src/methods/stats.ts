import type { MethodDefinition } from './types.js';

export const stats: MethodDefinition = {
  name: 'stats',
  params: [],
  call: (_params, { coordinator }) => coordinator.stats(),
};
