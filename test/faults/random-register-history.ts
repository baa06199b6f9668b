import { isDeepStrictEqual } from 'node:util';
import type { JsonValue } from '@kvdb/core';
import {
  HistoryRecorder,
  type JepsenEvent,
  type OpInputs,
  type OpName,
  type PendingOperation,
} from './jepsen-history.js';
import type { Random } from './random.js';

export interface RandomHistoryInit {
  /** Operations to invoke. */
  operations: number;
  keys: number;
  /** Client threads: up to this many operations are in flight at once. */
  threads: number;
  /** Share of operations whose outcome the client never learns (half of them take effect, at any later time). @default 0.05 */
  infoRate?: number;
  /** Share of operations that fail and do not take effect. @default 0.03 */
  failRate?: number;
  /** How many distinct values the writes draw from (a read then cannot tell writes apart). @default Infinity: each write is new */
  values?: number;
}

/** What each invoke does, by weight. */
const MIX = {
  get: 25,
  has: 5,
  set: 20,
  setIfAbsent: 7,
  setIfPresent: 5,
  pop: 13,
  cas: 20,
  casAbsent: 5,
} as const;

type InFlight = {
  f: OpName;
  key: string;
  input: OpInputs[OpName];
  handle: PendingOperation<OpName>;
  output?: unknown;
};

/**
 * A history that is linearizable by construction: threads invoke operations on a real sequential store (a Map,
 * compared with `isDeepStrictEqual`, independent of the checker's model); each takes effect at one moment between
 * its invoke and its completion, chosen at random among the other threads' steps, so operations overlap. An
 * operation that ends `info` may take effect later, or never; one that ends `fail` never does.
 */
export function randomRegisterHistory(random: Random, init: RandomHistoryInit): JepsenEvent[] {
  const infoRate = init.infoRate ?? 0.05;
  const failRate = init.failRate ?? 0.03;
  const recorder = new HistoryRecorder({ threads: init.threads });
  const store = new Map<string, JsonValue>();
  const written = new Map<string, JsonValue[]>();
  const threads: Array<InFlight | undefined> = Array.from({ length: init.threads });
  const applied = new Set<InFlight>();
  let orphans: InFlight[] = [];
  let invoked = 0;
  let sequence = 0;

  const value = (): JsonValue => {
    sequence += 1;
    const n = init.values === undefined ? sequence : sequence % init.values;
    return random.next() < 0.8 ? `v${n}` : { n, tags: ['x', n % 3] };
  };
  const apply = (op: InFlight) => {
    op.output = execute(store, op.f, op.key, op.input);
    applied.add(op);
  };

  while (invoked < init.operations || threads.some((op) => op !== undefined)) {
    if (orphans.length > 0 && random.next() < 0.05) {
      const orphan = random.pick(orphans);
      orphans = orphans.filter((op) => op !== orphan);
      if (random.next() < 0.5) apply(orphan);
      continue;
    }
    const thread = random.int(0, init.threads - 1);
    const op = threads[thread];
    if (op === undefined) {
      if (invoked >= init.operations) continue;
      invoked += 1;
      const key = `k${random.int(0, init.keys - 1)}`;
      const [f, input] = pickOperation(random, value, written.get(key) ?? [], store.get(key));
      if (f === 'set' || f === 'cas') {
        const list = written.get(key) ?? [];
        list.push((input as { value: JsonValue }).value);
        written.set(key, list);
      }
      threads[thread] = { f, key, input, handle: recorder.invoke(thread, f, key, input) };
      continue;
    }
    const roll = random.next();
    if (!applied.has(op)) {
      if (roll < failRate) op.handle.fail('failed');
      else if (roll < failRate + infoRate / 2) orphans.push(op);
      else {
        apply(op);
        continue;
      }
      if (roll >= failRate) op.handle.info('timed out');
    } else if (roll < infoRate / 2) op.handle.info('timed out');
    else op.handle.ok(op.output as never);
    threads[thread] = undefined;
  }
  return [...recorder.events];
}

function pickOperation(
  random: Random,
  value: () => JsonValue,
  written: readonly JsonValue[],
  current: JsonValue | undefined,
): [OpName, OpInputs[OpName]] {
  const kind = random.weighted(MIX);
  switch (kind) {
    case 'get':
    case 'has':
    case 'pop':
      return [kind, null];
    case 'set':
      return ['set', { value: value() }];
    case 'setIfAbsent':
      return ['set', { value: value(), ifAbsent: true }];
    case 'setIfPresent':
      return ['set', { value: value(), ifPresent: true }];
    case 'casAbsent':
      return ['cas', { value: value() }];
    case 'cas': {
      const expected = current !== undefined && random.next() < 0.7 ? current : (written.at(-2) ?? 'none');
      return ['cas', { value: value(), expected: structuredClone(expected) }];
    }
  }
}

/** The API's semantics on one key of a plain Map. */
export function execute(
  store: Map<string, JsonValue>,
  f: OpName,
  key: string,
  input: OpInputs[OpName],
): unknown {
  const exists = store.has(key);
  const current = store.get(key) ?? null;
  switch (f) {
    case 'get':
      return structuredClone(current);
    case 'has':
      return exists;
    case 'pop':
      store.delete(key);
      return current;
    case 'set': {
      const { value, ifAbsent, ifPresent } = input as OpInputs['set'];
      const stores = ifAbsent === true ? !exists : ifPresent === true ? exists : true;
      if (stores) store.set(key, structuredClone(value));
      return stores;
    }
    case 'cas': {
      const { value, expected } = input as OpInputs['cas'];
      const swapped = expected === undefined ? !exists : exists && isDeepStrictEqual(current, expected);
      if (swapped) store.set(key, structuredClone(value));
      return { swapped, exists, current: structuredClone(store.get(key) ?? null) };
    }
  }
}
