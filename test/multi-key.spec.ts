import {
  InvalidParamsError,
  type JsonValue,
  type MultiKeyFailure,
  QuorumNotReachedError,
  TooLargeError,
} from '@kvdb/core';
import { expect } from 'chai';
import { TestCluster } from './helpers/cluster.js';
import { runKvdb } from './helpers/run-kvdb.js';

/** The error a call rejects with; fails if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    const value = await promise;
    expect.fail(`expected a rejection, got ${JSON.stringify(value)}`);
  } catch (error) {
    return error as Error;
  }
}

describe('mget and mset on a 3-node cluster of real processes', function () {
  this.timeout(60_000);
  let cluster: TestCluster;

  before(async () => {
    cluster = await TestCluster.start({ size: 3, replicas: 3 });
  });

  after(async () => {
    await cluster?.stop();
  });

  it('writes 500 keys through node 0 and reads them back through node 2, in order', async () => {
    const entries = Array.from({ length: 500 }, (_, i): [string, JsonValue] => [
      `bulk:${i}`,
      i % 3 === 0 ? { i, tags: ['a', i] } : i % 3 === 1 ? `value ${i}` : i,
    ]);
    expect(await cluster.client(0).mset(entries)).to.equal(true);
    const keys = entries.map(([key]) => key).reverse();
    const values = await cluster.client(2).mget([...keys, 'bulk:missing']);
    expect(values).to.deep.equal([...entries.map(([, value]) => value).reverse(), null]);
    // Each key was written as `set` writes it: at quorum, so reading one at `all` finds it on every replica.
    expect(await cluster.client(1).get('bulk:7', null, { consistency: 'all' })).to.equal('value 7');
  });

  it('takes a Map, and refuses duplicate keys and calls over --max-batch with their error classes', async () => {
    const kv = cluster.client(1);
    expect(
      await kv.mset(
        new Map<string, JsonValue>([
          ['map:a', 1],
          ['map:b', null],
        ]),
        { consistency: 'all' },
      ),
    ).to.equal(true);
    expect(await kv.mget(['map:b', 'map:a'], { consistency: 'one' })).to.deep.equal([null, 1]);

    const duplicate = await rejection(
      kv.mset([
        ['dup:a', 1],
        ['dup:a', 2],
      ]),
    );
    expect(duplicate).to.be.instanceOf(InvalidParamsError);
    expect(duplicate.message).to.contain('entries 0 and 1 both set "dup:a"');
    const tooMany = await rejection(kv.mget(Array.from({ length: 1_001 }, (_, i) => `k${i}`)));
    expect(tooMany).to.be.instanceOf(TooLargeError);
    expect(tooMany.message).to.contain('--max-batch');
    expect(await kv.mget(['dup:a'])).to.deep.equal([null]);
  });

  it('runs mget and mset in the kvdb shell', async () => {
    const port = String(cluster.node(2).port);
    const run = await runKvdb(
      ['-P', port],
      'mset shell:a 1 shell:b "two words"\nmget shell:b shell:none shell:a\n',
    );
    expect(run.code).to.equal(0);
    expect(run.stdout.split('\n').slice(0, 4)).to.deep.equal(['OK', '1) "two words"', '2) null', '3) 1']);
    const words = await runKvdb(['-P', port, 'mget', 'shell:a', 'shell:b']);
    expect(words.stdout.trimEnd()).to.equal('1) 1\n2) "two words"');
  });

  it('with a node down, writes at quorum, and at all names every key that failed', async () => {
    await cluster.signal(1, 'SIGKILL');
    const entries = Array.from({ length: 20 }, (_, i): [string, JsonValue] => [`down:${i}`, i]);
    expect(await cluster.client(0).mset(entries)).to.equal(true);
    const error = await rejection(cluster.client(0).mset(entries, { consistency: 'all' }));
    expect(error).to.be.instanceOf(QuorumNotReachedError);
    const data = (error as QuorumNotReachedError).data as MultiKeyFailure;
    expect(data.operation).to.equal('mset');
    expect(data.failedKeys.map(({ key }) => key)).to.deep.equal(entries.map(([key]) => key));
    expect(await cluster.client(2).mget(entries.map(([key]) => key))).to.deep.equal(
      entries.map(([, value]) => value),
    );
  });
});
