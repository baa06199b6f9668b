import { MemoryStore } from '@kvdb/core';
import { expect } from 'chai';
import type sinon from 'sinon';
import { LocalReplica } from '../src/local-replica.js';
import { Membership } from '../src/membership.js';
import { ReplicaTask } from '../src/replica-task.js';
import { track, useFakeTimers } from './utils/timing.js';

/** A task whose every run waits until the test lets it end. */
class HeldTask extends ReplicaTask {
  started = 0;
  finish: () => void = () => {};

  constructor() {
    const membership = new Membership('10.0.0.1:5878', ['10.0.0.2:5878']);
    const replica = new LocalReplica(new MemoryStore(), membership.ring);
    const transport = { call: () => Promise.reject(new Error('no peers here')) };
    super({ membership, replica, transport }, { replicas: () => 2, intervalMs: 1_000 }, 'held task');
  }

  protected tick(): Promise<void> {
    this.started += 1;
    return new Promise((resolve) => {
      this.finish = resolve;
    });
  }
}

describe('ReplicaTask', () => {
  let clock: sinon.SinonFakeTimers;

  beforeEach(() => {
    clock = useFakeTimers();
  });

  afterEach(() => {
    clock.restore();
  });

  it('idle resolves at once with no run under way, and after a stop only once the run under way has ended', async () => {
    const task = new HeldTask();
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
});
