import { PARAM_ORDER } from '@kvdb/core';
import { requireKey } from '../params.js';
import type { MethodDefinition } from './types.js';

export const locate: MethodDefinition = {
  name: 'locate',
  params: PARAM_ORDER.locate,
  call: async (params, { coordinator, limits }) => coordinator.locate(requireKey(params, limits)),
};
