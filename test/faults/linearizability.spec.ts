import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defined } from '@kvdb/core/testing';
import { expect } from 'chai';
import {
  HistoryRecorder,
  type JepsenEvent,
  loadHistory,
  pairOperations,
  parseHistory,
} from './jepsen-history.js';
import { checkLinearizable, formatLinearizability, type KeyResult } from './linearizability.js';
import { Random } from './random.js';
import { randomRegisterHistory } from './random-register-history.js';

/** The verdict of the only key of a history. */
function verdictOf(events: readonly JepsenEvent[]): KeyResult {
  const report = checkLinearizable(events, { timeoutMs: 10_000 });
  expect(report.keys).to.have.length(1);
  return defined(report.keys[0]);
}

/** A recorder with 5 threads, and shorthands for one key `k`, in the order the test calls them. */
function recorder() {
  const history = new HistoryRecorder({ threads: 5 });
  return {
    history,
    set: (thread: number, value: unknown) => history.invoke(thread, 'set', 'k', { value: value as never }),
    get: (thread: number) => history.invoke(thread, 'get', 'k', null),
    pop: (thread: number) => history.invoke(thread, 'pop', 'k', null),
    cas: (thread: number, value: number, expected?: number) =>
      history.invoke(thread, 'cas', 'k', expected === undefined ? { value } : { value, expected }),
  };
}

describe('linearizability checker', () => {
  describe('accepts linearizable histories', () => {
    it('sequential operations of every kind', () => {
      const { history, set, get, pop, cas } = recorder();
      set(0, 'a').ok(true);
      get(1).ok('a');
      history.invoke(1, 'has', 'k', null).ok(true);
      history.invoke(2, 'set', 'k', { value: 'b', ifAbsent: true }).ok(false);
      history.invoke(2, 'set', 'k', { value: { x: [1, 2], y: 'b' }, ifPresent: true }).ok(true);
      history.invoke(0, 'get', 'k', null).ok({ y: 'b', x: [1, 2] });
      history
        .invoke(3, 'cas', 'k', { value: 3, expected: { y: 'b', x: [1, 2] } })
        .ok({ swapped: true, exists: true, current: 3 });
      cas(3, 4, 2).ok({ swapped: false, exists: true, current: 3 });
      pop(4).ok(3);
      pop(4).ok(null);
      history.invoke(1, 'has', 'k', null).ok(false);
      cas(0, 5).ok({ swapped: true, exists: false, current: 5 });
      history.invoke(2, 'set', 'k', { value: 'c', ifPresent: true }).ok(true);
      get(1).ok('c');
      expect(verdictOf(history.events)).to.include({ verdict: 'ok', operations: 14 });
    });

    it('overlapping operations that must be reordered against their invoke order', () => {
      const { history, set, get } = recorder();
      const setA = set(0, 'a');
      const read = get(1);
      const setB = set(2, 'b');
      read.ok('b');
      setB.ok(true);
      setA.ok(true);
      get(1).ok('a');
      expect(verdictOf(history.events).verdict).to.equal('ok');
    });

    it('an info write that took effect, even after the client gave up on it, and one that never did', () => {
      const { history, set, get } = recorder();
      set(0, 'a').ok(true);
      set(1, 'b').info('timed out');
      get(2).ok('a');
      get(2).ok('b');
      set(3, 'c').info('timed out');
      get(2).ok('b');
      expect(verdictOf(history.events).verdict).to.equal('ok');
    });

    it('an invoke with no completion, as info', () => {
      const { history, set, get } = recorder();
      set(0, 'a');
      get(1).ok(null);
      get(1).ok('a');
      expect(verdictOf(history.events).verdict).to.equal('ok');
    });

    it('each key alone: an anomaly on one key leaves the others ok', () => {
      const history = new HistoryRecorder({ threads: 2 });
      history.invoke(0, 'set', 'good', { value: 1 }).ok(true);
      history.invoke(0, 'set', 'bad', { value: 1 }).ok(true);
      history.invoke(1, 'get', 'bad', null).ok(2);
      history.invoke(1, 'get', 'good', null).ok(1);
      const report = checkLinearizable(history.events);
      expect(report.verdict).to.equal('not linearizable');
      expect(report.keys.map(({ key, verdict }) => [key, verdict])).to.deep.equal([
        ['bad', 'not linearizable'],
        ['good', 'ok'],
      ]);
      expect(formatLinearizability(report)).to.contain('bad: not linearizable');
    });
  });

  describe('catches non-linearizable histories', () => {
    it('a stale read after a completed write, named without a search', () => {
      const { history, set, get } = recorder();
      set(0, 'a').ok(true);
      set(1, 'b').ok(true);
      get(2).ok('a');
      const result = verdictOf(history.events);
      expect(result).to.include({ verdict: 'not linearizable', explored: 0 });
      const { writer, reader, between } = defined(result.contradiction);
      expect([writer.invokeIndex, reader.invokeIndex, between.invokeIndex]).to.deep.equal([0, 4, 2]);
      expect(result.explanation).to.equal(
        'get -> "a" by process 2 [events 4-5] read the value of set {"value":"a"} -> true by process 0 ' +
          '[events 0-1], but set {"value":"b"} -> true by process 1 [events 2-3] began after that write ' +
          'completed, completed before that read began, and cannot leave that value in place',
      );
    });

    it('a value popped twice, by pops that do not overlap and by pops that do', () => {
      const apart = recorder();
      apart.set(0, 'a').ok(true);
      apart.pop(1).ok('a');
      apart.pop(2).ok('a');
      expect(verdictOf(apart.history.events).verdict).to.equal('not linearizable');

      const overlapping = recorder();
      overlapping.set(0, 'a').ok(true);
      const first = overlapping.pop(1);
      const second = overlapping.pop(2);
      first.ok('a');
      second.ok('a');
      expect(verdictOf(overlapping.history.events).verdict).to.equal('not linearizable');
    });

    it('two cas winners: on an absent key, and from the same expected value', () => {
      const absent = recorder();
      const one = absent.cas(0, 1);
      const two = absent.cas(1, 2);
      one.ok({ swapped: true, exists: false, current: 1 });
      two.ok({ swapped: true, exists: false, current: 2 });
      const result = verdictOf(absent.history.events);
      expect(result.verdict).to.equal('not linearizable');
      // The search got as far as the first winner, and then no order fits the second.
      const stuck = defined(result.stuck);
      expect(stuck.operation).to.deep.include({ f: 'cas', input: { value: 2 } });
      expect(stuck).to.include({ linearized: 1, state: '1' });
      expect(result.explanation).to.match(
        /^cas \{"value":2\} -> .* cannot be linearized: the longest linearizable prefix orders 1 of 2/,
      );

      const counter = recorder();
      counter.set(0, 0).ok(true);
      const a = counter.cas(1, 1, 0);
      const b = counter.cas(2, 1, 0);
      a.ok({ swapped: true, exists: true, current: 1 });
      b.ok({ swapped: true, exists: true, current: 1 });
      expect(verdictOf(counter.history.events).verdict).to.equal('not linearizable');
    });

    it('a lost write: an acknowledged set that a later read does not see', () => {
      const { history, set, get } = recorder();
      set(0, 'a').ok(true);
      get(1).ok(null);
      expect(verdictOf(history.events).verdict).to.equal('not linearizable');
    });

    it('a failed write that became visible, and a value that came back after an overwrite', () => {
      const failed = recorder();
      failed.set(0, 'a').fail('quorum not reached');
      failed.get(1).ok('a');
      expect(verdictOf(failed.history.events).verdict).to.equal('not linearizable');

      const back = recorder();
      back.set(0, 'a').ok(true);
      back.set(1, 'b').info('timed out');
      back.get(2).ok('b');
      back.get(2).ok('a');
      expect(verdictOf(back.history.events).verdict).to.equal('not linearizable');
    });

    it('answers a conditional set or has that contradicts the state', () => {
      const { history, set } = recorder();
      set(0, 'a').ok(true);
      history.invoke(1, 'set', 'k', { value: 'b', ifAbsent: true }).ok(true);
      expect(verdictOf(history.events).verdict).to.equal('not linearizable');
      const has = new HistoryRecorder({ threads: 1 });
      has.invoke(0, 'has', 'k', null).ok(true);
      expect(verdictOf(has.events).verdict).to.equal('not linearizable');
    });
  });

  it('answers unknown when the search runs out of its budget', () => {
    const events = randomRegisterHistory(new Random(7), { operations: 300, keys: 1, threads: 8 });
    const report = checkLinearizable(events, { maxExplored: 5 });
    expect(report.verdict).to.equal('unknown');
    expect(defined(report.keys[0]).explanation).to.contain('explored its 5 configurations');
  });

  describe('histories in Jepsen shape', () => {
    let dir: string | undefined;
    after(() => {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    });

    it('saves and loads a history as JSON, with the same verdict', async () => {
      dir = mkdtempSync(join(tmpdir(), 'kvdb-history-'));
      const { history, set, get } = recorder();
      set(0, 'a').ok(true);
      get(1).info(new Error('socket hang up'));
      set(1, 'b').ok(true);
      const file = join(dir, 'history.json');
      await history.save(file);
      const loaded = await loadHistory(file);
      expect(loaded).to.deep.equal(history.events);
      expect(loaded[3]).to.deep.include({
        type: 'info',
        f: 'get',
        process: 1,
        error: 'Error: socket hang up',
      });
      expect(loaded[4]).to.deep.include({
        type: 'invoke',
        f: 'set',
        key: 'k',
        value: { value: 'b' },
        process: 6,
      });
      expect(loaded.every((event, index) => event.time >= (loaded[index - 1]?.time ?? 0))).to.equal(true);
      expect(checkLinearizable(loaded).verdict).to.equal('ok');
    });

    it('records a call with run: ok with its answer, fail or info as the classifier says', async () => {
      const history = new HistoryRecorder({ threads: 1 });
      const outcome = (error: unknown) => (error instanceof RangeError ? 'fail' : 'info');
      await history.run(
        0,
        'cas',
        'k',
        { value: 1 },
        async () => ({ swapped: true, exists: false, current: 1 }),
        outcome,
      );
      await history.run(0, 'pop', 'k', null, () => Promise.reject(new RangeError('no quorum')), outcome);
      await history.run(0, 'get', 'k', null, () => Promise.reject(new Error('timed out')), outcome);
      await history.run(0, 'get', 'k', null, async () => 1, outcome);
      expect(history.events.map(({ type, f, process }) => [type, f, process])).to.deep.equal([
        ['invoke', 'cas', 0],
        ['ok', 'cas', 0],
        ['invoke', 'pop', 0],
        ['fail', 'pop', 0],
        ['invoke', 'get', 0],
        ['info', 'get', 0],
        ['invoke', 'get', 1],
        ['ok', 'get', 1],
      ]);
      expect(history.events[3]?.error).to.equal('RangeError: no quorum');
      expect(checkLinearizable(history.events).verdict).to.equal('ok');
    });

    it('refuses a history it cannot pair or read', () => {
      const history = new HistoryRecorder({ threads: 1 });
      const op = history.invoke(0, 'get', 'k', null);
      expect(() => history.invoke(0, 'get', 'k', null)).to.throw(/while its last operation was pending/);
      op.ok(null);
      expect(() => op.ok(null)).to.throw(/complete once/);
      const orphan = { index: 0, type: 'ok', f: 'get', key: 'k', value: null, process: 3, time: 0 } as const;
      expect(() => pairOperations([orphan])).to.throw(/Event 0: ok get of process 3 has no matching invoke/);
      expect(() => parseHistory([{ ...orphan, f: 'append' }])).to.throw(/event 0 to have `f` one of/);
      expect(() => parseHistory({})).to.throw(/JSON array/);
    });
  });
});
