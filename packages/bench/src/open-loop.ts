/**
 * Open-loop pacing, as wrk2 does it. A closed loop sends a request when a connection is free, so a server that
 * stalls also stalls the load: the requests a real client would have sent meanwhile are never sent, and the
 * stall shows as one slow request (coordinated omission). An open loop keeps a timetable: request `n` is meant to
 * start at `start + n / rate`, whether or not a connection is free then, and its latency runs from that intended
 * start. A request that waits for a connection waits on the clock, so a stall shows in every request scheduled
 * during it, and a server slower than the rate shows latencies that grow for as long as the run lasts.
 */

/** A timer fires at a whole millisecond at best; a request due within this much is sent at once, a little early. */
export const EARLY_MS = 1;

/** The fixed timetable of one generator. */
export class OpenLoopSchedule {
  readonly intervalMs: number;
  private readonly startMs: number;

  /** `rate` requests per second from `startMs` on (`performance.now()`'s clock). */
  constructor(rate: number, startMs: number) {
    if (!(rate > 0 && Number.isFinite(rate)))
      throw new RangeError(`OpenLoopSchedule: a rate above 0, got ${rate}`);
    this.intervalMs = 1_000 / rate;
    this.startMs = startMs;
  }

  /** When request `index` (from 0) is meant to start. */
  at(index: number): number {
    return this.startMs + index * this.intervalMs;
  }

  /** How many requests are meant to start before `endMs`. */
  countBefore(endMs: number): number {
    return Math.max(0, Math.ceil((endMs - this.startMs) / this.intervalMs));
  }
}

/** What the pacer hands its slots to. */
export interface PacedSlots<S> {
  /** Whether request `index` (from 0) may still start, at `now`: false once the run is over. */
  allows(index: number, now: number): boolean;
  /** Sends the slot's next request, timed from `startedAt`. */
  start(slot: S, startedAt: number): void;
  /** The run is over for this slot. */
  retire(slot: S): void;
}

/**
 * Hands requests to free slots on the timetable. A slot that asks while a request is due, or overdue, gets it at
 * once; one that asks early waits, with the other early ones, for a single timer. A request sent early is timed
 * from when it was sent, a late one from when it was meant to start: `min(intended, sent)`, so neither an early
 * send nor a late one hides time.
 */
export class Pacer<S> {
  private readonly schedule: OpenLoopSchedule;
  private readonly slots: PacedSlots<S>;
  private readonly now: () => number;
  private readonly waiting: S[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Requests handed out so far. */
  issued = 0;

  constructor(schedule: OpenLoopSchedule, slots: PacedSlots<S>, now: () => number) {
    this.schedule = schedule;
    this.slots = slots;
    this.now = now;
  }

  /** A free slot asks for its next request. */
  offer(slot: S): void {
    this.waiting.push(slot);
    this.dispatch();
  }

  /** Stops the timer and retires the waiting slots. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const slot of this.waiting.splice(0)) this.slots.retire(slot);
  }

  private readonly wake = () => {
    this.timer = undefined;
    this.dispatch();
  };

  private dispatch(): void {
    while (this.waiting.length > 0) {
      const now = this.now();
      if (!this.slots.allows(this.issued, now)) {
        this.close();
        return;
      }
      const due = this.schedule.at(this.issued);
      if (due > now + EARLY_MS) {
        this.timer ??= setTimeout(this.wake, Math.max(1, Math.floor(due - now)));
        return;
      }
      const slot = this.waiting.shift() as S;
      this.issued++;
      this.slots.start(slot, Math.min(due, now));
    }
  }
}
