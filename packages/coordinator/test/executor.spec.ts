import { expect } from 'chai';
import type sinon from 'sinon';
import { systemClock } from '../src/clock.js';
import { ParallelExecutor, type QuorumOptions } from '../src/executor.js';
import { defined } from './utils/assertions.js';
import { type Deferred, deferred, realTurn, track, useFakeTimers } from './utils/timing.js';

/** One controllable call per target; asking for a target it does not hold is a mistake in the test, and throws. */
class Calls extends Map<string, Deferred<string>> {
  override get(target: string): Deferred<string> {
    const call = super.get(target);
    if (call === undefined) throw new Error(`no call to ${target} in this test`);
    return call;
  }
}

function controlledCalls(targets: readonly string[]): Calls {
  return new Calls(targets.map((target) => [target, deferred<string>()]));
}

function callOf(calls: Calls): (target: string) => Promise<string> {
  return (target) => calls.get(target).promise;
}

/** Controllable calls that also record which targets were called, in order. */
function recordedCalls() {
  const calls = controlledCalls(TARGETS);
  const called: string[] = [];
  const call = (target: string) => {
    called.push(target);
    return calls.get(target).promise;
  };
  return { calls, called, call };
}

/** Lets every pending promise callback run (real timers only). */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const TARGETS = ['a', 'b', 'c'] as const;

describe('ParallelExecutor', () => {
  describe('with real timers', () => {
    it('resolves reached as soon as `required` calls succeed, while others are still pending', async () => {
      const calls = controlledCalls(TARGETS);
      const executor = new ParallelExecutor();
      const outcome = track(executor.quorum(TARGETS, callOf(calls), { required: 2, timeoutMs: 5_000 }));

      calls.get('a').resolve('A');
      await flush();
      expect(outcome.settled, 'decided after one success of two').to.equal(false);

      calls.get('c').resolve('C');
      const result = await outcome.promise;
      expect(result.reached).to.equal(true);
      expect(result.timedOut).to.equal(false);
      expect(result.succeeded).to.deep.equal([
        { target: 'a', value: 'A' },
        { target: 'c', value: 'C' },
      ]);
      expect(result.failed).to.deep.equal([]);
      expect(executor.activeCount, 'b is still running').to.equal(1);
      calls.get('b').resolve('B');
      await result.settled;
    });

    it('decides not reached as soon as failures make the quorum impossible', async () => {
      const calls = controlledCalls(TARGETS);
      const executor = new ParallelExecutor();
      const outcome = track(executor.quorum(TARGETS, callOf(calls), { required: 2, timeoutMs: 5_000 }));
      const boomA = new Error('a failed');
      const boomB = new Error('b failed');

      calls.get('a').reject(boomA);
      await flush();
      expect(outcome.settled, 'decided while two of three could still succeed').to.equal(false);

      calls.get('b').reject(boomB);
      const result = await outcome.promise;
      expect(result.reached).to.equal(false);
      expect(result.timedOut).to.equal(false);
      expect(result.succeeded).to.deep.equal([]);
      expect(result.failed).to.deep.equal([
        { target: 'a', error: boomA },
        { target: 'b', error: boomB },
      ]);
      calls.get('c').resolve('C');
      await result.settled;
    });

    it('counts a call that throws synchronously as a failure', async () => {
      const executor = new ParallelExecutor();
      const result = await executor.quorum(
        TARGETS,
        (target) => {
          if (target === 'b') throw new Error('sync throw');
          return Promise.resolve(target.toUpperCase());
        },
        { required: 3, timeoutMs: 5_000 },
      );
      expect(result.reached).to.equal(false);
      expect(result.failed.map(({ target }) => target)).to.deep.equal(['b']);
      expect((defined(result.failed[0]).error as Error).message).to.equal('sync throw');
    });

    it('settles with every call result, including those that arrive after the decision', async () => {
      const calls = controlledCalls(TARGETS);
      const executor = new ParallelExecutor();
      const outcome = executor.quorum(TARGETS, callOf(calls), { required: 1, timeoutMs: 5_000 });
      calls.get('b').resolve('B');
      const result = await outcome;
      expect(result.reached).to.equal(true);
      expect(result.succeeded).to.deep.equal([{ target: 'b', value: 'B' }]);

      const settled = track(result.settled);
      await flush();
      expect(settled.settled, 'settled before every call finished').to.equal(false);

      const late = new Error('late failure');
      calls.get('c').reject(late);
      calls.get('a').resolve('A');
      expect(await result.settled).to.deep.equal([
        { target: 'a', ok: true, value: 'A' },
        { target: 'b', ok: true, value: 'B' },
        { target: 'c', ok: false, error: late },
      ]);
      expect(result.succeeded, 'the decided outcome is a snapshot').to.have.length(1);
    });

    it('never runs more than `concurrency` calls at once and queues the rest', async () => {
      const executor = new ParallelExecutor({}, { concurrency: 2 });
      const targets = Array.from({ length: 10 }, (_, i) => `t${i}`);
      const calls = controlledCalls(targets);
      const started: string[] = [];
      let running = 0;
      let maxRunning = 0;
      let maxActive = 0;
      const outcome = executor.quorum(
        targets,
        (target) => {
          started.push(target);
          running++;
          maxRunning = Math.max(maxRunning, running);
          maxActive = Math.max(maxActive, executor.activeCount);
          return defined(calls.get(target)).promise.finally(() => {
            running--;
          });
        },
        { required: 10, timeoutMs: 5_000 },
      );
      expect(executor.activeCount).to.equal(2);
      expect(executor.pendingCount).to.equal(8);

      let answered = 0;
      const pendingSeen: number[] = [];
      for (let round = 0; round < 100 && answered < targets.length; round++) {
        await flush();
        pendingSeen.push(executor.pendingCount);
        for (const target of started.slice(answered)) defined(calls.get(target)).resolve(target);
        answered = started.length;
      }

      const result = await outcome;
      expect(result.reached).to.equal(true);
      expect(result.succeeded).to.have.length(10);
      expect(started).to.have.members(targets);
      expect(maxActive, 'activeCount seen inside a call').to.equal(2);
      expect(maxRunning, 'calls running at once').to.equal(2);
      expect(pendingSeen.some((pending) => pending > 0)).to.equal(true);
      await result.settled;
      expect(executor.activeCount).to.equal(0);
      expect(executor.pendingCount).to.equal(0);
    });

    it('bounds concurrency across requests, not per request', async () => {
      const executor = new ParallelExecutor({}, { concurrency: 2 });
      let running = 0;
      let maxRunning = 0;
      const call = async (target: string): Promise<string> => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await flush();
        running--;
        return target;
      };
      const first = executor.quorum(['a', 'b', 'c'], call, { required: 3, timeoutMs: 5_000 });
      const second = executor.quorum(['d', 'e', 'f'], call, { required: 3, timeoutMs: 5_000 });
      expect(executor.activeCount).to.equal(2);
      expect(executor.pendingCount).to.equal(4);
      const results = await Promise.all([first, second]);
      expect(results.map((r) => r.reached)).to.deep.equal([true, true]);
      expect(maxRunning).to.equal(2);
    });

    it('resolves reached at once when nothing is required', async () => {
      const executor = new ParallelExecutor();
      const never = new Promise<string>(() => {});
      const outcome = track(executor.quorum(TARGETS, () => never, { required: 0, timeoutMs: 5_000 }));
      await flush();
      expect(outcome.settled).to.equal(true);
      const result = await outcome.promise;
      expect(result).to.include({ reached: true, timedOut: false });
      expect(result.succeeded).to.deep.equal([]);
    });

    it('resolves not reached at once when more are required than there are targets', async () => {
      const executor = new ParallelExecutor();
      const never = new Promise<string>(() => {});
      const outcome = track(executor.quorum(TARGETS, () => never, { required: 4, timeoutMs: 5_000 }));
      await flush();
      expect(outcome.settled).to.equal(true);
      expect(await outcome.promise).to.include({ reached: false, timedOut: false });

      const empty = await executor.quorum([], () => never, { required: 1, timeoutMs: 5_000 });
      expect(empty).to.include({ reached: false, timedOut: false });
    });

    describe('waitForAll', () => {
      it('waits for every call, then reports reached when enough succeeded', async () => {
        const calls = controlledCalls(TARGETS);
        const executor = new ParallelExecutor();
        const outcome = track(
          executor.quorum(TARGETS, callOf(calls), { required: 1, timeoutMs: 5_000, waitForAll: true }),
        );

        calls.get('a').resolve('A');
        await flush();
        expect(outcome.settled, 'decided at the first success').to.equal(false);
        calls.get('b').reject(new Error('b failed'));
        await flush();
        expect(outcome.settled, 'decided before the last call').to.equal(false);
        calls.get('c').resolve('C');

        const result = await outcome.promise;
        expect(result).to.include({ reached: true, timedOut: false });
        expect(result.succeeded.map(({ target }) => target)).to.have.members(['a', 'c']);
        expect(result.failed.map(({ target }) => target)).to.deep.equal(['b']);
      });

      it('reports not reached when too few succeeded, only after every call', async () => {
        const calls = controlledCalls(TARGETS);
        const executor = new ParallelExecutor();
        const outcome = track(
          executor.quorum(TARGETS, callOf(calls), { required: 2, timeoutMs: 5_000, waitForAll: true }),
        );
        calls.get('a').reject(new Error('a failed'));
        calls.get('b').reject(new Error('b failed'));
        await flush();
        expect(outcome.settled, 'decided before the last call').to.equal(false);
        calls.get('c').resolve('C');
        const result = await outcome.promise;
        expect(result).to.include({ reached: false, timedOut: false });
        expect(result.succeeded).to.have.length(1);
        expect(result.failed).to.have.length(2);
      });
    });
  });

  describe('with fake timers', () => {
    let clock: sinon.SinonFakeTimers;

    beforeEach(() => {
      clock = useFakeTimers();
    });

    afterEach(() => {
      clock.restore();
    });

    it('times out at `timeoutMs` with what has answered so far', async () => {
      const calls = controlledCalls(TARGETS);
      const executor = new ParallelExecutor({ clock: systemClock });
      const outcome = track(executor.quorum(TARGETS, callOf(calls), { required: 2, timeoutMs: 1_000 }));
      calls.get('b').resolve('B');

      await clock.tickAsync(999);
      expect(outcome.settled, 'decided before the deadline').to.equal(false);
      await clock.tickAsync(1);
      expect(outcome.settled, 'still undecided at the deadline').to.equal(true);

      const result = await outcome.promise;
      expect(result).to.include({ reached: false, timedOut: true });
      expect(result.succeeded).to.deep.equal([{ target: 'b', value: 'B' }]);
      expect(result.failed).to.deep.equal([]);
    });

    describe('own: an answer the caller has begun, still pending', () => {
      it('counts it when it settles, success or failure, and gives it no slot of the queue', async () => {
        const executor = new ParallelExecutor({ clock: systemClock }, { concurrency: 1 });
        const busy = deferred<string>();
        void executor.quorum(['x'], () => busy.promise, { required: 1, timeoutMs: 60_000 });
        const none = () => Promise.reject(new Error('no target is called'));

        const ok = await executor.quorum(['self'], none, {
          required: 1,
          timeoutMs: 1_000,
          own: { target: 'self', pending: Promise.resolve('V') },
        });
        expect(ok).to.include({ reached: true, timedOut: false });
        expect(ok.succeeded).to.deep.equal([{ target: 'self', value: 'V' }]);
        expect(await ok.settled).to.deep.equal([{ target: 'self', ok: true, value: 'V' }]);

        const failure = new Error('disk full');
        const failed = await executor.quorum(['self'], none, {
          required: 1,
          timeoutMs: 1_000,
          own: { target: 'self', pending: Promise.reject(failure) },
        });
        expect(failed).to.include({ reached: false, timedOut: false });
        expect(failed.failed).to.deep.equal([{ target: 'self', error: failure }]);

        expect(executor.activeCount, 'only the busy call holds the one slot').to.equal(1);
        expect(executor.pendingCount).to.equal(0);
        expect(clock.countTimers(), 'the busy call’s deadline alone').to.equal(1);
        busy.resolve('done');
      });

      it('times out at `timeoutMs`; the late answer still arrives through `settled`', async () => {
        const executor = new ParallelExecutor({ clock: systemClock });
        const answer = deferred<string>();
        const outcome = track(
          executor.quorum(['self'], () => Promise.reject(new Error('not called')), {
            required: 1,
            timeoutMs: 1_000,
            own: { target: 'self', pending: answer.promise },
          }),
        );
        await clock.tickAsync(999);
        expect(outcome.settled, 'decided before the deadline').to.equal(false);
        await clock.tickAsync(1);
        const result = await outcome.promise;
        expect(result).to.include({ reached: false, timedOut: true, inFlight: 1 });
        expect(result.succeeded).to.deep.equal([]);
        answer.resolve('late');
        expect(await result.settled).to.deep.equal([{ target: 'self', ok: true, value: 'late' }]);
      });
    });

    it('clears its timer once the outcome is known', async () => {
      const executor = new ParallelExecutor({ clock: systemClock });
      const result = await executor.quorum(TARGETS, async (target) => target, {
        required: 2,
        timeoutMs: 1_000,
      });
      expect(result.reached).to.equal(true);
      await result.settled;
      expect(clock.countTimers()).to.equal(0);
    });

    it('with waitForAll, reports reached at the deadline when enough have succeeded', async () => {
      const calls = controlledCalls(TARGETS);
      const executor = new ParallelExecutor({ clock: systemClock });
      const outcome = track(
        executor.quorum(TARGETS, callOf(calls), { required: 2, timeoutMs: 1_000, waitForAll: true }),
      );
      calls.get('a').resolve('A');
      calls.get('c').resolve('C');
      await clock.tickAsync(999);
      expect(outcome.settled, 'decided while b could still answer').to.equal(false);
      await clock.tickAsync(1);
      const result = await outcome.promise;
      expect(result).to.include({ reached: true, timedOut: true });
      expect(result.succeeded.map(({ target }) => target)).to.have.members(['a', 'c']);
    });

    it('with waitForAll, reports not reached at the deadline when too few have succeeded', async () => {
      const calls = controlledCalls(TARGETS);
      const executor = new ParallelExecutor({ clock: systemClock });
      const outcome = track(
        executor.quorum(TARGETS, callOf(calls), { required: 2, timeoutMs: 1_000, waitForAll: true }),
      );
      calls.get('a').resolve('A');
      await clock.tickAsync(1_000);
      expect(await outcome.promise).to.include({ reached: false, timedOut: true });
    });

    describe('fanout', () => {
      it('calls only the first `fanout` targets, and the next one for each failure', async () => {
        const { calls, called, call } = recordedCalls();
        const executor = new ParallelExecutor({ clock: systemClock });
        const outcome = track(executor.quorum(TARGETS, call, { required: 2, timeoutMs: 1_000, fanout: 2 }));
        await clock.tickAsync(0);
        expect(called).to.deep.equal(['a', 'b']);
        calls.get('a').resolve('A');
        calls.get('b').reject(new Error('b is down'));
        await clock.tickAsync(0);
        expect(called, 'c is called once b fails').to.deep.equal(['a', 'b', 'c']);
        expect(outcome.settled).to.equal(false);
        calls.get('c').resolve('C');
        const result = await outcome.promise;
        expect(result.reached).to.equal(true);
        expect(result.succeeded.map(({ target }) => target)).to.deep.equal(['a', 'c']);
        expect((await result.settled).map(({ target, ok }) => [target, ok])).to.deep.equal([
          ['a', true],
          ['b', false],
          ['c', true],
        ]);
      });

      it('never calls the rest once the quorum is reached, and settles with the calls made', async () => {
        const called: string[] = [];
        const executor = new ParallelExecutor({ clock: systemClock });
        const result = await executor.quorum(
          TARGETS,
          async (target) => {
            called.push(target);
            return target;
          },
          { required: 2, timeoutMs: 1_000, fanout: 2, hedgeMs: 50 },
        );
        expect(result.reached).to.equal(true);
        expect((await result.settled).map(({ target }) => target)).to.deep.equal(['a', 'b']);
        await clock.tickAsync(100);
        expect(called).to.deep.equal(['a', 'b']);
        expect(clock.countTimers(), 'the hedge timer is cleared').to.equal(0);
      });

      it('calls every other target after `hedgeMs` without an outcome', async () => {
        const { calls, called, call } = recordedCalls();
        const executor = new ParallelExecutor({ clock: systemClock });
        const outcome = track(
          executor.quorum(TARGETS, call, { required: 1, timeoutMs: 1_000, fanout: 1, hedgeMs: 50 }),
        );
        await clock.tickAsync(49);
        expect(called).to.deep.equal(['a']);
        await clock.tickAsync(1);
        expect(called).to.deep.equal(['a', 'b', 'c']);
        calls.get('c').resolve('C');
        const result = await outcome.promise;
        expect(result.succeeded).to.deep.equal([{ target: 'c', value: 'C' }]);
        calls.get('a').resolve('A');
        calls.get('b').resolve('B');
        expect(await result.settled).to.have.length(3);
      });

      it('keeps one timer: the hedge, then the deadline at `timeoutMs` from the start', async () => {
        const { called, call } = recordedCalls();
        const executor = new ParallelExecutor({ clock: systemClock });
        const outcome = track(
          executor.quorum(TARGETS, call, { required: 2, timeoutMs: 1_000, fanout: 2, hedgeMs: 50 }),
        );
        expect(clock.countTimers(), 'the hedge').to.equal(1);
        await clock.tickAsync(50);
        expect(called).to.deep.equal(['a', 'b', 'c']);
        expect(clock.countTimers(), 'the deadline, in its place').to.equal(1);
        await clock.tickAsync(949);
        expect(outcome.settled, 'decided before the deadline').to.equal(false);
        await clock.tickAsync(1);
        expect(await outcome.promise).to.include({ reached: false, timedOut: true, inFlight: 3 });
      });

      it('fails when the targets run out, reporting every failure', async () => {
        const executor = new ParallelExecutor({ clock: systemClock });
        const result = await executor.quorum(
          TARGETS,
          (target) => (target === 'a' ? Promise.resolve('A') : Promise.reject(new Error(`${target} down`))),
          { required: 2, timeoutMs: 1_000, fanout: 2 },
        );
        expect(result.reached).to.equal(false);
        expect(result.failed.map(({ target }) => target)).to.deep.equal(['b', 'c']);
      });
    });

    describe('own: one target’s answer known up front', () => {
      /** A quorum over recorded calls, started, with its calls made. */
      const started = async (options: Omit<QuorumOptions<string>, 'timeoutMs'>) => {
        const recorded = recordedCalls();
        const executor = new ParallelExecutor({ clock: systemClock });
        const outcome = track(executor.quorum(TARGETS, recorded.call, { timeoutMs: 1_000, ...options }));
        await clock.tickAsync(0);
        return { ...recorded, executor, outcome };
      };

      it('does not call that target, and counts its answer toward the quorum, the fanout and `settled`', async () => {
        const { calls, called, executor, outcome } = await started({
          required: 2,
          fanout: 2,
          hedgeMs: 50,
          own: { target: 'a', ok: true, value: 'A' },
        });
        expect(called).to.deep.equal(['b']);
        expect(executor.activeCount, 'only b takes a slot').to.equal(1);
        calls.get('b').resolve('B');
        const result = await outcome.promise;
        expect(result).to.include({ reached: true, inFlight: 0 });
        expect(result.succeeded.map(({ target }) => target)).to.deep.equal(['a', 'b']);
        expect((await result.settled).map(({ target }) => target)).to.deep.equal(['a', 'b']);
        await clock.tickAsync(100);
        expect(called, 'no hedge once decided').to.deep.equal(['b']);
      });

      it('calls the next target in its place when the answer is a failure', async () => {
        const failure = new Error('store closed');
        const { calls, called, outcome } = await started({
          required: 2,
          fanout: 2,
          own: { target: 'a', ok: false, error: failure },
        });
        expect(called).to.deep.equal(['b', 'c']);
        calls.get('b').resolve('B');
        calls.get('c').resolve('C');
        const result = await outcome.promise;
        expect(result.reached).to.equal(true);
        expect(result.failed).to.deep.equal([{ target: 'a', error: failure }]);
      });

      it('decides at once when it is the quorum, and still makes the fanout’s other calls for `settled`', async () => {
        const answered = { target: 'a', ok: true, value: 'A' } as const;
        const { calls, called, call, executor, outcome } = await started({
          required: 1,
          fanout: 3,
          own: answered,
        });
        expect(outcome.settled, 'decided without waiting for a call').to.equal(true);
        const result = await outcome.promise;
        expect(result).to.include({ reached: true, inFlight: 2 });
        expect(called).to.deep.equal(['b', 'c']);
        calls.get('b').resolve('B');
        calls.get('c').resolve('C');
        expect((await result.settled).map(({ target }) => target)).to.deep.equal(['a', 'b', 'c']);
        expect(clock.countTimers(), 'no timer once decided').to.equal(0);

        const alone = await executor.quorum(TARGETS, call, {
          required: 1,
          timeoutMs: 1_000,
          fanout: 1,
          own: answered,
        });
        expect(alone).to.include({ reached: true, inFlight: 0 });
        expect(called, 'a fanout of one is the answer alone').to.deep.equal(['b', 'c']);
        expect(await alone.settled).to.deep.equal([answered]);
      });

      it('decides a quorum of one target at once from its answer, with no call and no timer', async () => {
        const executor = new ParallelExecutor({ clock: systemClock });
        const call = () => Promise.reject(new Error('not called'));
        const answer = { target: 'a', ok: true, value: 'A' } as const;
        const ok = track(executor.quorum(['a'], call, { required: 1, timeoutMs: 1_000, own: answer }));
        await clock.tickAsync(0);
        expect(ok.settled).to.equal(true);
        expect(clock.countTimers()).to.equal(0);
        const result = await ok.promise;
        expect(result).to.deep.include({ reached: true, timedOut: false, inFlight: 0, failed: [] });
        expect(result.succeeded).to.deep.equal([{ target: 'a', value: 'A' }]);
        expect(await result.settled).to.deep.equal([answer]);

        const failure = new Error('store closed');
        const failed = await executor.quorum(['a'], call, {
          required: 1,
          timeoutMs: 1_000,
          own: { target: 'a', ok: false, error: failure },
        });
        expect(failed).to.deep.include({ reached: false, timedOut: false, succeeded: [] });
        expect(failed.failed).to.deep.equal([{ target: 'a', error: failure }]);
        const all = await executor.quorum(['a'], call, { required: 2, timeoutMs: 1_000, own: answer });
        expect(all.reached, 'more answers required than targets').to.equal(false);
      });

      it('ignores an answer from a target not among the targets, even one that rejects later', async () => {
        const unheard: unknown[] = [];
        const listener = (reason: unknown) => unheard.push(reason);
        process.on('unhandledRejection', listener);
        try {
          const { calls, called, outcome } = await started({
            required: 1,
            own: { target: 'x', pending: Promise.reject(new Error('not one of the targets')) },
          });
          expect(called).to.deep.equal(['a', 'b', 'c']);
          calls.get('a').resolve('A');
          const result = await outcome.promise;
          expect(result.succeeded).to.deep.equal([{ target: 'a', value: 'A' }]);
          await realTurn();
          expect(unheard, 'rejections nobody handled').to.deep.equal([]);
        } finally {
          process.off('unhandledRejection', listener);
        }
      });

      it('skips the target of the own answer wherever it stands among the targets', async () => {
        const { calls, called, outcome } = await started({
          required: 2,
          own: { target: 'b', ok: true, value: 'B' },
        });
        expect(called).to.deep.equal(['a', 'c']);
        calls.get('c').resolve('C');
        const result = await outcome.promise;
        expect(result).to.include({ reached: true, inFlight: 1 });
        expect(result.succeeded.map(({ target }) => target)).to.deep.equal(['b', 'c']);
        calls.get('a').resolve('A');
        expect((await result.settled).map(({ target }) => target)).to.deep.equal(['a', 'b', 'c']);
      });
    });
  });
});
