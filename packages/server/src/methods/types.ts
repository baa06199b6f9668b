import type { Coordinator } from '@kvdb/coordinator';
import type { Limits } from '../config.js';
import type { Params } from '../params.js';

export interface MethodContext {
  coordinator: Coordinator;
  limits: Limits;
}

/** One JSON-RPC method: its param names (in positional order) and what it does with them once validated. */
export interface MethodDefinition {
  readonly name: string;
  readonly params: readonly string[];
  call(params: Params, context: MethodContext): Promise<unknown>;
}
