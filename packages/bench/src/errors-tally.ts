import { KVError } from '@kvdb/core';

/**
 * Failed requests of a run, in two kinds: JSON-RPC error replies (the node answered, with an error), by code; and
 * transport errors (no usable reply: refused or reset connections, timeouts, non-JSON-RPC HTTP answers), by kind.
 * Plain objects, so a worker can post them to the main thread as they are.
 */
export interface ErrorTally {
  /** JSON-RPC error code → count. */
  rpc: Record<string, number>;
  /** Transport error kind (`ECONNREFUSED`, `HTTP_TIMEOUT`, `HTTP 503`, …) → count. */
  transport: Record<string, number>;
  /** The first message seen for each code or kind, to show what went wrong. */
  samples: Record<string, string>;
}

export function emptyTally(): ErrorTally {
  return { rpc: {}, transport: {}, samples: {} };
}

export function noteRpcError(tally: ErrorTally, error: { code?: unknown; message?: unknown }): void {
  const code = String(typeof error.code === 'number' ? error.code : 'no code');
  tally.rpc[code] = (tally.rpc[code] ?? 0) + 1;
  tally.samples[code] ??= String(error.message ?? '');
}

export function noteTransportError(tally: ErrorTally, kind: string, message: string): void {
  tally.transport[kind] = (tally.transport[kind] ?? 0) + 1;
  tally.samples[kind] ??= message;
}

/** The kind of the bench HTTP client's own errors (`HTTP_CLOSED`), a system error's code (`ECONNRESET`), else the name. */
export function transportErrorKind(error: Error): string {
  const kind =
    error instanceof KVError
      ? (error.data as { kind?: unknown } | undefined)?.kind
      : (error as { code?: unknown }).code;
  return typeof kind === 'string' && kind !== '' ? kind : error.name;
}

export function mergeTallies(tallies: readonly ErrorTally[]): ErrorTally {
  const merged = emptyTally();
  for (const tally of tallies) {
    for (const [code, count] of Object.entries(tally.rpc)) merged.rpc[code] = (merged.rpc[code] ?? 0) + count;
    for (const [kind, count] of Object.entries(tally.transport)) {
      merged.transport[kind] = (merged.transport[kind] ?? 0) + count;
    }
    for (const [key, message] of Object.entries(tally.samples)) merged.samples[key] ??= message;
  }
  return merged;
}

export function countErrors(tally: ErrorTally): { rpc: number; transport: number; total: number } {
  const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
  const rpc = sum(tally.rpc);
  const transport = sum(tally.transport);
  return { rpc, transport, total: rpc + transport };
}

/** The codes and kinds seen, JSON-RPC codes first: `-32003, ECONNREFUSED`. */
export function errorKinds(tally: ErrorTally): string {
  return [...Object.keys(tally.rpc), ...Object.keys(tally.transport)].join(', ');
}
