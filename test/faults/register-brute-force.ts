import { isDeepStrictEqual } from 'node:util';
import type { JsonValue } from '@kvdb/core';
import { type JepsenEvent, type OpInputs, pairOperations } from './jepsen-history.js';
import { execute } from './random-register-history.js';

/**
 * Whether a small history is linearizable, by trying every order of its operations that respects real time on the
 * plain Map of `execute`: the reference the checker's search, its model and its pruning rules are compared with.
 * Exponential: for a dozen operations at most.
 */
export function bruteForceLinearizable(events: readonly JepsenEvent[]): boolean {
  const ops = pairOperations(events).filter((op) => op.outcome !== 'fail');
  const placed = ops.map(() => false);
  const store = new Map<string, JsonValue>();
  const matches = (index: number, output: unknown): boolean => {
    const op = ops[index];
    if (op === undefined || op.outcome !== 'ok') return true;
    const input = op.input as OpInputs['set'] | null;
    if (op.f === 'set' && input?.ifAbsent !== true && input?.ifPresent !== true) return true;
    return isDeepStrictEqual(output, op.output);
  };
  const search = (): boolean => {
    const waiting = ops.filter((op, index) => !placed[index] && op.outcome === 'ok');
    if (waiting.length === 0) return true;
    const deadline = Math.min(...waiting.map((op) => op.completeIndex));
    for (const [index, op] of ops.entries()) {
      if (placed[index] || op.invokeIndex > deadline) continue;
      const saved = new Map(store);
      if (matches(index, execute(store, op.f, op.key, op.input as OpInputs['set']))) {
        placed[index] = true;
        if (search()) return true;
        placed[index] = false;
      }
      store.clear();
      for (const [key, value] of saved) store.set(key, value);
    }
    return false;
  };
  return search();
}
