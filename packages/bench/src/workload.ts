import type { Consistency } from '@kvdb/core';
import {
  MAX_SCAN_LENGTH,
  OPERATION_KINDS,
  type OperationKind,
  type OperationMix,
  type RequestDistribution,
  recordJson,
} from './core-workloads.js';
import { InsertSequence, type KeyChooser, type KeySpace, keyChooser, sequentialKeys } from './key-chooser.js';

export type WireMethod = 'get' | 'set' | 'mget';

export interface WorkloadInit {
  /** The share of each kind of operation; they add up to 1. */
  mix: OperationMix;
  /** @default 'uniform' */
  distribution?: RequestDistribution;
  /** Where the run's records are, and where this generator inserts. */
  keys: KeySpace;
  /** Characters of each value: a plain string, or a record's fields together. */
  valueSize: number;
  /** Write values as YCSB records, `{"field0":"…",…}`, rather than plain strings. @default false */
  records?: boolean;
  consistency?: Consistency;
  /** Walk the loaded keys in order, `key:0` first, instead of drawing them: a prefill sets each once. @default false */
  sequential?: boolean;
  /** Picks keys, operations and scan lengths; returns a float in [0, 1). @default Math.random */
  random?: () => number;
}

/**
 * Chooses each operation of a run and builds its JSON-RPC bodies as strings, by concatenation: every key is
 * `key:N`, every value the same JSON text made once, params named. No JSON.stringify on the hot path.
 */
export class Workload {
  readonly inserts: InsertSequence;
  private readonly kinds: OperationKind[] = [];
  /** Running sums of the mix's shares, one per kind in `kinds`. */
  private readonly thresholds: number[] = [];
  private readonly chooser: KeyChooser;
  private readonly loaded: number;
  private readonly valueJson: string;
  private readonly tail: string;
  private readonly random: () => number;
  private id = 0;

  constructor(init: WorkloadInit) {
    let sum = 0;
    for (const kind of OPERATION_KINDS) {
      const share = init.mix[kind] ?? 0;
      if (share <= 0) continue;
      sum += share;
      this.kinds.push(kind);
      this.thresholds.push(sum);
    }
    if (this.kinds.length === 0) throw new RangeError('Workload: the mix names no operation');
    this.loaded = init.keys.loaded;
    this.random = init.random ?? Math.random;
    this.inserts = new InsertSequence(init.keys);
    this.chooser = init.sequential
      ? sequentialKeys(this.loaded)
      : keyChooser(init.distribution ?? 'uniform', this.loaded, this.inserts, this.random);
    this.valueJson = init.records ? recordJson(init.valueSize) : JSON.stringify(benchValue(init.valueSize));
    this.tail = init.consistency === undefined ? '}}' : `,"consistency":"${init.consistency}"}}`;
  }

  /** The next operation of the mix. */
  nextOperation(): OperationKind {
    const last = this.kinds.length - 1;
    if (last === 0) return this.kinds[0] as OperationKind;
    const draw = this.random() * (this.thresholds[last] as number);
    for (let index = 0; index < last; index++) {
      if (draw < (this.thresholds[index] as number)) return this.kinds[index] as OperationKind;
    }
    return this.kinds[last] as OperationKind;
  }

  /** The key the operation acts on: a new one for an insert, the start of a scan. */
  nextKey(kind: OperationKind): number {
    return kind === 'insert' ? this.inserts.next() : this.chooser();
  }

  /** A scan's length, uniform from 1 to MAX_SCAN_LENGTH, cut where the loaded records end. */
  scanLength(start: number): number {
    return Math.min(1 + Math.floor(this.random() * MAX_SCAN_LENGTH), this.loaded - start);
  }

  /** A `get` or `set` of `key`, or an `mget` of `count` keys from `key` on. */
  body(method: WireMethod, key: number, count = 1): string {
    this.id = (this.id + 1) % 0x7fffffff;
    const head = `{"jsonrpc":"2.0","id":${this.id},"method":"${method}","params":`;
    if (method === 'mget') {
      let keys = `"key:${key}"`;
      for (let next = key + 1; next < key + count; next++) keys += `,"key:${next}"`;
      return `${head}{"keys":[${keys}]${this.tail}`;
    }
    const params = `{"key":"key:${key}"`;
    return method === 'set'
      ? `${head}${params},"value":${this.valueJson}${this.tail}`
      : head + params + this.tail;
  }
}

/** The value every set stores without `--workload`: `valueSize` characters. */
export function benchValue(valueSize: number): string {
  return 'x'.repeat(valueSize);
}
