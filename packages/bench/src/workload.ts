import type { Consistency } from '@kvdb/core';
import type { Ratio } from './options.js';

export type WireMethod = 'get' | 'set';

export interface WorkloadInit {
  ratio: Ratio;
  keyspace: number;
  valueSize: number;
  consistency?: Consistency;
  /** Walk the keys in order, `key:0` first, instead of drawing them: a warmup sets each once. @default false */
  sequential?: boolean;
  /** Picks keys and operations; returns a float in [0, 1). @default Math.random */
  random?: () => number;
}

/**
 * Builds the JSON-RPC bodies of a run as strings, by concatenation: every key is `key:N`, every value the same
 * string of `valueSize` characters, params named. No JSON.stringify on the hot path.
 */
export class Workload {
  private readonly getShare: number;
  private readonly keyspace: number;
  private readonly valueJson: string;
  private readonly tail: string;
  private readonly random: () => number;
  private readonly sequential: boolean;
  private id = 0;
  private cursor = 0;

  constructor(init: WorkloadInit) {
    this.getShare = init.ratio.get / (init.ratio.get + init.ratio.set);
    this.keyspace = init.keyspace;
    this.valueJson = JSON.stringify(benchValue(init.valueSize));
    this.tail = init.consistency === undefined ? '}}' : `,"consistency":"${init.consistency}"}}`;
    this.random = init.random ?? Math.random;
    this.sequential = init.sequential ?? false;
  }

  /** The next operation of the mix. */
  nextMethod(): WireMethod {
    if (this.getShare === 1) return 'get';
    if (this.getShare === 0) return 'set';
    return this.random() < this.getShare ? 'get' : 'set';
  }

  /** A uniformly drawn key index, or the next one in order. */
  nextKey(): number {
    if (!this.sequential) return Math.floor(this.random() * this.keyspace);
    const key = this.cursor;
    this.cursor = (this.cursor + 1) % this.keyspace;
    return key;
  }

  body(method: WireMethod, key: number): string {
    this.id = (this.id + 1) % 0x7fffffff;
    const head = `{"jsonrpc":"2.0","id":${this.id},"method":"${method}","params":{"key":"key:${key}"`;
    return method === 'set' ? `${head},"value":${this.valueJson}${this.tail}` : head + this.tail;
  }
}

/** The value every set stores: `valueSize` characters. */
export function benchValue(valueSize: number): string {
  return 'x'.repeat(valueSize);
}
