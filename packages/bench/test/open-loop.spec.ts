import { expect } from 'chai';
import sinon from 'sinon';
import { summarize } from '../src/histogram.js';
import { OpenLoopSchedule, type PacedSlots, Pacer } from '../src/open-loop.js';
import { type RawBenchArgs, resolveBenchOptions } from '../src/options.js';
import { formatReport, summarizeResult } from '../src/report.js';
import { runBenchmark } from '../src/runner.js';
import { fakeNodes } from './helpers/fake-node.js';

describe('bench open loop: the timetable', () => {
  it('sets each request’s intended start at start + n / rate', () => {
    const schedule = new OpenLoopSchedule(200, 1_000);
    expect(schedule.intervalMs).to.equal(5);
    expect([0, 1, 10].map((index) => schedule.at(index))).to.deep.equal([1_000, 1_005, 1_050]);
    expect(schedule.countBefore(1_000)).to.equal(0);
    expect(schedule.countBefore(1_001)).to.equal(1);
    expect(schedule.countBefore(1_050)).to.equal(10);
    expect(() => new OpenLoopSchedule(0, 0)).to.throw(RangeError);
  });

  describe('the pacer', () => {
    let clock: sinon.SinonFakeTimers;
    beforeEach(() => {
      clock = sinon.useFakeTimers();
    });
    afterEach(() => clock.restore());

    /** Slots named by letters; records each start as [slot, startedAt, now], and the retired ones. */
    function pacer(rate: number, limit: number) {
      const started: Array<[string, number, number]> = [];
      const retired: string[] = [];
      const slots: PacedSlots<string> = {
        allows: (index) => index < limit,
        start: (slot, startedAt) => started.push([slot, startedAt, clock.now]),
        retire: (slot) => retired.push(slot),
      };
      return { pacer: new Pacer(new OpenLoopSchedule(rate, 0), slots, () => clock.now), started, retired };
    }

    it('starts a free slot on the timetable, waiting when it is early', async () => {
      const { pacer: paced, started } = pacer(100, 10);
      paced.offer('a');
      paced.offer('b');
      expect(started).to.deep.equal([['a', 0, 0]]);
      await clock.tickAsync(9);
      expect(started).to.have.length(1);
      await clock.tickAsync(1);
      expect(started).to.deep.equal([
        ['a', 0, 0],
        ['b', 10, 10],
      ]);
    });

    it('times a late request from when it was meant to start, and does not move the timetable', async () => {
      const { pacer: paced, started } = pacer(100, 10);
      paced.offer('a');
      // The slot is busy for 35 ms: requests 1, 2 and 3 (10, 20, 30 ms) are late, and go out back to back.
      await clock.tickAsync(35);
      paced.offer('a');
      paced.offer('a');
      paced.offer('a');
      expect(started.slice(1)).to.deep.equal([
        ['a', 10, 35],
        ['a', 20, 35],
        ['a', 30, 35],
      ]);
      paced.offer('a');
      await clock.tickAsync(5);
      expect(started[4]).to.deep.equal(['a', 40, 40]);
    });

    it('sends a request due within a millisecond at once, timed from when it went', async () => {
      const { pacer: paced, started } = pacer(1_000 / 1.5, 10);
      paced.offer('a');
      await clock.tickAsync(1);
      paced.offer('a');
      expect(started[1]).to.deep.equal(['a', 1, 1]);
    });

    it('retires the slots once the run allows no more', async () => {
      const { pacer: paced, started, retired } = pacer(100, 2);
      paced.offer('a');
      paced.offer('b');
      paced.offer('c');
      await clock.tickAsync(10);
      paced.offer('a');
      expect(started.map(([slot]) => slot)).to.deep.equal(['a', 'b']);
      expect(retired.sort()).to.deep.equal(['a', 'c']);
      expect(clock.countTimers()).to.equal(0);
    });
  });
});

describe('bench open loop against a node that stalls or falls behind', function () {
  this.timeout(20_000);
  const startNode = fakeNodes();

  const gets = (port: number, more: RawBenchArgs) =>
    resolveBenchOptions({
      operation: 'get',
      targets: `127.0.0.1:${port}`,
      concurrency: 1,
      warmup: false,
      ...more,
    });

  it('counts a 300 ms stall in every request scheduled during it; a closed loop counts it once', async () => {
    const stalling = () => startNode({ stall: { after: 50, ms: 300 } });
    const closed = summarize(
      (await runBenchmark(gets((await stalling()).port, { requests: 200 }))).histogram,
    );
    // 200 a second: a request every 5 ms, so about 60 are scheduled while the node stalls.
    const open = summarize(
      (await runBenchmark(gets((await stalling()).port, { requests: 200, rate: 200 }))).histogram,
    );
    expect(closed.max, 'closed loop: the stalled request').to.be.at.least(290);
    expect(closed.p90, 'closed loop: the rest').to.be.below(50);
    expect(open.max, 'open loop: the stalled request').to.be.at.least(290);
    // The waiting requests' latencies run from 300 ms down as the backlog drains: the slowest tenth is over 100.
    expect(open.p90, 'open loop: the requests that waited').to.be.at.least(100);
    expect(open.p99).to.be.at.least(250);
  });

  it('shows latency growing when the node is slower than the rate, and reports what was never sent', async () => {
    // One connection and 10 ms a reply: 100 a second at most, asked for 200.
    const node = await startNode({ replyDelayMs: 10 });
    const closed = summarize((await runBenchmark(gets(node.port, { requests: 60 }))).histogram);
    const result = await runBenchmark(gets(node.port, { duration: '600ms', rate: 200 }));
    const summary = summarizeResult(result);
    expect(closed.p90, 'closed loop: every reply takes its 10 ms').to.be.below(40);
    // Request n is sent at about 10n ms and meant for 5n: the wait grows by 5 ms a request.
    expect(summary.latencyMs.max).to.be.at.least(150);
    expect(summary.latencyMs.p50).to.be.above(closed.p90);
    expect(summary.rate?.target).to.equal(200);
    expect(summary.rate?.achieved).to.be.below(150);
    expect(summary.unsent).to.be.at.least(20);
    expect(formatReport(summary)).to.match(/\d+ operations meant to start before the end were never sent/);
    expect(formatReport(summary)).to.match(/open loop\s+200 ops\/s asked, \d+ ops\/s done/);
  });
});
