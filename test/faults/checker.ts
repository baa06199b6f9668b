import { type Consistency, compareVersions, type JsonValue, type KVRecord, parseJsonText } from '@kvdb/core';
import type { FaultEvent, Operation, OpKind, Outcome } from './history.js';

/** One replica's record of a key after healing (`null`: it holds nothing), read over a peer stream (`peer.get_many`). */
export interface ReplicaRecord {
  address: string;
  record: KVRecord | null;
  error?: string;
}

/** A client read of a key after healing, through one node at one consistency level. */
export interface FinalRead {
  node: string;
  consistency: Consistency;
  value?: JsonValue;
  error?: string;
}

export interface FinalKey {
  replicas: ReplicaRecord[];
  reads: FinalRead[];
}

export interface CheckInput {
  operations: readonly Operation[];
  faults: readonly FaultEvent[];
  /** Every key of the history, read from each of its replicas and through every node. */
  final: ReadonlyMap<string, FinalKey>;
}

export type AnomalyKind =
  | 'lost'
  | 'resurrected'
  | 'divergent'
  | 'stale-read'
  | 'stale-read-across-faults'
  | 'phantom-read'
  | 'final-read';

export interface Anomaly {
  kind: AnomalyKind;
  key: string;
  message: string;
  /** The operations that show it, oldest first. */
  operations: Operation[];
}

export interface CheckReport {
  operations: number;
  byOutcome: Record<Outcome, number>;
  byOp: Record<OpKind, Record<Outcome, number>>;
  /** Sets and pops that were acknowledged and wrote (a pop that found nothing writes nothing). */
  acknowledgedWrites: number;
  keys: number;
  /** Quorum reads that followed an acknowledged quorum write with no fault in between. */
  readsChecked: number;
  /** Quorum reads that followed one with no state-losing fault (kill -9 of an in-memory node) in between. */
  readsCheckedAcrossFaults: number;
  lost: Anomaly[];
  resurrected: Anomaly[];
  divergent: Anomaly[];
  /** A quorum read older than a quorum write acknowledged before it, with no fault in between. */
  staleReads: Anomaly[];
  /**
   * The same across pauses, partitions and kills of durable nodes: strict quorums promise it there too
   * (only an in-memory node restarted empty takes acknowledged data away from a quorum).
   */
  staleReadsAcrossFaults: Anomaly[];
  /** A read of a value that no set of that key had written by then. */
  phantomReads: Anomaly[];
  /** A read after healing that disagrees with the replicas. */
  finalReads: Anomaly[];
}

/** How long after its invocation a write may still take effect: forever when its outcome is unknown. */
function effectiveEnd(op: Operation): number {
  return op.outcome === 'unknown' ? Number.POSITIVE_INFINITY : op.completeAt;
}

/** A set (any outcome) or a pop that wrote or may have written a tombstone: a pop that found nothing did not. */
function mayHaveWritten(op: Operation): boolean {
  if (op.op === 'set') return true;
  if (op.op === 'pop') return op.outcome !== 'ok' || op.result !== null;
  return false;
}

function isAckedWrite(op: Operation): boolean {
  return op.outcome === 'ok' && mayHaveWritten(op);
}

function isQuorum(op: Operation): boolean {
  return op.consistency === 'quorum' || op.consistency === 'all';
}

/**
 * Checks a history against the state it left, without needing a total order of the writes:
 *
 * - **lost / resurrected**: the final state of a key must be the effect of some write W (a set's value, or a pop's
 *   absence; or nothing, if no write was acknowledged) that no acknowledged write invoked after W's completion
 *   replaced. An unknown-outcome write never completes, so it always may explain the state.
 * - **stale reads**: a quorum read invoked after an acknowledged quorum write A completed (the latest-invoked such
 *   A) must return A's effect, or that of a write not over before A was invoked.
 * - **divergent**: every replica of a key must hold the same record (value or tombstone, and version).
 */
export function check(input: CheckInput): CheckReport {
  const report = emptyReport(input.operations.length);
  const byKey = new Map<string, Operation[]>();
  for (const op of input.operations) {
    report.byOutcome[op.outcome] += 1;
    report.byOp[op.op][op.outcome] += 1;
    if (isAckedWrite(op)) report.acknowledgedWrites += 1;
    let ops = byKey.get(op.key);
    if (ops === undefined) {
      ops = [];
      byKey.set(op.key, ops);
    }
    ops.push(op);
  }
  report.keys = byKey.size;
  for (const [key, ops] of byKey) {
    const final = input.final.get(key);
    if (final === undefined) {
      report.finalReads.push({ kind: 'final-read', key, message: 'no final state was read', operations: [] });
      continue;
    }
    checkKey(key, ops, final, input.faults, report);
  }
  return report;
}

function checkKey(
  key: string,
  ops: readonly Operation[],
  final: FinalKey,
  faults: readonly FaultEvent[],
  report: CheckReport,
): void {
  const sets = new Map<string, Operation>();
  for (const op of ops) if (op.op === 'set' && op.value !== undefined) sets.set(op.value, op);
  const finalValue = checkReplicas(key, final, report);
  checkFinalState(key, ops, sets, finalValue, report);
  checkReads(key, ops, sets, faults, report);
}

/** Compares the replicas' records; resolves with the newest one's value (null for none or a tombstone). */
function checkReplicas(key: string, final: FinalKey, report: CheckReport): string | null {
  let newest: KVRecord | undefined;
  const shapes = new Set<string>();
  for (const replica of final.replicas) {
    if (replica.error !== undefined) {
      shapes.add(`error ${replica.error}`);
      continue;
    }
    shapes.add(describeRecord(replica.record));
    const record = replica.record ?? undefined;
    if (
      record !== undefined &&
      (newest === undefined || compareVersions(record.version, newest.version) > 0)
    ) {
      newest = record;
    }
  }
  if (shapes.size > 1) {
    const held = final.replicas.map((r) => `${r.address}: ${r.error ?? describeRecord(r.record)}`).join(', ');
    report.divergent.push({ kind: 'divergent', key, message: `replicas disagree: ${held}`, operations: [] });
  }
  const value = newest === undefined || newest.deleted === true ? null : parseJsonText(newest.value);
  for (const read of final.reads) {
    const got = read.error ?? JSON.stringify(read.value ?? null);
    if (got !== JSON.stringify(value)) {
      report.finalReads.push({
        kind: 'final-read',
        key,
        message: `${read.consistency} read through ${read.node} returned ${got}; the replicas hold ${JSON.stringify(value)}`,
        operations: [],
      });
    }
  }
  if (value !== null && typeof value !== 'string') return JSON.stringify(value);
  return value;
}

function checkFinalState(
  key: string,
  ops: readonly Operation[],
  sets: ReadonlyMap<string, Operation>,
  finalValue: string | null,
  report: CheckReport,
): void {
  const acked = ops.filter(isAckedWrite);
  let lastAckedInvoke = Number.NEGATIVE_INFINITY;
  for (const op of acked) lastAckedInvoke = Math.max(lastAckedInvoke, op.invokeAt);
  const explains = (write: Operation) => lastAckedInvoke <= effectiveEnd(write);
  let writer: Operation | undefined;
  let explained: boolean;
  if (finalValue === null) {
    explained = acked.length === 0 || ops.some((op) => op.op === 'pop' && mayHaveWritten(op) && explains(op));
  } else {
    writer = sets.get(finalValue);
    explained = writer !== undefined && explains(writer);
  }
  if (explained) return;

  // The acknowledged writes that nothing acknowledged came after: the state must be one of them, or newer.
  const latest = acked.filter((op) => !acked.some((later) => later.invokeAt > op.completeAt));
  const resurrected = finalValue !== null && latest.length > 0 && latest.every((op) => op.op === 'pop');
  const shown =
    finalValue === null
      ? 'nothing (absent or popped)'
      : writer === undefined
        ? `${JSON.stringify(finalValue)}, which no set of this key wrote`
        : `${JSON.stringify(finalValue)}, written by ${describeOp(writer)}`;
  const message = `final state is ${shown}; it should reflect one of: ${latest.map(describeOp).join('; ')}`;
  const anomaly: Anomaly = {
    kind: resurrected ? 'resurrected' : 'lost',
    key,
    message,
    operations: sortOps([...(writer === undefined ? [] : [writer]), ...latest]),
  };
  (resurrected ? report.resurrected : report.lost).push(anomaly);
}

function checkReads(
  key: string,
  ops: readonly Operation[],
  sets: ReadonlyMap<string, Operation>,
  faults: readonly FaultEvent[],
  report: CheckReport,
): void {
  const anchors = ops
    .filter((op) => isAckedWrite(op) && isQuorum(op))
    .sort((a, b) => a.completeAt - b.completeAt);
  // latest[i]: of anchors[0..i], the one invoked last: any read after anchors[i] completed must see it or newer.
  const latest: Operation[] = [];
  for (const anchor of anchors) {
    const previous = latest[latest.length - 1];
    latest.push(previous === undefined || anchor.invokeAt > previous.invokeAt ? anchor : previous);
  }
  const pops = ops.filter((op) => op.op === 'pop' && mayHaveWritten(op));

  for (const read of ops) {
    if (read.outcome !== 'ok' || (read.op !== 'get' && read.op !== 'pop')) continue;
    const result = read.result ?? null;
    const writer = result === null ? undefined : sets.get(result);
    if (result !== null && (writer === undefined || writer.invokeAt >= read.completeAt)) {
      report.phantomReads.push({
        kind: 'phantom-read',
        key,
        message: `${describeOp(read)} read ${JSON.stringify(result)}, which no set of this key had been invoked with`,
        operations: writer === undefined ? [read] : [writer, read],
      });
      continue;
    }
    if (!isQuorum(read)) continue;
    const anchor = latest[lastBefore(anchors, read.invokeAt)];
    if (anchor === undefined) continue;
    const overlapping = faults.filter((fault) => overlaps(fault, anchor.invokeAt, read.completeAt));
    const losesState = overlapping.some((fault) => fault.losesState);
    if (losesState) continue;
    if (overlapping.length === 0) report.readsChecked += 1;
    report.readsCheckedAcrossFaults += 1;

    const notOverBefore = (op: Operation) => op === anchor || effectiveEnd(op) > anchor.invokeAt;
    const fresh =
      result === null
        ? anchor.op === 'pop' || pops.some(notOverBefore)
        : writer !== undefined && notOverBefore(writer);
    if (fresh) continue;
    const saw = writer === undefined ? 'nothing' : `${JSON.stringify(result)} of ${describeOp(writer)}`;
    const faultNote =
      overlapping.length === 0
        ? 'no fault in between'
        : `across ${overlapping.map(describeFault).join(', ')}`;
    const anomaly: Anomaly = {
      kind: overlapping.length === 0 ? 'stale-read' : 'stale-read-across-faults',
      key,
      message: `${describeOp(read)} saw ${saw}, older than ${describeOp(anchor)} (${faultNote})`,
      operations: sortOps([anchor, read, ...(writer === undefined ? [] : [writer])]),
    };
    (overlapping.length === 0 ? report.staleReads : report.staleReadsAcrossFaults).push(anomaly);
  }
}

/** Index of the last anchor that completed strictly before `at` (anchors sorted by completion), or -1. */
function lastBefore(anchors: readonly Operation[], at: number): number {
  let low = 0;
  let high = anchors.length - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if ((anchors[middle]?.completeAt ?? at) < at) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}

function overlaps(fault: FaultEvent, from: number, to: number): boolean {
  return fault.startAt <= to && (fault.endAt ?? Number.POSITIVE_INFINITY) >= from;
}

function sortOps(ops: Operation[]): Operation[] {
  return [...new Set(ops)].sort((a, b) => a.invokeAt - b.invokeAt);
}

/** A record as text that does not depend on the order of its fields (stores may hand them back in any order). */
export function describeRecord(record: KVRecord | null): string {
  if (record === null) return 'nothing';
  const { wall, counter, node } = record.version;
  const what = record.deleted === true ? 'tombstone' : record.value;
  return `${what}@${wall}.${counter}.${node}`;
}

/** `set "3.17" by client 3 via 127.0.0.1:4000 [120.5-130.2 ms] ok` */
export function describeOp(op: Operation): string {
  const what = op.op === 'set' ? `set ${JSON.stringify(op.value)}` : op.op;
  const result = op.result === undefined ? '' : ` -> ${JSON.stringify(op.result)}`;
  const end = Number.isNaN(op.completeAt) ? '…' : op.completeAt.toFixed(1);
  return `#${op.id} ${what} by client ${op.process} via ${op.node} [${op.invokeAt.toFixed(1)}-${end} ms] ${op.outcome}${result}`;
}

export function describeFault(fault: FaultEvent): string {
  const end = fault.endAt === undefined ? '…' : fault.endAt.toFixed(1);
  return `${fault.kind} ${fault.detail} [${fault.startAt.toFixed(1)}-${end} ms]`;
}

function emptyReport(operations: number): CheckReport {
  const outcomes = (): Record<Outcome, number> => ({ ok: 0, fail: 0, unknown: 0 });
  return {
    operations,
    byOutcome: outcomes(),
    byOp: { set: outcomes(), pop: outcomes(), get: outcomes() },
    acknowledgedWrites: 0,
    keys: 0,
    readsChecked: 0,
    readsCheckedAcrossFaults: 0,
    lost: [],
    resurrected: [],
    divergent: [],
    staleReads: [],
    staleReadsAcrossFaults: [],
    phantomReads: [],
    finalReads: [],
  };
}
