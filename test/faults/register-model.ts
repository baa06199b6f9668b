import type { HistoryOperation } from './jepsen-history.js';

/**
 * The sequential specification of one key: a register that holds a JSON value or nothing. States and values are
 * small integers (each distinct value, by deep equality, gets one), so a step compares numbers and a search
 * state hashes cheaply.
 *
 * A read answers null both for an absent key and for a stored JSON null, so a null read matches either.
 */
export const ABSENT = 0;
const NULL = 1;
/** What `step` answers when the operation's output cannot follow from the state. */
export const IMPOSSIBLE = -1;

enum Kind {
  Get,
  Has,
  Set,
  SetIfAbsent,
  SetIfPresent,
  Pop,
  Cas,
}

/** An operation compiled against a `Values` table. */
export interface ModelOp {
  kind: Kind;
  /** What a set or cas stores. */
  value: number;
  /** A cas's `expected`, or -1 when it has none (store only if absent); null expects a stored null. */
  expected: number;
  /** Whether the output is known (an ok); an unknown one only moves the state. */
  known: boolean;
  /** get, pop: the value read; cas: `current`. */
  out: number;
  /** has, conditional set: the boolean; cas: `swapped`. */
  flag: boolean;
  /** cas: `exists`. */
  exists: boolean;
  /**
   * Known to leave the state as it is wherever its output is possible: get, has, a conditional set that did not
   * store, a cas that did not swap.
   */
  observes: boolean;
}

/** Interns JSON values by deep equality: ids 0 (absent) and 1 (null) are fixed. */
export class Values {
  private readonly ids = new Map<string, number>([['null', NULL]]);
  private readonly texts: string[] = ['absent', 'null'];

  id(value: unknown): number {
    const text = canonicalJson(value);
    let id = this.ids.get(text);
    if (id === undefined) {
      id = this.texts.length;
      this.ids.set(text, id);
      this.texts.push(text);
    }
    return id;
  }

  text(id: number): string {
    return this.texts[id] ?? `#${id}`;
  }

  /** A new id standing for all of `ids`, which the model cannot tell apart. */
  merge(ids: readonly number[]): number {
    const shown = ids.slice(0, 3).map((id) => this.text(id));
    const more = ids.length > 3 ? `, … (${ids.length} values no operation reads)` : '';
    this.texts.push(`one of ${shown.join(', ')}${more}`);
    return this.texts.length - 1;
  }
}

/**
 * Compiles a key's ok and info operations, with every value that no operation compares the state with (no read
 * returned it, no cas expected it) folded into one: the model cannot tell such values apart, and a write whose
 * outcome is unknown and that never took effect writes one. Folded, such writes have equal effects, which the
 * search uses to try far fewer of them.
 */
export function compileAll(ops: readonly HistoryOperation[]): { model: ModelOp[]; values: Values } {
  const values = new Values();
  const model = ops.map((op) => compile(op, values));
  const compared = new Set<number>([ABSENT, NULL]);
  for (const op of model) {
    if (op.known && (op.kind === Kind.Get || op.kind === Kind.Pop || op.kind === Kind.Cas))
      compared.add(op.out);
    if (op.expected !== -1) compared.add(op.expected);
  }
  const unread = [...new Set(model.map(written))].filter((value) => value !== -1 && !compared.has(value));
  if (unread.length < 2) return { model, values };
  const merged = values.merge(unread);
  for (const op of model) if (written(op) !== -1 && !compared.has(op.value)) op.value = merged;
  return { model, values };
}

/** JSON text with object keys sorted, so deep-equal values have the same text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).filter(([, field]) => field !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([name, field]) => `${JSON.stringify(name)}:${canonicalJson(field)}`).join(',')}}`;
  }
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`Expected a JSON value, got ${String(value)}`);
  return text;
}

/** Compiles an ok or info operation; throws on an input or output the API could not have produced. */
function compile(op: HistoryOperation, values: Values): ModelOp {
  const known = op.outcome === 'ok';
  const compiled: ModelOp = {
    kind: Kind.Get,
    value: 0,
    expected: -1,
    known,
    out: 0,
    flag: false,
    exists: false,
    observes: false,
  };
  const where = `${op.f} of process ${op.process} (event ${op.invokeIndex})`;
  const input = (typeof op.input === 'object' && op.input !== null ? op.input : {}) as Record<
    string,
    unknown
  >;
  const output = op.output as Record<string, unknown> | boolean | null | undefined;
  const bool = (value: unknown, what: string): boolean => {
    if (typeof value !== 'boolean') throw new TypeError(`Expected ${what} of ${where} to be a boolean`);
    return value;
  };
  const stored = (): number => {
    if (!('value' in input)) throw new TypeError(`Expected the input of ${where} to have a \`value\``);
    return values.id(input.value);
  };
  switch (op.f) {
    case 'get':
    case 'pop':
      compiled.kind = op.f === 'get' ? Kind.Get : Kind.Pop;
      if (known) compiled.out = values.id(output);
      break;
    case 'has':
      compiled.kind = Kind.Has;
      if (known) compiled.flag = bool(output, 'the output');
      break;
    case 'set':
      if (input.ifAbsent === true && input.ifPresent === true)
        throw new TypeError(`Expected ${where} to have at most one of ifAbsent and ifPresent`);
      compiled.kind =
        input.ifAbsent === true ? Kind.SetIfAbsent : input.ifPresent === true ? Kind.SetIfPresent : Kind.Set;
      compiled.value = stored();
      if (known && compiled.kind !== Kind.Set) compiled.flag = bool(output, 'the output');
      break;
    case 'cas':
      compiled.kind = Kind.Cas;
      compiled.value = stored();
      if (input.expected !== undefined) compiled.expected = values.id(input.expected);
      if (known) {
        if (typeof output !== 'object' || output === null)
          throw new TypeError(`Expected the output of ${where} to be {swapped, exists, current}`);
        compiled.flag = bool(output.swapped, '`swapped`');
        compiled.exists = bool(output.exists, '`exists`');
        compiled.out = values.id(output.current ?? null);
      }
      break;
  }
  compiled.observes =
    known &&
    (compiled.kind === Kind.Get ||
      compiled.kind === Kind.Has ||
      (compiled.kind !== Kind.Set && compiled.kind !== Kind.Pop && !compiled.flag));
  return compiled;
}

/** Whether a value read (null for absent) matches the state. */
function reads(state: number, out: number): boolean {
  return out === state || (out === NULL && state === ABSENT);
}

/** The state after `op`, or IMPOSSIBLE when its known output could not come from `state`. */
export function step(state: number, op: ModelOp): number {
  switch (op.kind) {
    case Kind.Get:
      return op.known && !reads(state, op.out) ? IMPOSSIBLE : state;
    case Kind.Has:
      return op.known && op.flag !== (state !== ABSENT) ? IMPOSSIBLE : state;
    case Kind.Set:
      return op.value;
    case Kind.SetIfAbsent:
    case Kind.SetIfPresent: {
      const stores = (state === ABSENT) === (op.kind === Kind.SetIfAbsent);
      if (op.known && op.flag !== stores) return IMPOSSIBLE;
      return stores ? op.value : state;
    }
    case Kind.Pop:
      return op.known && !reads(state, op.out) ? IMPOSSIBLE : ABSENT;
    case Kind.Cas: {
      const exists = state !== ABSENT;
      const swapped = op.expected === -1 ? !exists : exists && state === op.expected;
      const after = swapped ? op.value : state;
      if (op.known && (op.flag !== swapped || op.exists !== exists || !reads(after, op.out)))
        return IMPOSSIBLE;
      return after;
    }
  }
}

/** The value an operation may store (set, cas), or -1. */
export function written(op: ModelOp): number {
  return op.kind === Kind.Get || op.kind === Kind.Has || op.kind === Kind.Pop ? -1 : op.value;
}

/**
 * A value other than null that the state must hold right before a known operation, by its output (a get or pop
 * that read it, a cas that swapped from it or did not swap and saw it), or -1.
 */
export function required(op: ModelOp): number {
  if (!op.known) return -1;
  let value = -1;
  if (op.kind === Kind.Get || op.kind === Kind.Pop) value = op.out;
  else if (op.kind === Kind.Cas) value = op.flag ? op.expected : op.exists ? op.out : -1;
  return value > NULL ? value : -1;
}

/** Operations with equal effects (on every state): interchangeable when their outcomes are unknown. */
export function effectKey(op: ModelOp): string {
  return `${op.kind},${op.value},${op.expected}`;
}

/** Whether an operation with an unknown outcome can be left out: it would not change the state. */
export function isReadOnly(op: HistoryOperation): boolean {
  return op.f === 'get' || op.f === 'has';
}
