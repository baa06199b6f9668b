import { performance } from 'node:perf_hooks';
import { type Dispatcher, Pool } from 'undici';
import { TRANSPORT_ERROR_BACKOFF_MS } from './constants.js';
import {
  type ErrorTally,
  emptyTally,
  noteRpcError,
  noteTransportError,
  transportErrorKind,
} from './errors-tally.js';
import { createHistogram, type Histogram, recordMillis } from './histogram.js';
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
 * Keeps `concurrency` JSON-RPC calls in flight over undici `Pool`s (one per target, one connection per slot)
 * until the stop condition. The hot path is a callback chain per slot through `Pool.dispatch`, with no promise or
 * body stream per request; bodies are strings built by concatenation, replies parsed with one JSON.parse.
 */
export class LoadGenerator {
  readonly progress: LoadProgress = { completed: 0, errors: 0 };
  private readonly plan: LoadPlan;
  private readonly workload: Workload;
  private readonly pools: Pool[];
  private readonly headers: Record<string, string>;
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
    const first = plan.firstSlot ?? 0;
    this.pools = plan.targets.map((target, index) => {
      let slots = 0;
      for (let slot = first; slot < first + plan.concurrency; slot++)
        if (slot % plan.targets.length === index) slots++;
      return new Pool(
        `http://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`,
        {
          connections: Math.max(1, slots),
          pipelining: 1,
          headersTimeout: plan.timeoutMs,
          bodyTimeout: plan.timeoutMs,
          keepAliveTimeout: 30_000,
        },
      );
    });
    this.headers = { 'content-type': 'application/json' };
    if (plan.authToken !== undefined) this.headers.authorization = `Bearer ${plan.authToken}`;
  }

  async run(): Promise<LoadResult> {
    const started = performance.now();
    if (this.plan.stop.durationMs !== undefined) this.deadline = started + this.plan.stop.durationMs;
    const first = this.plan.firstSlot ?? 0;
    await new Promise<void>((resolve) => {
      this.done = resolve;
      for (let slot = first; slot < first + this.plan.concurrency; slot++) {
        const pool = this.pools[slot % this.pools.length]!;
        this.active++;
        new Slot(this, pool).next();
      }
    });
    return {
      ...this.counts,
      completed: this.progress.completed,
      errors: this.errors,
      durationMs: performance.now() - started,
      histogram: this.histogram,
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((pool) => pool.destroy()));
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

  nextRequest(): { method: WireMethod; body: string } {
    const method = this.workload.nextMethod();
    return { method, body: this.workload.body(method, this.workload.nextKey()) };
  }

  dispatchOptions(body: string): Dispatcher.DispatchOptions {
    return { path: '/', method: 'POST', headers: this.headers, body };
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
class Slot implements Dispatcher.DispatchHandler {
  private readonly generator: LoadGenerator;
  private readonly pool: Pool;
  private chunks: Buffer[] = [];
  private statusCode = 0;
  private method: WireMethod = 'get';
  private started = 0;

  constructor(generator: LoadGenerator, pool: Pool) {
    this.generator = generator;
    this.pool = pool;
  }

  next(): void {
    if (!this.generator.claim()) return;
    const { method, body } = this.generator.nextRequest();
    this.method = method;
    this.chunks = [];
    this.statusCode = 0;
    this.started = performance.now();
    this.pool.dispatch(this.generator.dispatchOptions(body), this);
  }

  onRequestStart(): void {}

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    this.statusCode = statusCode;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    const ms = performance.now() - this.started;
    const text =
      this.chunks.length === 1 ? this.chunks[0]!.toString() : Buffer.concat(this.chunks).toString();
    this.generator.replied(this.method, this.statusCode, text, ms);
    queueMicrotask(() => this.next());
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.generator.failed(error);
    setTimeout(() => this.next(), TRANSPORT_ERROR_BACKOFF_MS);
  }
}
