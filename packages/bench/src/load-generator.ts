import { performance } from 'node:perf_hooks';
import { createSecureContext } from 'node:tls';
import type { TlsPem } from '@kvdb/client/cli';
import { TRANSPORT_ERROR_BACKOFF_MS } from './constants.js';
import type { OperationKind } from './core-workloads.js';
import {
  type ErrorTally,
  emptyTally,
  noteRpcError,
  noteTransportError,
  transportErrorKind,
} from './errors-tally.js';
import { createHistogram, type Histogram, recordMillis } from './histogram.js';
import { HttpConnection } from './http-connection.js';
import { OpenLoopSchedule, Pacer } from './open-loop.js';
import type { StopCondition, Target } from './options.js';
import { type ReplyOutcome, Slot, type SlotOwner } from './slot.js';
import { type WireMethod, Workload, type WorkloadInit } from './workload.js';

export interface LoadPlan {
  targets: readonly Target[];
  /** Operations this generator keeps in flight: one slot each, pipelining 1. */
  concurrency: number;
  /**
   * Number of this generator's first slot among all slots of the run; slot `n` talks to target `n % targets`,
   * so several workers together spread evenly over the targets.
   * @default 0
   */
  firstSlot?: number;
  stop: StopCondition;
  workload: WorkloadInit;
  /**
   * Open loop: operations this generator starts per second, on a fixed timetable, each timed from when it was meant
   * to start (see open-loop.ts). Without it, a closed loop: each slot starts its next operation when its last ends.
   */
  rate?: number;
  timeoutMs: number;
  authToken?: string;
  /** Speak TLS to the targets with these CA and client certificates. @default undefined: plain HTTP */
  tls?: TlsPem;
}

/** What a generator did. Counts are of completed operations; `ok` ones are in the histograms. */
export interface LoadResult {
  completed: number;
  ok: number;
  /** Reads that succeeded. */
  gets: number;
  /** Updates and inserts that succeeded. */
  sets: number;
  /** Reads, and the reads of read-modify-writes, answered `null`: the key was not there. */
  misses: number;
  /** The latencies of the successful operations of each kind that ran. */
  operations: Partial<Record<OperationKind, Histogram>>;
  /** Open loop, stopped on a duration: operations meant to start before the end that never did (no slot was free). */
  unsent: number;
  errors: ErrorTally;
  durationMs: number;
  histogram: Histogram;
}

/** Live counters, read by the progress bar while the run goes on. */
export interface LoadProgress {
  completed: number;
  errors: number;
}

/** A reply this long with a result head is taken as a result unparsed: a 100-record scan is 100 KB of JSON. */
const UNPARSED_REPLY_CHARS = 4_096;
const RESULT_HEAD = /^\{"jsonrpc":"2\.0","id":\d+,"result":/;

/**
 * Keeps `concurrency` operations in flight, one per slot, each slot with its own keep-alive connection to its
 * target (`HttpConnection`), until the stop condition: in a closed loop, or paced by an open-loop timetable. The hot
 * path is a callback chain per slot, with no promise or stream per request; bodies are strings built by
 * concatenation, replies parsed with one JSON.parse (a long result not at all).
 */
export class LoadGenerator implements SlotOwner {
  readonly progress: LoadProgress = { completed: 0, errors: 0 };
  readonly workload: Workload;
  private readonly plan: LoadPlan;
  private readonly slots: Slot[] = [];
  private readonly histogram = createHistogram();
  private readonly operations: Partial<Record<OperationKind, Histogram>> = {};
  private readonly errors: ErrorTally = emptyTally();
  private counts = { ok: 0, gets: 0, sets: 0, misses: 0 };
  private issued = 0;
  private deadline = Number.POSITIVE_INFINITY;
  private pacer: Pacer<Slot> | undefined;
  private active = 0;
  private closed = false;
  private done: (() => void) | undefined;

  constructor(plan: LoadPlan) {
    this.plan = plan;
    this.workload = new Workload(plan.workload);
    let headers = 'content-type: application/json\r\n';
    if (plan.authToken !== undefined) headers += `authorization: Bearer ${plan.authToken}\r\n`;
    // One context for every connection: the certificates are parsed once, not once a connection.
    const tls = plan.tls === undefined ? undefined : { secureContext: createSecureContext(plan.tls) };
    const first = plan.firstSlot ?? 0;
    for (let slot = first; slot < first + plan.concurrency; slot++) {
      const target = plan.targets[slot % plan.targets.length];
      if (target === undefined) throw new Error('LoadGenerator: the plan names no targets');
      const { host, port } = target;
      const connection = new HttpConnection({ host, port, headers, timeoutMs: plan.timeoutMs, tls });
      this.slots.push(new Slot(this, connection));
    }
  }

  async run(): Promise<LoadResult> {
    const started = performance.now();
    if (this.plan.stop.durationMs !== undefined) this.deadline = started + this.plan.stop.durationMs;
    const schedule = this.plan.rate === undefined ? undefined : new OpenLoopSchedule(this.plan.rate, started);
    if (schedule) this.pacer = new Pacer(schedule, this, () => performance.now());
    await new Promise<void>((resolve) => {
      this.done = resolve;
      this.active = this.slots.length;
      for (const slot of this.slots) this.ready(slot);
    });
    const unsent =
      schedule && this.plan.stop.durationMs !== undefined
        ? Math.max(0, schedule.countBefore(this.deadline) - (this.pacer?.issued ?? 0))
        : 0;
    return {
      ...this.counts,
      completed: this.progress.completed,
      operations: this.operations,
      unsent,
      errors: this.errors,
      durationMs: performance.now() - started,
      histogram: this.histogram,
    };
  }

  /** Closes every connection; a run under way ends at once, with what it had done. */
  async close(): Promise<void> {
    this.closed = true;
    this.pacer?.close();
    for (const slot of this.slots) slot.close();
    this.done?.();
  }

  /** Whether operation `index` (from 0) may still start at `now`. */
  allows(index: number, now: number): boolean {
    if (this.plan.stop.requests !== undefined) return index < this.plan.stop.requests;
    return now < this.deadline;
  }

  start(slot: Slot, startedAt: number): void {
    slot.start(startedAt);
  }

  retire(): void {
    this.active--;
    if (this.active === 0) this.done?.();
  }

  outcome(method: WireMethod, statusCode: number, text: string): ReplyOutcome {
    const success = statusCode >= 200 && statusCode <= 299;
    if (success && text.length > UNPARSED_REPLY_CHARS && RESULT_HEAD.test(text.slice(0, 64))) return 'ok';
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {}
    const reply =
      typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
        ? (parsed as { result?: unknown; error?: { code?: unknown; message?: unknown } })
        : undefined;
    if (typeof reply?.error === 'object' && reply.error !== null) {
      noteRpcError(this.errors, reply.error);
      return 'error';
    }
    if (!success || reply === undefined || !('result' in reply)) {
      noteTransportError(this.errors, `HTTP ${statusCode}`, text.slice(0, 200));
      return 'error';
    }
    return method === 'get' && reply.result === null ? 'miss' : 'ok';
  }

  finished(slot: Slot, kind: OperationKind, key: number, ok: boolean, missed: boolean, ms: number): void {
    this.progress.completed++;
    if (kind === 'insert') this.workload.inserts.completed(key);
    if (!ok) {
      this.progress.errors++;
    } else {
      this.counts.ok++;
      if (kind === 'read') this.counts.gets++;
      else if (kind === 'update' || kind === 'insert') this.counts.sets++;
      if (missed) this.counts.misses++;
      recordMillis(this.histogram, ms);
      const histogram = this.operations[kind] ?? createHistogram();
      this.operations[kind] = histogram;
      recordMillis(histogram, ms);
    }
    this.ready(slot);
  }

  failed(slot: Slot, kind: OperationKind, key: number, error: Error): void {
    this.progress.completed++;
    this.progress.errors++;
    if (kind === 'insert') this.workload.inserts.completed(key);
    noteTransportError(this.errors, transportErrorKind(error), error.message);
    setTimeout(() => this.ready(slot), TRANSPORT_ERROR_BACKOFF_MS);
  }

  /** A free slot: its next operation starts now (closed loop) or on the timetable (open loop), or it retires. */
  private ready(slot: Slot): void {
    if (this.closed) return;
    if (this.pacer) {
      this.pacer.offer(slot);
      return;
    }
    const now = performance.now();
    if (!this.allows(this.issued, now)) {
      this.retire();
      return;
    }
    this.issued++;
    slot.start(now);
  }
}
