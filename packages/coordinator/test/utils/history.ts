import { type JsonText, NULL_TEXT } from '@kvdb/core';

/** What a key reads as: the text of its value, or of `null` when it holds none (never written, or popped). */
export type Outcome = JsonText;

interface KeyHistory {
  /** The outcome of the last acknowledged write or pop; `undefined` before any. */
  acked: Outcome | undefined;
  /** Outcomes of operations that failed after it: each may or may not have landed (and would then win). */
  maybe: Outcome[];
}

export interface StaleRead {
  key: string;
  got: Outcome;
  allowed: Outcome[];
  at: number;
}

/**
 * What clients were told, per key, for operations issued one at a time per key: a later operation always carries
 * a later version, so the key must end as the last acknowledged outcome, or as one of the failed operations that
 * followed it (a failed write may still have reached a replica or left a hint).
 */
export class History {
  readonly staleReads: StaleRead[] = [];
  acked = 0;
  failed = 0;
  private readonly keys = new Map<string, KeyHistory>();

  get size(): number {
    return this.keys.size;
  }

  keyList(): string[] {
    return [...this.keys.keys()].sort();
  }

  wrote(key: string, value: JsonText, ok: boolean): void {
    if (ok) this.settle(key, value);
    else this.mayHave(key, value);
  }

  /** A pop answered `got` (the value it removed, or null when there was none); `ok: false` when it failed. */
  popped(key: string, outcome: { ok: true; got: Outcome } | { ok: false }, at: number): void {
    if (!outcome.ok) {
      this.mayHave(key, NULL_TEXT);
      return;
    }
    this.read(key, outcome.got, at);
    if (outcome.got !== NULL_TEXT) this.settle(key, NULL_TEXT);
  }

  /** A read answered `got`: it must be the last acknowledged outcome or one that may have landed since. */
  read(key: string, got: Outcome, at: number): void {
    const allowed = this.allowed(key);
    if (!allowed.includes(got)) this.staleReads.push({ key, got, allowed, at });
  }

  /** The outcomes the key may end with. */
  allowed(key: string): Outcome[] {
    const history = this.keys.get(key);
    if (history === undefined) return [NULL_TEXT];
    return [history.acked ?? NULL_TEXT, ...history.maybe];
  }

  /** Whether the key may end as `final`. */
  allows(key: string, final: Outcome): boolean {
    return this.allowed(key).includes(final);
  }

  private settle(key: string, outcome: Outcome): void {
    this.acked += 1;
    this.keys.set(key, { acked: outcome, maybe: [] });
  }

  private mayHave(key: string, outcome: Outcome): void {
    this.failed += 1;
    const history = this.keys.get(key) ?? { acked: undefined, maybe: [] };
    history.maybe.push(outcome);
    this.keys.set(key, history);
  }
}
