import { type KVRecord, type QuorumFailure, QuorumNotReachedError } from '@kvdb/core';
import { defined } from '@kvdb/core/testing';
import { expect } from 'chai';
import type { TestCluster } from './test-cluster.js';
import { eventually } from './timing.js';

/** The error a promise rejects with; fails if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    const value = await promise;
    expect.fail(`expected a rejection, got ${JSON.stringify(value)}`);
  } catch (error) {
    return error;
  }
}

/** The `data` of the QuorumNotReachedError a promise rejects with; fails on any other outcome. */
export async function quorumFailure(promise: Promise<unknown>): Promise<QuorumFailure> {
  const error = await rejection(promise);
  expect(error).to.be.instanceOf(QuorumNotReachedError);
  return (error as QuorumNotReachedError).data as QuorumFailure;
}

/** Waits until every store holds the key at the same version (the network has gone idle for it), and returns it. */
export async function replicated(cluster: TestCluster, key: string): Promise<KVRecord> {
  let agreed: KVRecord | undefined;
  await eventually(
    async () => {
      const records = await cluster.records(key);
      const first = records[0];
      agreed = first;
      return first !== undefined && records.every((r) => r !== undefined && sameVersion(r, first));
    },
    { what: `${key} on every store` },
  );
  return defined(agreed, `${key} on every store`);
}

function sameVersion(a: KVRecord, b: KVRecord): boolean {
  return JSON.stringify(a.version) === JSON.stringify(b.version);
}

export { defined };
