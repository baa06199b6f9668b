import { type HistoryOperation, type JepsenEvent, pairOperations } from './jepsen-history.js';
import {
  type Contradiction,
  type SearchBudget,
  type StuckPoint,
  searchKey,
  type Verdict,
} from './linearizability-search.js';
import { isReadOnly } from './register-model.js';

/*
 * A linearizability checker for kvdb's serial operations (get, has, set with ifAbsent/ifPresent, pop, cas on one
 * key's register). We write our own because no npm package checks linearizability: the checkers that exist are
 * Knossos (Clojure, part of Jepsen) and Porcupine (Go), and the fault suite runs in Node, on histories it records
 * itself. It works as they do:
 *
 * - P-compositionality: a history is linearizable if and only if each key's sub-history is, so each key is checked
 *   alone, and the search is exponential in the concurrency on one key, not in the whole history.
 * - Wing & Gong's search with Lowe's improvements: the calls and returns of a key's operations form a list in
 *   history order; the search linearizes a call the model accepts and lifts it (and its return) out of the list,
 *   starting over from the head; reaching a return whose call is not linearized means backtracking (the last
 *   operation goes back into the list, and the next call after it is tried). A cache of the configurations that
 *   failed (set of linearized operations, model state) prunes every path that reaches one again.
 * - An info operation (outcome unknown) has no return to meet: it may take effect at any point after its invoke,
 *   or never, so the search is done once every ok operation is linearized. A fail operation did not take effect
 *   and is left out, and so is an info read, which constrains nothing.
 *
 * Info writes that never took effect, or took effect late, are what makes such searches blow up, so on top of
 * that: values no read returns are folded into one (register-model.ts); a read whose only writer must follow an
 * operation that began after it is refuted before any search, and writers wait for what must precede them
 * (linearizability-rules.ts); the search prunes with rules that lose no linearization and alternates two orders
 * (linearizability-search.ts); a failed configuration covers those with more info operations used
 * (search-cache.ts). A budget of time and of configurations turns what is still too large into `unknown`, never a
 * hang. Checked against a brute-force search (register-brute-force.ts) on thousands of small random histories.
 */

export type { Contradiction, StuckPoint, Verdict };

export interface LinearizabilityOptions {
  /** Wall time for the whole history; each key gets an equal share of what is left when its turn comes. @default 60000 */
  timeoutMs?: number;
  /** Search configurations one key may enter (the failed ones are kept): bounds memory. @default 1000000 */
  maxExplored?: number;
}

export interface KeyResult {
  key: string;
  verdict: Verdict;
  /** The operations searched: the ok ones and the info writes. */
  operations: number;
  /** Search configurations explored. */
  explored: number;
  ms: number;
  explanation?: string;
  /** For `not linearizable`, where the search got furthest. */
  stuck?: StuckPoint;
  /** For `not linearizable` found without a search: a read that cannot be explained. */
  contradiction?: Contradiction;
}

export interface LinearizabilityReport {
  /** `not linearizable` if any key is, else `unknown` if any key is, else `ok`. */
  verdict: Verdict;
  keys: KeyResult[];
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_EXPLORED = 1_000_000;

export function checkLinearizable(
  history: readonly JepsenEvent[],
  options: LinearizabilityOptions = {},
): LinearizabilityReport {
  const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const maxExplored = options.maxExplored ?? DEFAULT_MAX_EXPLORED;
  const byKey = new Map<string, HistoryOperation[]>();
  for (const op of pairOperations(history)) {
    if (op.outcome === 'fail' || (op.outcome === 'info' && isReadOnly(op))) continue;
    const ops = byKey.get(op.key);
    if (ops === undefined) byKey.set(op.key, [op]);
    else ops.push(op);
  }
  const keys: KeyResult[] = [];
  let left = byKey.size;
  for (const key of [...byKey.keys()].sort()) {
    const share = Math.max(0, deadline - Date.now()) / left--;
    keys.push(checkKey(key, byKey.get(key) ?? [], { deadline: Date.now() + share, maxExplored }));
  }
  const has = (verdict: Verdict) => keys.some((result) => result.verdict === verdict);
  const verdict = has('not linearizable') ? 'not linearizable' : has('unknown') ? 'unknown' : 'ok';
  return { verdict, keys };
}

/** The search over one key's operations, in invoke order. */
function checkKey(key: string, ops: readonly HistoryOperation[], budget: SearchBudget): KeyResult {
  const started = Date.now();
  const { verdict, explored, stuck, contradiction, exhausted } = searchKey(ops, budget);
  let explanation = exhausted;
  if (contradiction !== undefined) explanation = explainContradiction(contradiction);
  else if (verdict === 'not linearizable' && stuck !== undefined) explanation = explain(stuck, ops.length);
  return {
    key,
    verdict,
    operations: ops.length,
    explored,
    ms: Date.now() - started,
    ...(explanation === undefined ? {} : { explanation }),
    ...(stuck === undefined || verdict !== 'not linearizable' ? {} : { stuck }),
    ...(contradiction === undefined ? {} : { contradiction }),
  };
}

function explainContradiction({ writer, reader, between }: Contradiction): string {
  return (
    `${describeOperation(reader)} read the value of ${describeOperation(writer)}, but ` +
    `${describeOperation(between)} began after that write completed, completed before that read began, and ` +
    'cannot leave that value in place'
  );
}

function explain(stuck: StuckPoint, total: number): string {
  const waited =
    stuck.waitedFor === undefined
      ? ''
      : `; it must follow ${list(stuck.waitedFor.before)}, since ${describeOperation(stuck.waitedFor.reader)} ` +
        'read the value it writes after they completed';
  return (
    `${describeOperation(stuck.operation)} cannot be linearized: the longest linearizable prefix orders ` +
    `${stuck.linearized} of ${total} operations and leaves the register ${stuck.state}${waited}; ` +
    `the operations that could still come before it: ${list(stuck.pending)}`
  );
}

function list(ops: readonly HistoryOperation[]): string {
  if (ops.length === 0) return 'none';
  const more = ops.length > 5 ? ` and ${ops.length - 5} more` : '';
  return `${ops.slice(0, 5).map(describeOperation).join('; ')}${more}`;
}

/** `cas {"value":2,"expected":1} -> {"swapped":true,…} by process 3 [events 40-47]` */
export function describeOperation(op: HistoryOperation): string {
  const input = op.input === null ? '' : ` ${JSON.stringify(op.input)}`;
  const output = op.outcome === 'ok' ? ` -> ${JSON.stringify(op.output)}` : ` (${op.outcome})`;
  const end = Number.isFinite(op.completeIndex) ? op.completeIndex : '…';
  return `${op.f}${input}${output} by process ${op.process} [events ${op.invokeIndex}-${end}]`;
}

/** One line per key that is not `ok`, after a count of the keys by verdict. */
export function formatLinearizability(report: LinearizabilityReport): string {
  const count = (verdict: Verdict) => report.keys.filter((result) => result.verdict === verdict).length;
  const lines = [
    `linearizability: ${report.verdict} (${count('ok')} keys ok, ${count('not linearizable')} not linearizable, ${count('unknown')} unknown)`,
  ];
  for (const result of report.keys) {
    if (result.verdict === 'ok') continue;
    lines.push(`  ${result.key}: ${result.verdict}: ${result.explanation ?? ''}`);
  }
  return lines.join('\n');
}
