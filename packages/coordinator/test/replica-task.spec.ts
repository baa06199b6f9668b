import { MemoryStore } from '@kvdb/core';
import { expect } from 'chai';
import type sinon from 'sinon';
import { sleep, systemClock } from '../src/clock.js';
import { LocalReplica } from '../src/local-replica.js';
import type { Logger } from '../src/logger.js';
import { Membership } from '../src/membership.js';
import { ReplicaTask } from '../src/replica-task.js';
import { allSettledOrThrow } from '../src/runs-under-way.js';
import { deferred, eventually, track, useFakeTimers } from './utils/timing.js';
import { live } from './utils/values.js';

/** A task whose runs the test shapes: by default each waits until `finish` is called. */
class ShapedTask extends ReplicaTask {
  started = 0;
  finish: () => void = () => {};
  run: (task: ShapedTask) => Promise<void> = () => {
    const held = deferred<void>();
    this.finish = () => held.resolve();
    return held.promise;
  };
  readonly warnings: string[] = [];

  constructor({ keys = 0, intervalMs = 1_000 } = {}) {
    const membership = new Membership('10.0.0.1:5878', ['10.0.0.2:5878']);
    const store = new MemoryStore();
    for (let i = 0; i < keys; i++) store.mergeSync(`key:${i}`, live({ wall: 1, counter: 0, node: 'n' }, i));
    const replica = new LocalReplica({ store, ring: membership.ring, self: membership.self });
    const transport = { call: () => Promise.reject(new Error('no peers here')) };
    const warnings: string[] = [];
    const logger: Logger = { debug() {}, info() {}, warn: (line) => warnings.push(line), error() {} };
    super({ membership, replica, transport, logger }, { replicas: () => 2, intervalMs }, 'shaped task');
    this.warnings = warnings;
  }

  protected tick(): Promise<void> {
    this.started += 1;
    return this.run(this);
  }

  /** Reads the replica's pages with the task's signal, counting them. */
  async scan(counted: { pages: number }): Promise<void> {
    for await (const _ of this.replica.pages(this.signal)) counted.pages += 1;
  }
}

describe('allSettledOrThrow', () => {
  it('gives every value in order, or rejects with the first failure only once every promise has settled', async () => {
    expect(await allSettledOrThrow([Promise.resolve(1), Promise.resolve(2)])).to.deep.equal([1, 2]);
    const slow = deferred<number>();
    const first = new Error('first');
    const all = track(
      allSettledOrThrow([Promise.reject(first), slow.promise, Promise.reject(new Error('second'))]),
    );
    for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(all.settled, 'settled while a promise is pending').to.equal(false);
    slow.resolve(3);
    expect(await all.promise.catch((error: unknown) => error)).to.equal(first);
  });
});

describe('ReplicaTask', () => {
  it('a scan with the task’s signal ends at its next page after a stop, without a warning', async () => {
    // Real timers: pages are read a turn of the event loop apart.
    const task = new ShapedTask({ keys: 5_000, intervalMs: 1 }); // three pages
    const counted = { pages: 0 };
    task.run = (self) => self.scan(counted);
    task.start();
    try {
      await eventually(() => counted.pages > 0, { what: 'a first page' });
    } finally {
      task.stop();
    }
    await task.idle();
    expect(counted.pages, 'pages read').to.equal(1);
    expect(task.warnings).to.deep.equal([]);
  });

  describe('on a fake clock', () => {
    let clock: sinon.SinonFakeTimers;

    beforeEach(() => {
      clock = useFakeTimers();
    });

    afterEach(() => {
      clock.restore();
    });

    it('idle resolves at once with no run under way, and after a stop only once the run under way has ended', async () => {
      const task = new ShapedTask();
      await task.idle();

      task.start();
      await clock.tickAsync(1_000);
      expect(task.started, 'one run on the timer').to.equal(1);
      task.stop();
      const idle = track(task.idle());
      await clock.tickAsync(10_000);
      expect(idle.settled, 'idle while the run is under way').to.equal(false);
      expect(task.started, 'no run after the stop').to.equal(1);

      task.finish();
      await idle.promise;
    });

    it('sleep ends at once when its signal aborts, leaving no timer behind', async () => {
      const stopping = new AbortController();
      const slept = track(sleep(systemClock, 60_000, stopping.signal));
      await clock.tickAsync(1_000);
      expect(slept.settled).to.equal(false);
      stopping.abort();
      await slept.promise;
      expect(clock.countTimers()).to.equal(0);
      await sleep(systemClock, 60_000, stopping.signal); // already aborted: resolves without waiting
    });
  });
});
