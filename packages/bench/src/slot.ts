import { performance } from 'node:perf_hooks';
import type { OperationKind } from './core-workloads.js';
import type { HttpConnection, ReplyHandler } from './http-connection.js';
import type { WireMethod, Workload } from './workload.js';

/** How a reply went: a result (`miss` for a get that found no value), or an error, already tallied. */
export type ReplyOutcome = 'ok' | 'miss' | 'error';

/** What a slot reports to its generator. */
export interface SlotOwner {
  readonly workload: Workload;
  /** Reads a reply, tallying it if it is an error. */
  outcome(method: WireMethod, status: number, text: string): ReplyOutcome;
  /** An operation ended: `ok` (a result) or not, `missed` if it read a key that held no value. */
  finished(slot: Slot, kind: OperationKind, key: number, ok: boolean, missed: boolean, ms: number): void;
  /** A request got no usable reply; tallied, and the slot is offered again after a pause. */
  failed(slot: Slot, kind: OperationKind, key: number, error: Error): void;
}

/**
 * One request slot with its own connection: runs one operation at a time, pipelining 1, and is reused for every
 * operation it runs. An operation is one request, except a read-modify-write: a get, then a set of the same key,
 * timed together from the operation's start (YCSB's READ-MODIFY-WRITE).
 */
export class Slot implements ReplyHandler {
  private readonly owner: SlotOwner;
  private readonly connection: HttpConnection;
  private kind: OperationKind = 'read';
  private key = 0;
  private method: WireMethod = 'get';
  private missed = false;
  private startedAt = 0;
  private closed = false;

  constructor(owner: SlotOwner, connection: HttpConnection) {
    this.owner = owner;
    this.connection = connection;
  }

  /** Runs the next operation of the workload, timed from `startedAt` (`performance.now()`'s clock). */
  start(startedAt: number): void {
    if (this.closed) return;
    const { workload } = this.owner;
    this.kind = workload.nextOperation();
    this.key = workload.nextKey(this.kind);
    this.startedAt = startedAt;
    this.missed = false;
    if (this.kind === 'read' || this.kind === 'rmw') this.send('get', workload.body('get', this.key));
    else if (this.kind === 'scan')
      this.send('mget', workload.body('mget', this.key, workload.scanLength(this.key)));
    else this.send('set', workload.body('set', this.key));
  }

  close(): void {
    this.closed = true;
    this.connection.close();
  }

  onReply(status: number, body: Buffer): void {
    const outcome = this.owner.outcome(this.method, status, body.toString());
    if (outcome === 'miss') this.missed = true;
    if (this.kind === 'rmw' && this.method === 'get' && outcome !== 'error') {
      this.send('set', this.owner.workload.body('set', this.key));
      return;
    }
    const ms = performance.now() - this.startedAt;
    this.owner.finished(this, this.kind, this.key, outcome !== 'error', this.missed, ms);
  }

  onFailure(error: Error): void {
    if (this.closed) return;
    this.owner.failed(this, this.kind, this.key, error);
  }

  private send(method: WireMethod, body: string): void {
    this.method = method;
    this.connection.post(body, this);
  }
}
