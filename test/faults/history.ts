import { performance } from 'node:perf_hooks';
import { ConnectionError, QuorumNotReachedError } from '@kvdb/client';
import type { Consistency } from '@kvdb/core';

export type OpKind = 'set' | 'pop' | 'get';

/**
 * How an operation ended, as a client can know it:
 * - `ok`: acknowledged;
 * - `fail`: a definite error reply (quorum not reached, connection refused): for a write, it may still have landed
 *   on some replicas, but with a version stamped before the reply, so any write invoked after it orders after it;
 * - `unknown`: no reply (client timeout, connection lost): it may take effect at any later time, even after writes
 *   invoked later (a paused coordinator stamps it when it wakes up). Jepsen's `:info`.
 */
export type Outcome = 'ok' | 'fail' | 'unknown';

/** One client operation. Values are strings unique to each set, so a read names the write it saw. */
export interface Operation {
  id: number;
  /** The client that ran it. */
  process: number;
  op: OpKind;
  key: string;
  /** The value a set wrote. */
  value?: string;
  consistency: Consistency;
  /** The node that coordinated it. */
  node: string;
  /** ms on the history's monotonic clock. */
  invokeAt: number;
  completeAt: number;
  outcome: Outcome;
  /** What a get read, or what a pop removed (null: nothing). */
  result?: string | null;
  error?: string;
}

/** A fault the nemesis injected: active from `startAt` until `endAt` (healed, resumed, restarted). */
export interface FaultEvent {
  id: number;
  /** `kill-memory`, `kill-durable`, `pause`, `partition-isolate`, `partition-split`, `partition-one-way`. */
  kind: string;
  /** Which nodes or links, for the summary and for reading a failure. */
  detail: string;
  /** Whether the fault destroys replica state (a kill -9 of an in-memory node): quorum intersection breaks. */
  losesState: boolean;
  startAt: number;
  endAt?: number;
}

/** Every operation and fault of a run, on one monotonic clock. */
export class History {
  readonly operations: Operation[] = [];
  readonly faults: FaultEvent[] = [];
  private readonly origin = performance.now();

  now(): number {
    return performance.now() - this.origin;
  }

  /** Records the invocation; the operation is complete once `complete` has been called. */
  invoke(init: Pick<Operation, 'process' | 'op' | 'key' | 'value' | 'consistency' | 'node'>): Operation {
    const operation: Operation = {
      id: this.operations.length,
      ...init,
      invokeAt: this.now(),
      completeAt: Number.NaN,
      outcome: 'unknown',
    };
    this.operations.push(operation);
    return operation;
  }

  complete(operation: Operation, outcome: Outcome, result?: string | null, error?: unknown): void {
    operation.completeAt = this.now();
    operation.outcome = outcome;
    if (result !== undefined) operation.result = result;
    if (error !== undefined) operation.error = describeError(error);
  }

  /** Runs `call` for `operation`, recording its outcome; never rejects. */
  async run<T>(
    operation: Operation,
    call: () => Promise<T>,
    result?: (value: T) => string | null,
  ): Promise<void> {
    try {
      const value = await call();
      this.complete(operation, 'ok', result?.(value));
    } catch (error) {
      this.complete(operation, outcomeOf(error), undefined, error);
    }
  }

  fault(kind: string, detail: string, losesState = false): FaultEvent {
    const event: FaultEvent = { id: this.faults.length, kind, detail, losesState, startAt: this.now() };
    this.faults.push(event);
    return event;
  }

  healed(event: FaultEvent): void {
    event.endAt = this.now();
  }
}

/** A quorum failure and a refused connection are definite; anything else might still be under way. */
export function outcomeOf(error: unknown): Outcome {
  if (error instanceof QuorumNotReachedError) return 'fail';
  if (error instanceof ConnectionError && /connection refused/.test(error.message)) return 'fail';
  return 'unknown';
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
