import type { HistoryOperation } from './jepsen-history.js';

/**
 * The events the linearizability search walks, as doubly linked lists over typed arrays: entry 2i is operation
 * i's call, 2i+1 its return. The known (ok) operations' calls and returns form one list in history order; the
 * unknown (info) operations' calls form a second one, in invoke order (they have no return to meet). Linearizing
 * an operation lifts its entries out of the lists; backtracking puts them back, in the reverse order.
 */
export class SearchEventList {
  readonly knownCount: number;
  readonly unknownCount: number;
  private readonly nextOf: Int32Array;
  private readonly previousOf: Int32Array;
  private readonly head: number;
  private readonly unknownHead: number;
  /** Operation → its number among the known or among the unknown ones. */
  private readonly index: Int32Array;
  private readonly unknown: Uint8Array;
  private readonly positions: Float64Array;
  /** The unknown operations, in invoke order. */
  private readonly unknownOps: number[] = [];

  constructor(ops: readonly HistoryOperation[]) {
    this.head = 2 * ops.length;
    this.unknownHead = this.head + 1;
    this.nextOf = new Int32Array(this.head + 2).fill(-1);
    this.previousOf = new Int32Array(this.head + 2).fill(-1);
    this.index = new Int32Array(ops.length);
    this.unknown = new Uint8Array(ops.length);
    this.positions = new Float64Array(this.head);
    const known: Array<{ entry: number; at: number }> = [];
    let previousUnknown = this.unknownHead;
    let knownCount = 0;
    let unknownCount = 0;
    ops.forEach((op, id) => {
      this.positions[2 * id] = op.invokeIndex;
      this.positions[2 * id + 1] = op.completeIndex;
      if (op.outcome === 'ok') {
        this.index[id] = knownCount++;
        known.push({ entry: 2 * id, at: op.invokeIndex }, { entry: 2 * id + 1, at: op.completeIndex });
        return;
      }
      this.index[id] = unknownCount++;
      this.unknownOps.push(id);
      this.unknown[id] = 1;
      this.link(previousUnknown, 2 * id);
      previousUnknown = 2 * id;
    });
    known.sort((a, b) => a.at - b.at);
    let previous = this.head;
    for (const { entry } of known) {
      this.link(previous, entry);
      previous = entry;
    }
    this.knownCount = knownCount;
    this.unknownCount = unknownCount;
  }

  /** The first entry left in the known list (-1: every known operation is linearized). */
  first(): number {
    return this.nextOf[this.head] ?? -1;
  }

  firstUnknown(): number {
    return this.nextOf[this.unknownHead] ?? -1;
  }

  next(entry: number): number {
    return this.nextOf[entry] ?? -1;
  }

  /** The call of the last unknown operation left in its list that was invoked before `position`, or -1. */
  lastUnknownBefore(position: number): number {
    let low = 0;
    let high = this.unknownOps.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.position(2 * (this.unknownOps[middle] ?? 0)) < position) low = middle + 1;
      else high = middle;
    }
    for (let at = low - 1; at >= 0; at--) {
      const call = 2 * (this.unknownOps[at] ?? 0);
      if (this.nextOf[this.previousOf[call] ?? -1] === call) return call;
    }
    return -1;
  }

  /** The unknown call before `call` in its list, or -1. */
  previousUnknown(call: number): number {
    const previous = this.previousOf[call] ?? -1;
    return previous === this.unknownHead ? -1 : previous;
  }

  isCall(entry: number): boolean {
    return entry % 2 === 0;
  }

  opOf(entry: number): number {
    return entry >> 1;
  }

  isUnknown(op: number): boolean {
    return this.unknown[op] === 1;
  }

  /** The operation's number among the known or among the unknown ones. */
  indexOf(op: number): number {
    return this.index[op] ?? -1;
  }

  /** The entry's event position in the history (a return that never comes: Infinity). */
  position(entry: number): number {
    return entry === -1 ? Number.POSITIVE_INFINITY : (this.positions[entry] ?? Number.POSITIVE_INFINITY);
  }

  lift(op: number): void {
    this.unlink(2 * op);
    if (!this.isUnknown(op)) this.unlink(2 * op + 1);
  }

  unlift(op: number): void {
    if (!this.isUnknown(op)) this.relink(2 * op + 1);
    this.relink(2 * op);
  }

  /** The operations left in the lists that were invoked before `entry`'s event. */
  pendingBefore(entry: number): number[] {
    const ops: number[] = [];
    const end = this.position(entry);
    for (const start of [this.first(), this.firstUnknown()])
      for (let at = start; at !== -1 && this.position(at) < end; at = this.next(at))
        if (this.isCall(at)) ops.push(this.opOf(at));
    return ops;
  }

  private link(previous: number, entry: number): void {
    this.nextOf[previous] = entry;
    this.previousOf[entry] = previous;
  }

  private unlink(entry: number): void {
    const previous = this.previousOf[entry] ?? -1;
    const next = this.nextOf[entry] ?? -1;
    this.nextOf[previous] = next;
    if (next !== -1) this.previousOf[next] = previous;
  }

  private relink(entry: number): void {
    const previous = this.previousOf[entry] ?? -1;
    const next = this.nextOf[entry] ?? -1;
    this.nextOf[previous] = entry;
    if (next !== -1) this.previousOf[next] = entry;
  }
}
