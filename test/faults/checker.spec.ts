import { type KVRecord, toJsonText } from '@kvdb/core';
import { defined } from '@kvdb/core/testing';
import { expect } from 'chai';
import { type CheckReport, check, type FinalKey } from './checker.js';
import type { FaultEvent, Operation, OpKind, Outcome } from './history.js';

const NODES = ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'] as const;

/** A hand-made history, one line per operation: `[client, op, key, value/result, invokeAt, completeAt, outcome]`. */
function history(
  lines: Array<[number, OpKind, string, string | null, number, number, Outcome?]>,
): Operation[] {
  return lines.map(([process, op, key, data, invokeAt, completeAt, outcome = 'ok'], id) => ({
    id,
    process,
    op,
    key,
    consistency: 'quorum',
    node: defined(NODES[id % NODES.length]),
    invokeAt,
    completeAt,
    outcome,
    ...(op === 'set' ? { value: data as string } : outcome === 'ok' ? { result: data } : {}),
  }));
}

/** Every replica holds `value` (null: a tombstone) and every read returns it. */
function settled(value: string | null, wall = 1_000): FinalKey {
  const version = { wall, counter: 0, node: NODES[0] };
  const record: KVRecord =
    value === null ? { deleted: true, version } : { value: toJsonText(value), version };
  return {
    replicas: NODES.map((address) => ({ address, record })),
    reads: NODES.flatMap((node) => [
      { node, consistency: 'one' as const, value },
      { node, consistency: 'quorum' as const, value },
    ]),
  };
}

function fault(kind: string, startAt: number, endAt: number, losesState = false): FaultEvent {
  return { id: 0, kind, detail: 'n1', losesState, startAt, endAt };
}

function anomalies(report: CheckReport): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const list of [
    report.lost,
    report.resurrected,
    report.divergent,
    report.staleReads,
    report.staleReadsAcrossFaults,
    report.phantomReads,
    report.finalReads,
  ]) {
    for (const anomaly of list) counts[anomaly.kind] = (counts[anomaly.kind] ?? 0) + 1;
  }
  return counts;
}

describe('fault-injection history checker', () => {
  it('accepts a history whose state and reads follow its acknowledged writes', () => {
    const operations = history([
      [0, 'set', 'k', 'a', 0, 10],
      [1, 'get', 'k', 'a', 20, 25],
      [0, 'set', 'k', 'b', 30, 40],
      [1, 'get', 'k', 'b', 50, 55],
      [0, 'set', 'u', 'c', 0, 10],
      [0, 'pop', 'u', 'c', 20, 30],
      [1, 'get', 'u', null, 40, 45],
      [1, 'pop', 'u', null, 50, 55],
    ]);
    const report = check({
      operations,
      faults: [],
      final: new Map([
        ['k', settled('b')],
        ['u', settled(null)],
      ]),
    });
    expect(anomalies(report)).to.deep.equal({});
    expect(report.acknowledgedWrites).to.equal(4);
    expect(report.readsChecked).to.equal(5);
    expect(report.byOp.pop.ok).to.equal(2);
  });

  it('flags a lost write: the state went back to a value an acknowledged later set replaced', () => {
    const operations = history([
      [0, 'set', 'k', 'a', 0, 10],
      [1, 'set', 'k', 'b', 20, 30],
    ]);
    const report = check({ operations, faults: [], final: new Map([['k', settled('a')]]) });
    expect(anomalies(report)).to.deep.equal({ lost: 1 });
    expect(defined(report.lost[0]).message).to.contain('"b"');
  });

  it('flags a lost write: an acknowledged set left no trace', () => {
    const operations = history([[0, 'set', 'k', 'a', 0, 10]]);
    const report = check({ operations, faults: [], final: new Map([['k', { replicas: [], reads: [] }]]) });
    expect(anomalies(report)).to.deep.equal({ lost: 1 });
  });

  it('lets concurrent writes end either way, and an unknown write win later, but not a failed one', () => {
    const concurrent = history([
      [0, 'set', 'k', 'a', 0, 20],
      [1, 'set', 'k', 'b', 10, 30],
    ]);
    for (const value of ['a', 'b']) {
      const report = check({ operations: concurrent, faults: [], final: new Map([['k', settled(value)]]) });
      expect(anomalies(report), value).to.deep.equal({});
    }
    const unknown = history([
      [0, 'set', 'k', 'a', 0, 5, 'unknown'],
      [1, 'set', 'k', 'b', 10, 20],
    ]);
    expect(
      anomalies(check({ operations: unknown, faults: [], final: new Map([['k', settled('a')]]) })),
    ).to.deep.equal({});
    const failed = history([
      [0, 'set', 'k', 'a', 0, 5, 'fail'],
      [1, 'set', 'k', 'b', 10, 20],
    ]);
    expect(
      anomalies(check({ operations: failed, faults: [], final: new Map([['k', settled('a')]]) })),
    ).to.deep.equal({
      lost: 1,
    });
  });

  it('flags a resurrection: a popped value came back', () => {
    const operations = history([
      [0, 'set', 'k', 'a', 0, 10],
      [1, 'pop', 'k', 'a', 20, 30],
    ]);
    const report = check({ operations, faults: [], final: new Map([['k', settled('a')]]) });
    expect(anomalies(report)).to.deep.equal({ resurrected: 1 });
    expect(defined(report.resurrected[0]).key).to.equal('k');
  });

  it('flags replicas that disagree, and final reads that disagree with them', () => {
    const operations = history([[0, 'set', 'k', 'a', 0, 10]]);
    const final = settled('a');
    const stale: KVRecord = { value: toJsonText('a'), version: { wall: 999, counter: 0, node: NODES[1] } };
    final.replicas[2] = { address: NODES[2], record: stale };
    final.reads[0] = { node: NODES[0], consistency: 'one', value: null };
    const report = check({ operations, faults: [], final: new Map([['k', final]]) });
    expect(anomalies(report)).to.deep.equal({ divergent: 1, 'final-read': 1 });
  });

  it('flags a stale quorum read with no fault in between, or only a pause; not across an in-memory restart', () => {
    const operations = history([
      [0, 'set', 'k', 'a', 0, 10],
      [1, 'set', 'k', 'b', 20, 30],
      [2, 'get', 'k', 'a', 40, 50],
    ]);
    const final = new Map([['k', settled('b')]]);
    expect(anomalies(check({ operations, faults: [], final }))).to.deep.equal({ 'stale-read': 1 });
    expect(anomalies(check({ operations, faults: [fault('pause', 32, 38)], final }))).to.deep.equal({
      'stale-read-across-faults': 1,
    });
    const restart = [fault('kill-memory', 32, 38, true)];
    expect(anomalies(check({ operations, faults: restart, final }))).to.deep.equal({});
  });

  it('flags a quorum read that misses an acknowledged pop, and accepts one that sees a concurrent write', () => {
    const missedPop = history([
      [0, 'set', 'k', 'a', 0, 10],
      [1, 'pop', 'k', 'a', 20, 30],
      [2, 'get', 'k', 'a', 40, 50],
    ]);
    expect(
      anomalies(check({ operations: missedPop, faults: [], final: new Map([['k', settled(null)]]) })),
    ).to.deep.equal({ 'stale-read': 1 });
    const concurrent = history([
      [0, 'set', 'k', 'a', 0, 10],
      [1, 'set', 'k', 'b', 20, 30],
      [2, 'set', 'k', 'c', 25, 26, 'unknown'],
      [3, 'get', 'k', 'c', 40, 50],
    ]);
    expect(
      anomalies(check({ operations: concurrent, faults: [], final: new Map([['k', settled('b')]]) })),
    ).to.deep.equal({});
  });

  it('flags a read of a value never written to that key', () => {
    const operations = history([
      [0, 'set', 'k', 'a', 0, 10],
      [1, 'get', 'k', 'z', 20, 30],
    ]);
    const report = check({ operations, faults: [], final: new Map([['k', settled('a')]]) });
    expect(anomalies(report)).to.deep.equal({ 'phantom-read': 1 });
  });
});
