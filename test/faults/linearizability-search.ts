import { defined } from '@kvdb/core/testing';
import type { HistoryOperation } from './jepsen-history.js';
import { type Prerequisites, unknownClasses, writerPrerequisites } from './linearizability-rules.js';
import { ABSENT, compileAll, IMPOSSIBLE, type ModelOp, step, type Values } from './register-model.js';
import { SearchCache } from './search-cache.js';
import { SearchEventList } from './search-event-list.js';

/** `unknown`: the search ran out of its budget before deciding. */
export type Verdict = 'ok' | 'not linearizable' | 'unknown';

/** Where the search got furthest, for a key that is not linearizable. */
export interface StuckPoint {
  /** The operation whose completion no order of the ones before it explains. */
  operation: HistoryOperation;
  /** How many of the key's operations the longest linearizable prefix orders. */
  linearized: number;
  /** The register after that prefix (canonical JSON, or `absent`). */
  state: string;
  /** The operations invoked before it completed and not in the prefix: the candidates that did not fit. */
  pending: HistoryOperation[];
  /**
   * When the operation is a write that had to wait for others: the operation that read its value, and those that
   * completed before that read began and could not have left the value in place, not yet in the prefix.
   */
  waitedFor?: { reader: HistoryOperation; before: HistoryOperation[] };
}

/** A read that no linearization explains, found before any search. */
export interface Contradiction {
  /** The only operation that writes the value `reader` read. */
  writer: HistoryOperation;
  reader: HistoryOperation;
  /** Began after `writer` completed, completed before `reader` began, and cannot leave the value in place. */
  between: HistoryOperation;
}

export interface SearchBudget {
  /** Date.now() past which the search gives up. */
  deadline: number;
  /** Configurations it may enter. */
  maxExplored: number;
}

export interface SearchResult {
  verdict: Verdict;
  explored: number;
  stuck?: StuckPoint;
  contradiction?: Contradiction;
  /** Which budget ran out, for `unknown`. */
  exhausted?: string;
}

/**
 * In which order a configuration's candidates are tried: the calls before the first return left in the known
 * list, and the unknown operations invoked before that return.
 * - `in place`: in history order. An unknown operation is tried as soon as it is invoked, which is where it most
 *   often took effect: linearizable histories pass fastest.
 * - `unknown last`: after every known call. Configurations with fewer unknown operations come first, and when they
 *   fail they cover the others in the cache: histories that are not linearizable fail fastest.
 */
type Order = 'in place' | 'unknown last';

/**
 * Configurations of the first round (`in place`); the second (`unknown last`) has twice as many, and each next
 * pair twice as many as the one before. Failing histories need the second order, and most of the budget.
 */
const FIRST_ROUND = 25_000;
/** The unknown cursor of `unknown last` before the scan reaches the first return. */
const NOT_STARTED = -2;
/** Iterations between two looks at the clock. */
const CLOCK_EVERY = 1024;

/**
 * Searches for a linearization of one key's ok and info operations (in invoke order), from an absent key: rounds
 * that alternate the two orders with growing budgets and share one cache (a failed configuration fails in any
 * order), until one decides or the budget runs out.
 */
export function searchKey(ops: readonly HistoryOperation[], budget: SearchBudget): SearchResult {
  const search = new Search(ops);
  if (search.contradiction !== undefined) {
    const { writer, reader, between } = search.contradiction;
    const op = (id: number) => defined(ops[id]);
    return {
      verdict: 'not linearizable',
      explored: 0,
      contradiction: { writer: op(writer), reader: op(reader), between: op(between) },
    };
  }
  for (let round = 0; ; round++) {
    const remaining = budget.maxExplored - search.explored;
    const size = Math.min(remaining, FIRST_ROUND * 2 ** (round >> 1) * (round % 2 === 0 ? 1 : 2));
    const verdict = search.run(
      round % 2 === 0 ? 'in place' : 'unknown last',
      search.explored + size,
      budget.deadline,
    );
    const { explored, stuck } = search;
    if (verdict !== undefined) return { verdict, explored, ...(stuck === undefined ? {} : { stuck }) };
    if (Date.now() > budget.deadline)
      return {
        verdict: 'unknown',
        explored,
        exhausted: `the time budget ran out after ${explored} configurations`,
      };
    if (explored >= budget.maxExplored)
      return {
        verdict: 'unknown',
        explored,
        exhausted: `the search explored its ${budget.maxExplored} configurations`,
      };
  }
}

/**
 * Wing & Gong's search over one key. Besides the cache, these rules prune it without losing a linearization,
 * since any linearization can be rewritten to follow them:
 * - an unknown operation is not linearized where it may as well never happen (`pointless`);
 * - unknown operations with the same effect are used in invoke order;
 * - when an observation (a known operation that leaves the state as it is) fits, it may as well come first: if
 *   the search fails after it, it fails without it too, and no other candidate is tried;
 * - the orders `writerPrerequisites` works out.
 */
class Search {
  explored = 0;
  stuck: StuckPoint | undefined;
  readonly contradiction: Prerequisites['contradiction'];
  private readonly model: ModelOp[];
  private readonly values: Values;
  private readonly list: SearchEventList;
  private readonly cache: SearchCache;
  private readonly prerequisites: Prerequisites;
  private readonly classOf: Int32Array;
  private readonly rank: Int32Array;
  private readonly used: Int32Array;
  private readonly linearized: Uint8Array;
  private readonly stack: Array<{ op: number; state: number; known: number; unknown: number }> = [];
  private state = ABSENT;

  constructor(private readonly ops: readonly HistoryOperation[]) {
    ({ model: this.model, values: this.values } = compileAll(ops));
    this.list = new SearchEventList(ops);
    this.cache = new SearchCache(this.list.knownCount, this.list.unknownCount);
    this.prerequisites = writerPrerequisites(ops, this.model);
    this.contradiction = this.prerequisites.contradiction;
    const classes = unknownClasses(this.model);
    this.classOf = classes.classOf;
    this.rank = classes.rank;
    this.used = new Int32Array(classes.count);
    this.linearized = new Uint8Array(ops.length);
  }

  /** Searches from the start; undefined when `maxExplored` or the deadline comes first. */
  run(order: Order, maxExplored: number, deadline: number): Verdict | undefined {
    const { list, stack } = this;
    const inPlace = order === 'in place';
    // In place, unknown calls are walked forwards with the known ones; else backwards from the first return.
    const unknownStart = () => (inPlace ? list.firstUnknown() : NOT_STARTED);
    let known = list.first();
    let unknown = unknownStart();
    for (let iterations = 1; ; iterations++) {
      if (known === -1) return 'ok';
      if (iterations % CLOCK_EVERY === 0 && Date.now() > deadline) return this.abandon();
      let op = -1;
      if (inPlace) {
        if (list.position(unknown) < list.position(known)) op = list.opOf(unknown);
        else if (list.isCall(known)) op = list.opOf(known);
      } else if (list.isCall(known)) {
        op = list.opOf(known);
      } else {
        if (unknown === NOT_STARTED) unknown = list.lastUnknownBefore(list.position(known));
        if (unknown !== -1) op = list.opOf(unknown);
      }

      if (op !== -1) {
        const compiled = defined(this.model[op]);
        const after = step(this.state, compiled);
        const skip =
          after === IMPOSSIBLE || (!compiled.known && this.pointless(compiled, after)) || !this.eligible(op);
        const tag = compiled.known ? -1 : this.state;
        if (!skip && this.cache.enter(!compiled.known, list.indexOf(op), after, tag)) {
          if (++this.explored > maxExplored) {
            this.cache.drop(!compiled.known, list.indexOf(op));
            return this.abandon();
          }
          stack.push({ op, state: this.state, known, unknown });
          this.state = after;
          this.mark(op, true);
          known = list.first();
          unknown = unknownStart();
          continue;
        }
        // It fails for what failed before, and an observation that fits fails the configuration too (see above).
        if (skip || !compiled.observes) {
          if (compiled.known) known = list.next(known);
          else unknown = this.nextUnknown(unknown, inPlace);
          continue;
        }
      } else {
        this.noteStuck(list.opOf(known));
      }

      for (;;) {
        const last = stack.pop();
        if (last === undefined) return 'not linearizable';
        const compiled = defined(this.model[last.op]);
        this.cache.leave(
          !compiled.known,
          list.indexOf(last.op),
          this.state,
          compiled.known ? -1 : last.state,
        );
        this.state = last.state;
        this.mark(last.op, false);
        if (!compiled.observes) {
          known = compiled.known ? list.next(last.known) : last.known;
          unknown = compiled.known ? last.unknown : this.nextUnknown(last.unknown, inPlace);
          break;
        }
      }
    }
  }

  private nextUnknown(call: number, inPlace: boolean): number {
    return inPlace ? this.list.next(call) : this.list.previousUnknown(call);
  }

  /** Backs out of every linearized operation without storing anything: the search gave up, it did not fail. */
  private abandon(): undefined {
    for (let last = this.stack.pop(); last !== undefined; last = this.stack.pop()) {
      this.cache.drop(this.list.isUnknown(last.op), this.list.indexOf(last.op));
      this.mark(last.op, false);
      this.state = last.state;
    }
    return undefined;
  }

  /**
   * Whether an unknown operation leading to `after` may as well never happen: it changes nothing, or it follows an
   * unknown operation and leads to `after` without it too (then that one may as well never happen, and the search
   * tries this one without it). A configuration reached right after an unknown operation is cached with the state
   * before that operation as a tag, since what the search tries from it depends on that state.
   */
  private pointless(op: ModelOp, after: number): boolean {
    if (after === this.state) return true;
    const top = this.stack.at(-1);
    return top !== undefined && this.list.isUnknown(top.op) && step(top.state, op) === after;
  }

  private eligible(op: number): boolean {
    const kind = this.classOf[op] ?? -1;
    if (kind !== -1 && this.rank[op] !== this.used[kind]) return false;
    for (const id of defined(this.prerequisites.before[op])) if (this.linearized[id] === 0) return false;
    return true;
  }

  /** Linearizes `op` (lifts it out of the lists), or takes it back. */
  private mark(op: number, on: boolean): void {
    if (on) this.list.lift(op);
    else this.list.unlift(op);
    this.linearized[op] = on ? 1 : 0;
    const kind = this.classOf[op] ?? -1;
    if (kind !== -1) this.used[kind] = (this.used[kind] ?? 0) + (on ? 1 : -1);
  }

  /** Keeps the deepest point where a known operation's return came with no candidate left. */
  private noteStuck(op: number): void {
    if (this.stuck !== undefined && this.stack.length <= this.stuck.linearized) return;
    const operation = (id: number) => defined(this.ops[id]);
    const pending = this.list.pendingBefore(2 * op + 1).filter((id) => id !== op);
    this.stuck = {
      operation: operation(op),
      linearized: this.stack.length,
      state: this.values.text(this.state),
      pending: pending.map(operation),
    };
    const waiting = [...defined(this.prerequisites.before[op])].filter((id) => this.linearized[id] === 0);
    if (waiting.length > 0) {
      const reader = operation(this.prerequisites.reader[op] ?? -1);
      this.stuck.waitedFor = { reader, before: waiting.map(operation) };
    }
  }
}
