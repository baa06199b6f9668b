import type { MethodDefinition } from './types.js';

export const listKeys: MethodDefinition = {
  name: 'list_keys',
  params: [],
  call: (_params, { coordinator }) => coordinator.listKeys(),
};
