import type { MethodDefinition } from './types.js';

export const listMembers: MethodDefinition = {
  name: 'list_members',
  params: [],
  call: async (_params, { coordinator }) => coordinator.listMembers(),
};
