import { type KVClient, QuorumNotReachedError, TimeoutError } from '@kvdb/client';
import type { JsonValue, QuorumFailure } from '@kvdb/core';
import { defined } from '@kvdb/core/testing';
import { expect } from 'chai';
import { clusterPerTest } from './helpers/cluster.js';
import {
  type Expected,
  expectNoMismatch,
  inParallel,
  liveKeys,
  mismatches,
  roundRobin,
  statusOn,
  waitForStatus,
  waitForTotalKeys,
} from './helpers/observe.js';
import { waitFor } from './helpers/wait.js';

/** The server's quorum timeout (`--timeout` default) and the slack a loaded 2-core machine needs on top. */
const SERVER_TIMEOUT_MS = 2_000;
const MARGIN_MS = 1_500;

const notAlive = (status: string | undefined) => status !== undefined && status !== 'alive';
const alive = (status: string | undefined) => status === 'alive';

/** Sets every key of `values` through the clients, round-robin, 16 at a time. */
async function setAll(clients: readonly KVClient[], values: Expected): Promise<void> {
  await inParallel([...values], 16, async ([key, value], index) => {
    const client = roundRobin(clients, index);
    if (value === null) await client.pop(key);
    else await client.set(key, value);
  });
}

async function totalHints(clients: readonly KVClient[]): Promise<number> {
  const stats = await Promise.all(clients.map((kv) => kv.stats()));
  return stats.reduce((sum, s) => sum + s.hints, 0);
}

/** Rejects with the error `action` throws, or fails if it resolves. */
async function failure(action: () => Promise<unknown>): Promise<unknown> {
  const outcome = await action().then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected a failure, got ${JSON.stringify(outcome.value)}`);
  return outcome.error;
}

describe('failures in a 3-node cluster of real processes (R=3, lan timings)', function () {
  this.timeout(60_000);
  const start = clusterPerTest();

  it('loses no acknowledged write when a node is killed -9 mid-stream; survivors see it down within 5 s', async () => {
    const c = await start({ size: 3, replicas: 3 });
    const writers = [c.connect(0), c.connect(1)];
    const watchers = [c.connect(0), c.connect(1)];
    const victim = c.node(2).address;
    const attempts: Array<{ key: string; value: JsonValue; startedAt: number; ms: number; error?: unknown }> =
      [];
    let killedAt = Number.POSITIVE_INFINITY;
    let stopAt = Number.POSITIVE_INFINITY;
    let sequence = 0;
    const maxWrites = 20_000;
    const writer = async () => {
      while (Date.now() < stopAt && sequence < maxWrites) {
        const n = sequence++;
        const key = `stream:${n}`;
        const value = { n, at: Date.now() };
        const startedAt = Date.now();
        try {
          await roundRobin(writers, n).set(key, value);
          attempts.push({ key, value, startedAt, ms: Date.now() - startedAt });
        } catch (error) {
          attempts.push({ key, value, startedAt, ms: Date.now() - startedAt, error });
        }
      }
    };
    const stream = Promise.all(Array.from({ length: 4 }, writer));
    try {
      await waitFor('writes to flow', () => attempts.length >= 200);
      killedAt = Date.now();
      await c.signal(2, 'SIGKILL');
      const detectedMs = await waitForStatus(watchers, victim, notAlive, {
        since: killedAt,
        timeoutMs: 5_000,
        what: 'a non-alive status',
      });
      expect(detectedMs).to.be.at.most(5_000);
      stopAt = Math.max(Date.now(), killedAt + 4_000) + 1_000;
    } catch (error) {
      stopAt = 0;
      throw error;
    } finally {
      await stream;
    }

    const after = attempts.filter((attempt) => attempt.startedAt > killedAt);
    const failedAfter = after.filter((attempt) => attempt.error !== undefined);
    expect(after.length, 'writes sent after the kill').to.be.at.least(100);
    expect(
      failedAfter.length,
      `failed after the kill: ${failedAfter.length} of ${after.length}`,
    ).to.be.at.most(Math.floor(after.length * 0.01));
    const slowest = Math.max(...attempts.map((attempt) => attempt.ms));
    expect(slowest, 'slowest write (ms)').to.be.below(defined(writers[0]).timeoutMs);
    expect(attempts.filter((attempt) => attempt.error instanceof TimeoutError)).to.deep.equal([]);

    const acked: Expected = new Map(
      attempts
        .filter((attempt) => attempt.error === undefined)
        .map((attempt) => [attempt.key, attempt.value]),
    );
    expectNoMismatch(await mismatches([c.client(0), c.client(1)], acked));
  });

  it('a node restarted empty catches up without client reads: alone, it reads every latest value', async () => {
    const c = await start({ size: 3, replicas: 3 });
    const expected: Expected = new Map();
    for (let i = 0; i < 300; i++) expected.set(`ae:${i}`, { i, round: 1 });
    await setAll([c.client(0), c.client(1), c.client(2)], expected);
    const before: Expected = new Map();
    for (let i = 0; i < 300; i += 6) before.set(`ae:${i}`, null);
    await setAll([c.client(0), c.client(1), c.client(2)], before);
    for (const [key, value] of before) expected.set(key, value);

    await c.signal(2, 'SIGKILL');
    const whileDown: Expected = new Map();
    for (let i = 1; i < 300; i += 3) whileDown.set(`ae:${i}`, { i, round: 2 });
    for (let i = 5; i < 300; i += 10) if (expected.get(`ae:${i}`) !== null) whileDown.set(`ae:${i}`, null);
    for (let i = 0; i < 100; i++) whileDown.set(`ae:new:${i}`, { i, round: 2 });
    await setAll([c.client(0), c.client(1)], whileDown);
    for (const [key, value] of whileDown) expected.set(key, value);

    await c.restartNode(2);
    const restarted = c.client(2);
    const live = liveKeys(expected).length;
    await waitForTotalKeys([restarted], live, { timeoutMs: 30_000 });

    await Promise.all([c.signal(0, 'SIGKILL'), c.signal(1, 'SIGKILL')]);
    expectNoMismatch(await mismatches([restarted], expected, { consistency: 'one' }));
  });

  it('serves every quorum op with one of three down; with two down, fails in time with QuorumNotReachedError', async () => {
    const c = await start({ size: 3, replicas: 3 });
    const expected: Expected = new Map();
    for (let i = 0; i < 30; i++) expected.set(`q:${i}`, i);
    await setAll([c.client(0)], expected);
    const replicas = await c.client(0).locate('q:two-down');

    await c.signal(2, 'SIGKILL');
    for (const index of [0, 1]) {
      const kv = c.client(index);
      const key = `q:one-down:${index}`;
      expect(await kv.set(key, { index })).to.equal(true);
      expect(await kv.get(key)).to.deep.equal({ index });
      expect(await kv.has(key)).to.equal(true);
      expect(await kv.get('q:3')).to.equal(3);
      expect(await kv.pop(`q:${10 + index}`)).to.equal(10 + index);
      expect(await kv.has(`q:${10 + index}`)).to.equal(false);
      expected.set(key, { index });
      expected.set(`q:${10 + index}`, null);
    }
    for (const index of [0, 1]) expect(await c.client(index).listKeys()).to.deep.equal(liveKeys(expected));

    await c.signal(1, 'SIGSTOP');
    const kv = c.connect(0);
    const attempts: ReadonlyArray<[string, () => Promise<unknown>]> = [
      ['set', () => kv.set('q:two-down', 1)],
      ['get', () => kv.get('q:3')],
      ['has', () => kv.has('q:3')],
      ['pop', () => kv.pop('q:4')],
    ];
    const started = Date.now();
    const outcomes = await Promise.all(
      attempts.map(async ([operation, attempt]) => {
        const error = await failure(attempt);
        return { operation, error, elapsed: Date.now() - started };
      }),
    );
    for (const { operation, error, elapsed } of outcomes) {
      expect(error, `${operation}: ${String(error)}`).to.be.instanceOf(QuorumNotReachedError);
      expect(elapsed, `${operation} failed after (ms)`).to.be.at.most(SERVER_TIMEOUT_MS + MARGIN_MS);
      const data = (error as QuorumNotReachedError).data as QuorumFailure;
      expect(data.operation).to.equal(operation);
      expect(data.required).to.equal(2);
      expect(data.acked).to.equal(1);
      expect(new Set(data.replicas)).to.deep.equal(new Set(c.addresses));
      if (operation === 'set') expect(data.replicas).to.deep.equal(replicas);
      const failed = new Set(data.failed.map((entry) => entry.replica));
      expect(data.timedOut || failed.size === 2, JSON.stringify(data)).to.equal(true);
    }

    expect(await kv.set('q:one', 'still', { consistency: 'one' })).to.equal(true);
    expect(await kv.get('q:one', undefined, { consistency: 'one' })).to.equal('still');
    expect(await kv.get('q:3', undefined, { consistency: 'one' })).to.equal(3);
  });

  it('sees a SIGSTOPped node down, routes around it, sees it back after SIGCONT and hands it what it missed', async () => {
    const c = await start({ size: 3, replicas: 3 });
    const all = [c.client(0), c.client(1), c.client(2)];
    const frozen = c.node(2).address;
    const expected: Expected = new Map();
    for (let i = 0; i < 100; i++) expected.set(`f:${i}`, { i, round: 1 });
    await setAll(all, expected);
    await waitForTotalKeys(all, 3 * liveKeys(expected).length, { timeoutMs: 10_000 });

    const frozenAt = Date.now();
    await c.signal(2, 'SIGSTOP');
    const survivors = [c.connect(0), c.connect(1)];
    const detectedMs = await waitForStatus(survivors, frozen, notAlive, {
      since: frozenAt,
      timeoutMs: 5_000,
      what: 'a non-alive status',
    });
    expect(detectedMs).to.be.at.most(5_000);
    await waitForStatus(survivors, frozen, (status) => status === 'dead', {
      timeoutMs: 10_000,
      what: 'status dead',
    });

    const missed: Expected = new Map();
    for (let i = 0; i < 100; i++) missed.set(`f:new:${i}`, { i, round: 2 });
    for (let i = 0; i < 100; i += 2) missed.set(`f:${i}`, { i, round: 2 });
    for (let i = 1; i < 100; i += 10) missed.set(`f:${i}`, null);
    await setAll(survivors, missed);
    for (const [key, value] of missed) expected.set(key, value);
    expectNoMismatch(await mismatches(survivors, missed));
    for (const kv of survivors) expect(await kv.has('f:new:1')).to.equal(true);
    for (const keys of await Promise.all(survivors.map((kv) => kv.listKeys()))) {
      expect(keys).to.deep.equal(liveKeys(expected));
    }
    await waitFor('a hint for every write the frozen node missed', async () => {
      return (await totalHints(survivors)) === missed.size;
    });

    const resumedAt = Date.now();
    await c.signal(2, 'SIGCONT');
    const backMs = await waitForStatus(all, frozen, alive, {
      since: resumedAt,
      timeoutMs: 5_000,
      what: 'status alive',
    });
    expect(backMs).to.be.at.most(5_000);
    await waitForTotalKeys(all, 3 * liveKeys(expected).length, { timeoutMs: 30_000 });
    await waitFor('every hint to be delivered', async () => (await totalHints(survivors)) === 0);
    expectNoMismatch(await mismatches(all, expected));
  });

  it('sees a SIGSTOPped node down within 5 s even while writes to it are in flight', async () => {
    const c = await start({ size: 3, replicas: 3 });
    const survivors = [c.connect(0), c.connect(1)];
    const frozenAt = Date.now();
    await c.signal(2, 'SIGSTOP');
    const writes: Expected = new Map();
    for (let i = 0; i < 200; i++) writes.set(`busy:${i}`, i);
    await setAll(survivors, writes);
    const detectedMs = await waitForStatus(survivors, c.node(2).address, notAlive, {
      since: frozenAt,
      timeoutMs: 5_000,
      what: 'a non-alive status',
    });
    expect(detectedMs).to.be.at.most(5_000);
  });

  it('a node stopped with SIGTERM exits 0 promptly and the others see it down within 2 s', async () => {
    const c = await start({ size: 3, replicas: 3 });
    await c.client(0).set('t', 1);
    const leaving = c.node(2).address;
    const others = [c.client(0), c.client(1)];
    for (const kv of others) expect(await statusOn(kv, leaving)).to.equal('alive');

    const started = Date.now();
    await c.signal(2, 'SIGTERM');
    const exitedMs = Date.now() - started;
    expect((await c.exited(2)).code).to.equal(0);
    expect(exitedMs, 'exit after SIGTERM (ms)').to.be.at.most(2_000);
    const seenMs = await waitForStatus(others, leaving, notAlive, {
      since: started,
      timeoutMs: 2_000,
      what: 'a non-alive status',
    });
    expect(seenMs).to.be.at.most(2_000);
    expect(await c.client(1).get('t')).to.equal(1);
  });

  it('a node stopped with SIGTERM while clients keep sending it requests still exits 0 promptly', async () => {
    const c = await start({ size: 3, replicas: 3 });
    const kv = c.connect(2);
    let stopping = false;
    let sent = 0;
    const loop = async () => {
      while (!stopping && sent < 100_000) {
        sent += 1;
        await kv.set(`busy:${sent}`, sent).catch(() => undefined);
      }
    };
    const loops = Array.from({ length: 4 }, loop);
    try {
      await waitFor('requests to flow', () => sent >= 100);
      const started = Date.now();
      await c.signal(2, 'SIGTERM');
      const exit = await c.exited(2);
      expect({ code: exit.code, promptly: Date.now() - started <= 2_000 }).to.deep.equal({
        code: 0,
        promptly: true,
      });
    } finally {
      stopping = true;
      await Promise.all(loops);
    }
  });
});
