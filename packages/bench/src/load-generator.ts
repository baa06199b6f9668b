import { performance } from 'node:perf_hooks';
import { TRANSPORT_ERROR_BACKOFF_MS } from './constants.js';
import {
  type ErrorTally,
  emptyTally,
  noteRpcError,
  noteTransportError,
  transportErrorKind,
} from './errors-tally.js';
import { createHistogram, type Histogram, recordMillis } from './histogram.js';
import { HttpConnection, type ReplyHandler } from './http-connection.js';
import type { StopCondition, Target } from './options.js';
import { type WireMethod, Workload, type WorkloadInit } from './workload.js';

export interface LoadPlan {
  targets: readonly Target[];
  /** Requests this generator keeps in flight: one slot each, pipelining 1. */
  concurrency: number;
  /**
   * Number of this generator's first slot among all slots of the run; slot `n` talks to target `n % targets`,
   * so several workers together spread evenly over the targets.
   * @default 0
   */
  firstSlot?: number;
  stop: StopCondition;
  workload: WorkloadInit;
  timeoutMs: number;
  authToken?: string;
}

/** What a generator did. Counts are of completed requests; `ok` ones are in the histogram. */
export interface LoadResult {
  completed: number;
  ok: number;
  gets: number;
  sets: number;
  /** Gets answered `null`: the key was not there. */
  misses: number;
  errors: ErrorTally;
  durationMs: number;
  histogram: Histogram;
}

/** Live counters, read by the progress bar while the run goes on. */
export interface LoadProgress {
  completed: number;
  errors: number;
}

/**
 * Keeps `concurrency` JSON-RPC calls in flight, one per slot, each slot with its own keep-alive connection to its
 * target (`HttpConnection`), until the stop condition. The hot path is a callback chain per slot, with no promise
 * or stream per request; bodies are strings built by concatenation, replies parsed with one JSON.parse.
 */
export class LoadGenerator {
  readonly progress: LoadProgress = { completed: 0, errors: 0 };
  private readonly plan: LoadPlan;
  private readonly workload: Workload;
  private readonly slots: Slot[] = [];
  private readonly histogram = createHistogram();
  private readonly errors: ErrorTally = emptyTally();
  private counts = { ok: 0, gets: 0, sets: 0, misses: 0 };
  private issued = 0;
  private deadline = Number.POSITIVE_INFINITY;
  private active = 0;
  private done: (() => void) | undefined;

  constructor(plan: LoadPlan) {
    this.plan = plan;
    this.workload = new Workload(plan.workload);
    let headers = 'content-type: application/json\r\n';
    if (plan.authToken !== undefined) headers += `authorization: Bearer ${plan.authToken}\r\n`;
    const first = plan.firstSlot ?? 0;
    for (let slot = first; slot < first + plan.concurrency; slot++) {
      const target = plan.targets[slot % plan.targets.length];
      if (target === undefined) throw new Error('LoadGenerator: the plan names no targets');
      const { host, port } = target;
      this.slots.push(new Slot(this, new HttpConnection({ host, port, headers, timeoutMs: plan.timeoutMs })));
    }
  }

  async run(): Promise<LoadResult> {
    const started = performance.now();
    if (this.plan.stop.durationMs !== undefined) this.deadline = started + this.plan.stop.durationMs;
    await new Promise<void>((resolve) => {
      this.done = resolve;
      this.active = this.slots.length;
      for (const slot of this.slots) slot.next();
    });
    return {
      ...this.counts,
      completed: this.progress.completed,
      errors: this.errors,
      durationMs: performance.now() - started,
      histogram: this.histogram,
    };
  }

  /** Closes every connection; a run under way ends at once, with what it had done. */
  async close(): Promise<void> {
    for (const slot of this.slots) slot.close();
    this.done?.();
  }

  /** Whether a slot may send another request; counts it as issued when it may. */
  claim(): boolean {
    if (this.plan.stop.requests !== undefined) {
      if (this.issued >= this.plan.stop.requests) return this.retire();
    } else if (performance.now() >= this.deadline) {
      return this.retire();
    }
    this.issued++;
    return true;
  }

  nextMethod(): WireMethod {
    return this.workload.nextMethod();
  }

  nextBody(method: WireMethod): string {
    return this.workload.body(method, this.workload.nextKey());
  }

  replied(method: WireMethod, statusCode: number, text: string, ms: number): void {
    this.progress.completed++;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {}
    const reply =
      typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
        ? (parsed as { result?: unknown; error?: { code?: unknown; message?: unknown } })
        : undefined;
    if (typeof reply?.error === 'object' && reply.error !== null) {
      this.progress.errors++;
      noteRpcError(this.errors, reply.error);
    } else if (statusCode < 200 || statusCode > 299 || reply === undefined || !('result' in reply)) {
      this.progress.errors++;
      noteTransportError(this.errors, `HTTP ${statusCode}`, text.slice(0, 200));
    } else {
      this.counts.ok++;
      if (method === 'get') {
        this.counts.gets++;
        if (reply.result === null) this.counts.misses++;
      } else {
        this.counts.sets++;
      }
      recordMillis(this.histogram, ms);
    }
  }

  failed(error: Error): void {
    this.progress.completed++;
    this.progress.errors++;
    noteTransportError(this.errors, transportErrorKind(error), error.message);
  }

  private retire(): false {
    this.active--;
    if (this.active === 0) this.done?.();
    return false;
  }
}

/** One request slot: sends, waits for the whole reply, records, sends again. Reused for every request it makes. */
class Slot implements ReplyHandler {
  private readonly generator: LoadGenerator;
  private readonly connection: HttpConnection;
  private method: WireMethod = 'get';
  private started = 0;
  private closed = false;

  constructor(generator: LoadGenerator, connection: HttpConnection) {
    this.generator = generator;
    this.connection = connection;
  }

  next(): void {
    if (this.closed || !this.generator.claim()) return;
    this.method = this.generator.nextMethod();
    const body = this.generator.nextBody(this.method);
    this.started = performance.now();
    this.connection.post(body, this);
  }

  close(): void {
    this.closed = true;
    this.connection.close();
  }

  onReply(status: number, body: Buffer): void {
    const ms = performance.now() - this.started;
    this.generator.replied(this.method, status, body.toString(), ms);
    this.next();
  }

  onFailure(error: Error): void {
    if (this.closed) return;
    this.generator.failed(error);
    setTimeout(() => this.next(), TRANSPORT_ERROR_BACKOFF_MS);
  }
}
