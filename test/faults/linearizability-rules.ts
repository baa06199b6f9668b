import type { HistoryOperation } from './jepsen-history.js';
import { effectKey, type ModelOp, required, step, written } from './register-model.js';

/**
 * Orders that every linearization of a key's history respects, worked out before the search so that it does not
 * try the others: for each operation, the known operations it must follow.
 *
 * When a value has one writer W and a known operation R needs the state to hold it (R read it), the state holds
 * it from W to R: so a known operation X that completed before R was invoked, and that cannot run on that value
 * and leave it in place, comes before W. Without this, a write whose outcome is unknown and that took effect late
 * gets tried at every point from its invoke on, and each wrong point is only found out at R.
 */
export function writerPrerequisites(
  ops: readonly HistoryOperation[],
  model: readonly ModelOp[],
): Prerequisites {
  const invokedAt = (id: number) => ops[id]?.invokeIndex ?? 0;
  const writers = new Map<number, number[]>();
  /** Value → the operation invoked last among those that need it. */
  const lastReader = new Map<number, number>();
  model.forEach((op, id) => {
    const value = written(op);
    if (value !== -1) {
      const list = writers.get(value);
      if (list === undefined) writers.set(value, [id]);
      else list.push(id);
    }
    const read = required(op);
    const last = lastReader.get(read);
    if (read !== -1 && (last === undefined || invokedAt(last) < invokedAt(id))) lastReader.set(read, id);
  });
  const known = model.flatMap((op, id) => (op.known ? [id] : []));
  const completedAt = (id: number) => ops[id]?.completeIndex ?? Number.POSITIVE_INFINITY;
  const reader = new Int32Array(model.length).fill(-1);
  known.sort((a, b) => completedAt(a) - completedAt(b));

  const before = model.map(() => new Int32Array(0));
  let contradiction: Prerequisites['contradiction'];
  for (const [value, ids] of writers) {
    const writer = ids[0];
    const read = lastReader.get(value);
    if (ids.length !== 1 || writer === undefined || read === undefined) continue;
    const readAt = invokedAt(read);
    const from = invokedAt(writer);
    const ahead: number[] = [];
    // Operations that completed before the writer was invoked precede it anyway.
    for (let at = firstCompletedFrom(known, completedAt, from); at < known.length; at++) {
      const id = known[at] ?? -1;
      if (completedAt(id) >= readAt) break;
      const op = model[id];
      if (id !== writer && op !== undefined && step(value, op) !== value) ahead.push(id);
    }
    before[writer] = Int32Array.from(ahead);
    reader[writer] = read;
    const between = ahead.find((id) => invokedAt(id) > completedAt(writer));
    if (between !== undefined && contradiction === undefined)
      contradiction = { writer, reader: read, between };
  }
  return { before, reader, ...(contradiction === undefined ? {} : { contradiction }) };
}

export interface Prerequisites {
  /** Per operation, the known operations that must be linearized before it. */
  before: Int32Array[];
  /** Per operation with prerequisites, the operation that reads the value it writes (the last invoked), else -1. */
  reader: Int32Array;
  /**
   * A writer that must follow an operation invoked after it completed: no linearization exists. `between` began
   * after `writer` completed, completed before `reader` began, and cannot leave the value in place.
   */
  contradiction?: { writer: number; reader: number; between: number };
}

/** Binary search: the first position in `sorted` (by completion) whose operation completed at or after `at`. */
function firstCompletedFrom(
  sorted: readonly number[],
  completedAt: (id: number) => number,
  at: number,
): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (completedAt(sorted[middle] ?? -1) < at) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * Unknown operations with the same effect are interchangeable (none has a return to meet), so the search uses
 * them in invoke order: `rank` is an operation's place among its class, `classOf` its class (-1 for known ones).
 */
export function unknownClasses(model: readonly ModelOp[]): {
  classOf: Int32Array;
  rank: Int32Array;
  count: number;
} {
  const classes = new Map<string, { id: number; size: number }>();
  const classOf = new Int32Array(model.length).fill(-1);
  const rank = new Int32Array(model.length);
  model.forEach((op, id) => {
    if (op.known) return;
    const key = effectKey(op);
    let entry = classes.get(key);
    if (entry === undefined) {
      entry = { id: classes.size, size: 0 };
      classes.set(key, entry);
    }
    classOf[id] = entry.id;
    rank[id] = entry.size++;
  });
  return { classOf, rank, count: classes.size };
}
