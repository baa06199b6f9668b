import type { RequestCounts } from '@kvdb/core';
import type { JsonRpcReply } from './json-rpc.js';

/**
 * Counts the client requests a node answers and the time spent on them: two additions a request, so that the
 * cluster page can show rates and mean latencies (differences of two readings) at no cost to the hot path.
 */
export class RequestCounter {
  private total = 0;
  private errors = 0;
  private totalMs = 0;
  private readonly coordinated = { replica: 0, other: 0 };

  /** One request answered after `ms`; a reply with an error (any member of a batch) counts as an error too. */
  record(ms: number, reply: JsonRpcReply): void {
    this.total += 1;
    this.totalMs += ms;
    if (
      Array.isArray(reply) ? reply.some((member) => member.error !== undefined) : reply?.error !== undefined
    ) {
      this.errors += 1;
    }
  }

  /** One single-key request coordinated here, as one of the key's replicas or not. */
  recordCoordinated(asReplica: boolean): void {
    if (asReplica) this.coordinated.replica += 1;
    else this.coordinated.other += 1;
  }

  get counts(): RequestCounts {
    const totalMs = Math.round(this.totalMs * 1_000) / 1_000;
    return { total: this.total, errors: this.errors, totalMs, coordinated: { ...this.coordinated } };
  }
}
