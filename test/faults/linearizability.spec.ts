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
import { bruteForceLinearizable } from './register-brute-force.js';

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

  describe('randomized histories', () => {
    const seed = Number(process.env.KVDB_LIN_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const replay = `seed ${seed} (KVDB_LIN_SEED=${seed} replays it)`;

    it(`agrees with a brute-force search on small histories, corrupted or not: ${replay}`, () => {
      const random = new Random(seed);
      let linearizable = 0;
      const runs = 600;
      for (let run = 0; run < runs; run++) {
        let events = randomRegisterHistory(random.fork(run), {
          operations: random.int(3, 10),
          keys: 1,
          threads: random.int(2, 5),
          infoRate: 0.25,
          ...(run % 2 === 0 ? { values: 3 } : {}),
        });
        if (random.next() < 0.6 && events.some((event) => event.type === 'ok'))
          events = corruptOneOutput(events, random);
        const expected = bruteForceLinearizable(events);
        if (expected) linearizable += 1;
        const report = checkLinearizable(events);
        expect(report.verdict, `run ${run} of ${replay}: ${JSON.stringify(events)}`).to.equal(
          expected ? 'ok' : 'not linearizable',
        );
      }
      // Both verdicts are well represented.
      expect(linearizable, replay).to.be.within(runs * 0.3, runs * 0.8);
    });

    it(`accepts histories linearizable by construction, and mostly rejects them with one read corrupted: ${replay}`, () => {
      const random = new Random(seed);
      const runs = 40;
      let caught = 0;
      for (let run = 0; run < runs; run++) {
        const events = randomRegisterHistory(random.fork(run), {
          operations: 300,
          keys: 2,
          threads: 8,
          infoRate: 0.1,
        });
        const report = checkLinearizable(events, { timeoutMs: 5_000 });
        expect(report.verdict, `run ${run} of ${replay}: ${formatLinearizability(report)}`).to.equal('ok');

        const corrupted = corruptOneRead(events, random, false);
        if (checkLinearizable(corrupted, { timeoutMs: 5_000 }).verdict === 'not linearizable') caught += 1;
        const phantom = corruptOneRead(events, random, true);
        expect(checkLinearizable(phantom, { timeoutMs: 5_000 }).verdict, `run ${run} of ${replay}`).to.equal(
          'not linearizable',
        );
      }
      expect(caught, `corrupted histories caught, ${replay}`).to.be.at.least(runs * 0.75);
    });

    it(`decides histories with one answer flipped, which only a search can refute: ${replay}`, () => {
      const random = new Random(seed);
      const verdicts = { ok: 0, 'not linearizable': 0, unknown: 0 };
      let bySearch = 0;
      for (let run = 0; run < 30; run++) {
        const events = randomRegisterHistory(random.fork(run), {
          operations: 300,
          keys: 2,
          threads: 8,
          infoRate: 0.1,
        });
        const report = checkLinearizable(flipOneAnswer(events, random), { timeoutMs: 30_000 });
        verdicts[report.verdict] += 1;
        if (
          report.verdict === 'not linearizable' &&
          report.keys.every((key) => key.contradiction === undefined)
        )
          bySearch += 1;
      }
      expect(verdicts.unknown, replay).to.equal(0);
      expect(bySearch, replay).to.be.at.least(6);
    });

    it(`checks 20,000 operations over 10 keys from 10 concurrent processes: ${replay}`, function () {
      this.timeout(120_000);
      const events = randomRegisterHistory(new Random(seed), { operations: 20_000, keys: 10, threads: 10 });
      const report = checkLinearizable(events, { timeoutMs: 100_000 });
      expect(report.verdict, formatLinearizability(report)).to.equal('ok');
      expect(report.keys).to.have.length(10);
      expect(report.keys.reduce((sum, key) => sum + key.operations, 0)).to.be.above(18_000);
    });
  });
});

/** A copy of `events` with the boolean answer of one has, conditional set or cas negated. */
function flipOneAnswer(events: readonly JepsenEvent[], random: Random): JepsenEvent[] {
  const answers = pairOperations(events).filter((op) => {
    const input = op.input as { ifAbsent?: boolean; ifPresent?: boolean } | null;
    const decides = op.f === 'has' || op.f === 'cas' || input?.ifAbsent === true || input?.ifPresent === true;
    return op.outcome === 'ok' && decides;
  });
  const target = defined(events[random.pick(answers).completeIndex]);
  let value: unknown = !target.value;
  if (target.f === 'cas') {
    const answer = target.value as Record<string, unknown>;
    const field = random.pick(['swapped', 'exists']);
    value = { ...answer, [field]: !answer[field] };
  }
  return events.map((event) => (event === target ? { ...event, value } : event));
}

/** A copy of `events` with one ok output changed: a value read, a boolean, or a field of a cas's answer. */
function corruptOneOutput(events: readonly JepsenEvent[], random: Random): JepsenEvent[] {
  const target = random.pick(events.filter((event) => event.type === 'ok'));
  const written = events.flatMap((event) =>
    event.type === 'invoke' && event.value !== null ? [(event.value as { value: unknown }).value] : [],
  );
  const other = random.pick([null, 'never written', ...written]);
  let value: unknown;
  if (target.f === 'cas') {
    const answer = target.value as Record<string, unknown>;
    const field = random.pick(['swapped', 'exists', 'current']);
    value = { ...answer, [field]: field === 'current' ? other : !answer[field] };
  } else if (target.f === 'has' || target.f === 'set') value = !target.value;
  else value = other;
  return events.map((event) => (event === target ? { ...event, value } : event));
}

/**
 * A copy of `events` with the output of one ok read (get, pop, or a cas's `current`) replaced: by a value written
 * to the key at another time or null (`phantom` false), or by a value nothing wrote.
 */
function corruptOneRead(events: readonly JepsenEvent[], random: Random, phantom: boolean): JepsenEvent[] {
  const reads = events.filter((event) => event.type === 'ok' && ['get', 'pop', 'cas'].includes(event.f));
  const target = random.pick(reads);
  const writes = events
    .filter((event) => event.type === 'invoke' && event.key === target.key && event.value !== null)
    .map((event) => (event.value as { value: unknown }).value);
  const old = target.f === 'cas' ? (target.value as { current: unknown }).current : target.value;
  const others = [null, ...writes].filter((value) => JSON.stringify(value) !== JSON.stringify(old));
  const replacement = phantom ? 'never written' : random.pick(others);
  const value = target.f === 'cas' ? { ...(target.value as object), current: replacement } : replacement;
  return events.map((event) => (event === target ? { ...event, value } : event));
}
