import { readFile, writeFile } from 'node:fs/promises';
import type { JsonValue } from '@kvdb/core';

/** The operations of one key's register, as the serial API offers them. */
export type OpName = 'get' | 'has' | 'set' | 'pop' | 'cas';

export interface SetInput {
  value: JsonValue;
  /** Store only if the key is absent; the reply says whether it stored. */
  ifAbsent?: boolean;
  /** Store only if the key exists; the reply says whether it stored. */
  ifPresent?: boolean;
}

export interface CasInput {
  value: JsonValue;
  /** Store if the current value deep-equals this; left out: store only if the key is absent. */
  expected?: JsonValue;
}

export interface CasOutput {
  swapped: boolean;
  /** Whether the key existed before the operation. */
  exists: boolean;
  /** The value after the operation (null: absent). */
  current: JsonValue;
}

/** What an invoke event carries in `value`, per operation. */
export interface OpInputs {
  get: null;
  has: null;
  pop: null;
  set: SetInput;
  cas: CasInput;
}

/** What an ok event carries in `value`, per operation: a plain `set` answers `true`, a conditional one whether it stored. */
export interface OpOutputs {
  get: JsonValue;
  has: boolean;
  pop: JsonValue;
  set: boolean;
  cas: CasOutput;
}

/**
 * `fail`: the operation definitely did not take effect. `info`: its outcome is unknown; it may take effect at any
 * point after its invoke, or never.
 */
export type EventType = 'invoke' | 'ok' | 'fail' | 'info';

/**
 * One event of a history in Jepsen's shape. The order of the events is what the checker reads (an operation
 * precedes another when its completion comes before the other's invoke in the list); `time` is for people.
 */
export interface JepsenEvent {
  /** Position in the history. */
  index: number;
  type: EventType;
  f: OpName;
  key: string;
  /** The input on an invoke, the output on an ok; on fail and info, null. */
  value: unknown;
  /** Runs one operation at a time; a process whose operation ended `info` never invokes again. */
  process: number;
  /** Nanoseconds since the recording started, on a monotonic clock. */
  time: number;
  /** Why it failed or why its outcome is unknown. */
  error?: string;
}

const OP_NAMES: readonly OpName[] = ['get', 'has', 'set', 'pop', 'cas'];
const EVENT_TYPES: readonly EventType[] = ['invoke', 'ok', 'fail', 'info'];

export interface HistoryRecorderInit {
  /**
   * The client loops, numbered 0 to `threads - 1`; each runs one operation at a time. After an `info` a thread
   * carries on as a new process (its number plus `threads`, as Jepsen does), since the old one may still act.
   */
  threads: number;
}

/** A history being recorded: clients call `invoke`, then `ok`, `fail` or `info` on the handle it returns. */
export class HistoryRecorder {
  private readonly log: JepsenEvent[] = [];
  private readonly origin = process.hrtime.bigint();
  private readonly processes: number[];
  private readonly busy: boolean[];

  constructor(private readonly init: HistoryRecorderInit) {
    if (!Number.isSafeInteger(init.threads) || init.threads < 1)
      throw new RangeError('Expected `threads` to be an integer from 1 and up');
    this.processes = Array.from({ length: init.threads }, (_, thread) => thread);
    this.busy = this.processes.map(() => false);
  }

  get events(): readonly JepsenEvent[] {
    return this.log;
  }

  invoke<F extends OpName>(thread: number, f: F, key: string, input: OpInputs[F]): PendingOperation<F> {
    const process = this.processes[thread];
    if (!Number.isSafeInteger(thread) || process === undefined)
      throw new RangeError(`Expected a thread from 0 to ${this.init.threads - 1}, got ${thread}`);
    if (this.busy[thread])
      throw new Error(`Thread ${thread} invoked ${f} while its last operation was pending`);
    this.busy[thread] = true;
    this.append({ type: 'invoke', f, key, value: input, process });
    return new PendingOperation(f, key, process, (type, value, error) => {
      this.append({
        type,
        f,
        key,
        value,
        process,
        ...(error === undefined ? {} : { error: describe(error) }),
      });
      this.busy[thread] = false;
      if (type === 'info') this.processes[thread] = process + this.init.threads;
    });
  }

  /**
   * Invokes an operation, awaits `call` and completes the operation: ok with what `call` resolves to, else fail
   * or info as `outcome` classifies the error (info whenever the operation may still take effect). Never rejects.
   */
  async run<F extends OpName>(
    thread: number,
    f: F,
    key: string,
    input: OpInputs[F],
    call: () => Promise<OpOutputs[F]>,
    outcome: (error: unknown) => 'fail' | 'info',
  ): Promise<void> {
    const operation = this.invoke(thread, f, key, input);
    try {
      operation.ok(await call());
    } catch (error) {
      if (outcome(error) === 'fail') operation.fail(error);
      else operation.info(error);
    }
  }

  toJSON(): JepsenEvent[] {
    return this.log;
  }

  /** Writes the history as a JSON array, one event a line. */
  async save(path: string): Promise<void> {
    await writeFile(path, formatHistory(this.log));
  }

  /** Copies the value: a caller that changes its object later does not rewrite the history. */
  private append(event: Omit<JepsenEvent, 'index' | 'time'>): void {
    const time = Number(process.hrtime.bigint() - this.origin);
    this.log.push({ index: this.log.length, ...event, value: structuredClone(event.value ?? null), time });
  }
}

/** The handle of an invoked operation: complete it exactly once. */
export class PendingOperation<F extends OpName> {
  private done = false;

  constructor(
    readonly f: F,
    readonly key: string,
    readonly process: number,
    private readonly complete: (type: Exclude<EventType, 'invoke'>, value: unknown, error?: unknown) => void,
  ) {}

  ok(output: OpOutputs[F]): void {
    this.finish('ok', output);
  }

  /** It definitely did not take effect. */
  fail(error?: unknown): void {
    this.finish('fail', null, error);
  }

  /** Its outcome is unknown: it may take effect later, or never. */
  info(error?: unknown): void {
    this.finish('info', null, error);
  }

  private finish(type: Exclude<EventType, 'invoke'>, value: unknown, error?: unknown): void {
    if (this.done) throw new Error(`Expected ${this.f} of process ${this.process} to complete once`);
    this.done = true;
    this.complete(type, value, error);
  }
}

/** A history as a JSON array, one event a line. */
export function formatHistory(events: readonly JepsenEvent[]): string {
  return `[\n${events.map((event) => JSON.stringify(event)).join(',\n')}\n]\n`;
}

export async function loadHistory(path: string): Promise<JepsenEvent[]> {
  return parseHistory(JSON.parse(await readFile(path, 'utf8')));
}

/** Validates a parsed JSON history; `index` is renumbered from the position, `time` defaults to it. */
export function parseHistory(json: unknown): JepsenEvent[] {
  if (!Array.isArray(json)) throw new TypeError('Expected a history to be a JSON array of events');
  return json.map((raw: unknown, index) => {
    const check = (ok: boolean, what: string) => {
      if (!ok) throw new TypeError(`Expected event ${index} to ${what}`);
    };
    check(typeof raw === 'object' && raw !== null && !Array.isArray(raw), 'be an object');
    const event = raw as Partial<Record<keyof JepsenEvent, unknown>>;
    check(EVENT_TYPES.includes(event.type as EventType), `have \`type\` one of ${EVENT_TYPES.join(', ')}`);
    check(OP_NAMES.includes(event.f as OpName), `have \`f\` one of ${OP_NAMES.join(', ')}`);
    check(typeof event.key === 'string', 'have a string `key`');
    check(Number.isSafeInteger(event.process), 'have an integer `process`');
    check(event.time === undefined || typeof event.time === 'number', 'have a number `time`, if any');
    check(event.error === undefined || typeof event.error === 'string', 'have a string `error`, if any');
    return {
      ...(event as JepsenEvent),
      index,
      value: event.value ?? null,
      time: (event.time as number) ?? index,
    };
  });
}

/** An invoke and its completion. */
export interface HistoryOperation {
  f: OpName;
  key: string;
  process: number;
  input: unknown;
  /** `info` also for an invoke that has no completion in the history. */
  outcome: Exclude<EventType, 'invoke'>;
  /** The ok event's value. */
  output?: unknown;
  /** Positions of the invoke and of the completion (Infinity when it has none). */
  invokeIndex: number;
  completeIndex: number;
  invokeTime: number;
  completeTime?: number;
}

/** Pairs each invoke with the next completion of its process, in history order. */
export function pairOperations(events: readonly JepsenEvent[]): HistoryOperation[] {
  const pending = new Map<number, HistoryOperation>();
  const operations: HistoryOperation[] = [];
  events.forEach((event, index) => {
    const open = pending.get(event.process);
    if (event.type === 'invoke') {
      if (open !== undefined)
        throw new Error(
          `Event ${index}: process ${event.process} invoked ${event.f} while its ${open.f} (event ${open.invokeIndex}) was pending`,
        );
      const operation: HistoryOperation = {
        f: event.f,
        key: event.key,
        process: event.process,
        input: event.value,
        outcome: 'info',
        invokeIndex: index,
        completeIndex: Number.POSITIVE_INFINITY,
        invokeTime: event.time,
      };
      pending.set(event.process, operation);
      operations.push(operation);
      return;
    }
    if (open === undefined || open.f !== event.f || open.key !== event.key)
      throw new Error(
        `Event ${index}: ${event.type} ${event.f} of process ${event.process} has no matching invoke`,
      );
    pending.delete(event.process);
    open.outcome = event.type;
    if (event.type === 'ok') open.output = event.value;
    if (event.type !== 'info') open.completeIndex = index;
    open.completeTime = event.time;
  });
  return operations;
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
