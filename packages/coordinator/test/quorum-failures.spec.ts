import { type QuorumFailure, QuorumNotReachedError } from '@kvdb/core';
import { expect } from 'chai';
import { createSimCluster, type SimCluster } from './utils/sim-cluster.js';
import { text } from './utils/values.js';

const timeoutMs = 1_000;
/** Fake time a failing request may take past its timeout: the executor's grace for late answers, and a step. */
const marginMs = 100;
const keys = Array.from({ length: 20 }, (_, i) => `key:${i}`);

/** Runs a request on fake time to its end; resolves with how it ended and the fake ms it took. */
async function timed<T>(
  cluster: SimCluster,
  request: Promise<T>,
): Promise<{ ok: true; value: T; ms: number } | { ok: false; error: unknown; ms: number }> {
  const start = cluster.now();
  try {
    const value = await cluster.settle(request, 10 * timeoutMs, 10);
    return { ok: true, value, ms: cluster.now() - start };
  } catch (error) {
    return { ok: false, error, ms: cluster.now() - start };
  }
}

/**
 * Runs requests started together on fake time; expects each to fail with QuorumNotReachedError within timeoutMs
 * (+ margin) of fake time, and returns their data in order.
 */
async function quorumFailures(
  cluster: SimCluster,
  requests: Array<Promise<unknown>>,
): Promise<QuorumFailure[]> {
  const start = cluster.now();
  const ends = requests.map((request) =>
    request.then(
      (value) => ({ ok: true as const, value, ms: cluster.now() - start }),
      (error: unknown) => ({ ok: false as const, error, ms: cluster.now() - start }),
    ),
  );
  const outcomes = await cluster.settle(Promise.all(ends), 10 * timeoutMs, 10);
  return outcomes.map((outcome) => {
    expect(outcome.ok, 'the request should fail').to.equal(false);
    if (outcome.ok) throw new Error('unreachable');
    expect(outcome.ms, 'settles within the request timeout').to.be.at.most(timeoutMs + marginMs);
    expect(outcome.error).to.be.instanceOf(QuorumNotReachedError);
    return (outcome.error as QuorumNotReachedError).data as QuorumFailure;
  });
}

/** Expects the request to succeed without waiting for a down replica's timeout; returns its value. */
async function quick<T>(cluster: SimCluster, request: Promise<T>): Promise<T> {
  const outcome = await timed(cluster, request);
  if (!outcome.ok) throw outcome.error;
  expect(outcome.ms, 'answered by the live replicas, without waiting for the timeout').to.be.below(timeoutMs);
  return outcome.value;
}

// Quorum requests on ClusterNodes (N = 3, R = 3, W = R = 2) with replicas killed, before and after the failure
// detector has marked them dead: calls to a `hang`ing node time out, calls to a dead one are not even made.
describe('Quorum requests on a simulated cluster with nodes down', () => {
  let cluster: SimCluster;

  beforeEach(async () => {
    cluster = await createSimCluster({ n: 3, seed: 21, timeoutMs });
    for (const key of keys) await cluster.settle(cluster.node(0).coordinator.set(key, text(`v:${key}`)));
    await cluster.tick(1_000);
    for (const key of keys) expect(await cluster.liveCopies(key), key).to.equal(3);
  });

  afterEach(async () => {
    await cluster?.teardown();
  });

  for (const mode of ['refuse', 'hang'] as const) {
    for (const phase of ['at once', 'once the detector marks it dead'] as const) {
      describe(`one of three down (${mode}), ${phase}`, () => {
        beforeEach(async () => {
          await cluster.kill(2, mode);
          if (phase !== 'at once') {
            await cluster.until(() => cluster.seenAs(cluster.address(2), 'dead'), {
              withinMs: 5_000,
              what: 'the killed node dead',
            });
          }
        });

        it('gets, sets, has and pops at quorum through either live node', async () => {
          for (const i of [0, 1]) {
            const node = cluster.node(i).coordinator;
            expect(await quick(cluster, node.get('key:1')), `node ${i}`).to.equal(text('v:key:1'));
            expect(await quick(cluster, node.has('key:2')), `node ${i}`).to.equal(true);
            expect(await quick(cluster, node.set(`during:${i}`, text(i))), `node ${i}`).to.equal(true);
          }
          const [a, b] = [cluster.node(0).coordinator, cluster.node(1).coordinator];
          expect(await quick(cluster, b.get('during:0'))).to.equal(text(0));
          expect(await quick(cluster, a.get('during:1'))).to.equal(text(1));
          expect(await quick(cluster, b.pop('key:3'))).to.equal(text('v:key:3'));
          expect(await quick(cluster, a.has('key:3'))).to.equal(false);
          expect(await quick(cluster, a.get('key:3', { default: text('gone') }))).to.equal(text('gone'));
          expect(await quick(cluster, a.pop('key:3', { default: text('nothing') }))).to.equal(
            text('nothing'),
          );
        });

        it('lists every live key from either live node', async () => {
          const a = cluster.node(0).coordinator;
          await quick(cluster, a.set('during', text(1)));
          await quick(cluster, a.pop('key:0'));
          const expected = [...keys.filter((key) => key !== 'key:0'), 'during'].sort();
          for (const i of [0, 1]) {
            const outcome = await timed(cluster, cluster.node(i).coordinator.listAllKeys());
            if (!outcome.ok) throw outcome.error;
            expect(outcome.value, `node ${i}`).to.deep.equal(expected);
            expect(outcome.ms, 'within the request timeout').to.be.at.most(timeoutMs);
          }
        });
      });

      describe(`two of three down (${mode}), ${phase}`, () => {
        const timedOut = mode === 'hang' && phase === 'at once';

        beforeEach(async () => {
          await cluster.kill(1, mode);
          await cluster.kill(2, mode);
          if (phase !== 'at once') {
            await cluster.until(
              () =>
                cluster.statusOf(0, cluster.address(1)) === 'dead' &&
                cluster.statusOf(0, cluster.address(2)) === 'dead',
              { withinMs: 5_000, what: 'both killed nodes dead on the survivor' },
            );
          }
        });

        it('rejects quorum get, set, has and pop with QuorumNotReachedError (required 2, acked 1) in time', async () => {
          const node = cluster.node(0).coordinator;
          const down = [cluster.address(1), cluster.address(2)];
          const operations = ['get', 'set', 'has', 'pop'];
          const failures = await quorumFailures(cluster, [
            node.get('key:1'),
            node.set('new', text(1)),
            node.has('key:1'),
            node.pop('key:2'),
          ]);
          failures.forEach((data, index) => {
            const operation = operations[index];
            expect(data, operation).to.include({ operation, required: 2, acked: 1, timedOut });
            expect(data.replicas, operation).to.have.members(cluster.addresses);
            if (!timedOut)
              expect(
                data.failed.map(({ replica }) => replica),
                operation,
              ).to.have.members(down);
          });
          expect(await cluster.liveCopies('key:2'), 'the failed pop wrote no tombstone').to.equal(1);
        });

        it('still serves consistency one from the surviving replica', async () => {
          const node = cluster.node(0).coordinator;
          const one = { consistency: 'one' } as const;
          expect(await quick(cluster, node.get('key:1', one))).to.equal(text('v:key:1'));
          expect(await quick(cluster, node.set('new', text('one'), one))).to.equal(true);
          expect(await quick(cluster, node.get('new', one))).to.equal(text('one'));
          expect(await quick(cluster, node.has('new', one))).to.equal(true);
          expect(await quick(cluster, node.pop('key:4', one))).to.equal(text('v:key:4'));
          expect(await quick(cluster, node.has('key:4', one))).to.equal(false);
        });

        it('still lists keys: one member holds a replica of every key', async () => {
          const outcome = await timed(cluster, cluster.node(0).coordinator.listAllKeys());
          if (!outcome.ok) throw outcome.error;
          expect(outcome.value).to.deep.equal([...keys].sort());
          expect(outcome.ms).to.be.at.most(timeoutMs);
        });
      });
    }
  }
});
