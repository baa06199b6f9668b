import { UsageError } from '@kvdb/core';

/**
 * YCSB's core workloads (its `workloads/workloada` … `workloadf`), as kvdb runs them. A YCSB record is 10 fields of
 * 100 bytes; kvdb stores a record as one JSON value, `{"field0":"…",…,"field9":"…"}`, so a read gets every field
 * and an update or insert writes every field (YCSB's `readallfields` and `writeallfields`).
 *
 * A scan (workload E) reads `length` records from a start key, `length` uniform from 1 to 100. kvdb has no range
 * read: `list_keys` pages through keys (not values) in ring order, which on a cluster is the order of their hashes,
 * and its cursor is a ring position, not a key. The records a sorted store would scan are known here (`key:S`,
 * `key:S+1`, …), so a scan is one `mget` of those keys: one request, every record read at the run's consistency
 * level, as YCSB's scan reads whole records in key order.
 */

/** What one operation of a workload does. */
export const OPERATION_KINDS = ['read', 'update', 'insert', 'scan', 'rmw'] as const;
export type OperationKind = (typeof OPERATION_KINDS)[number];

/** The share of each kind of operation; the shares add up to 1. */
export type OperationMix = Readonly<Partial<Record<OperationKind, number>>>;

/**
 * How keys are chosen: `uniform` over the keyspace; `zipfian`, YCSB's scrambled zipfian (θ = 0.99) over the records
 * loaded before the run; `latest`, zipfian over recency, the newest record the most popular.
 */
export type RequestDistribution = 'uniform' | 'zipfian' | 'latest';

export const CORE_WORKLOAD_NAMES = ['a', 'b', 'c', 'd', 'e', 'f'] as const;
export type CoreWorkloadName = (typeof CORE_WORKLOAD_NAMES)[number];

export interface CoreWorkload {
  mix: OperationMix;
  distribution: RequestDistribution;
  /** What YCSB says the workload models. */
  summary: string;
}

export const CORE_WORKLOADS: Readonly<Record<CoreWorkloadName, CoreWorkload>> = {
  a: {
    mix: { read: 0.5, update: 0.5 },
    distribution: 'zipfian',
    summary: 'update heavy: 50% reads, 50% updates',
  },
  b: {
    mix: { read: 0.95, update: 0.05 },
    distribution: 'zipfian',
    summary: 'read mostly: 95% reads, 5% updates',
  },
  c: { mix: { read: 1 }, distribution: 'zipfian', summary: 'read only' },
  d: {
    mix: { read: 0.95, insert: 0.05 },
    distribution: 'latest',
    summary: 'read latest: 95% reads, favouring new records, 5% inserts',
  },
  e: {
    mix: { scan: 0.95, insert: 0.05 },
    distribution: 'zipfian',
    summary: 'short ranges: 95% scans, 5% inserts',
  },
  f: {
    mix: { read: 0.5, rmw: 0.5 },
    distribution: 'zipfian',
    summary: 'read-modify-write: 50% reads, 50% a read then a write of the same record',
  },
};

/** Fields of a record, and the characters of a record's fields together by default (YCSB: 10 × 100 bytes). */
export const RECORD_FIELDS = 10;
export const DEFAULT_RECORD_SIZE = 1_000;

/** The longest scan, in records; each scan's length is uniform from 1 to this (YCSB's `maxscanlength`). */
export const MAX_SCAN_LENGTH = 100;

export function parseWorkload(text: string): CoreWorkloadName {
  const name = text.trim().toLowerCase();
  if (!(CORE_WORKLOAD_NAMES as readonly string[]).includes(name)) {
    throw new UsageError(
      `Expected \`--workload\` to be one of YCSB's core workloads ${CORE_WORKLOAD_NAMES.join(', ')}, got ${JSON.stringify(text)}`,
    );
  }
  return name as CoreWorkloadName;
}

/**
 * A record of RECORD_FIELDS fields whose contents take `size` characters together (shares differing by at most
 * one), as its JSON text: `{"field0":"xxx…",…}`.
 */
export function recordJson(size: number): string {
  const fields: string[] = [];
  for (let field = 0; field < RECORD_FIELDS; field++) {
    const length = Math.floor(size / RECORD_FIELDS) + (field < size % RECORD_FIELDS ? 1 : 0);
    fields.push(`"field${field}":"${'x'.repeat(length)}"`);
  }
  return `{${fields.join(',')}}`;
}
