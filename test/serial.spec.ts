import { InvalidParamsError } from '@kvdb/client';
import { expect } from 'chai';
import { TestCluster } from './helpers/cluster.js';
import { rpc } from './helpers/raw.js';

describe('serial operations on real processes (3 nodes, R=3)', function () {
  this.timeout(120_000);
  let cluster: TestCluster;

  before(async () => {
    cluster = await TestCluster.start({ size: 3, replicas: 3 });
  });

  after(async () => {
    await cluster?.stop();
  });

  it('gives each of 300 fresh keys exactly one winner among 3 clients racing cas, and among racing ifAbsent sets', async () => {
    for (const [prefix, race] of [
      [
        'cas',
        (i: number, key: string) =>
          cluster
            .client(i)
            .cas(key, i)
            .then((result) => result.swapped),
      ],
      ['nx', (i: number, key: string) => cluster.client(i).set(key, i, { ifAbsent: true })],
    ] as const) {
      const keys = Array.from({ length: 300 }, (_, k) => `${prefix}:${k}`);
      const winners = await Promise.all(
        keys.map(
          async (key) => (await Promise.all([0, 1, 2].map((i) => race(i, key)))).filter(Boolean).length,
        ),
      );
      expect(
        winners.filter((count) => count !== 1),
        `${prefix}: keys without exactly one winner`,
      ).to.deep.equal([]);
      for (const key of keys.slice(0, 20)) {
        expect(await cluster.client(2).get(key, null, { consistency: 'serial' }), key).to.be.oneOf([0, 1, 2]);
      }
    }
  });

  it('stores nothing with ifPresent on a missing key, and answers every serial method over the wire', async () => {
    expect(await cluster.client(0).set('xx', 1, { ifPresent: true })).to.equal(false);
    expect(await cluster.client(1).has('xx', { consistency: 'serial' })).to.equal(false);
    const port = cluster.node(1).port;
    expect((await rpc(port, 'cas', ['pos', { a: 1 }])).result).to.deep.equal({
      swapped: true,
      exists: false,
      current: { a: 1 },
    });
    expect((await rpc(port, 'cas', { key: 'pos', value: 2, expected: { a: 1 } })).result).to.deep.equal({
      swapped: true,
      exists: true,
      current: 2,
    });
    expect((await rpc(port, 'pop', { key: 'pos', consistency: 'serial' })).result).to.equal(2);
    expect((await rpc(port, 'get', { key: 'pos', consistency: 'serial' })).result).to.equal(null);
  });

  it('refuses conflicting conditions and a non-serial conditional set with -32602, storing nothing', async () => {
    for (const params of [
      { key: 'bad', value: 1, ifAbsent: true, ifPresent: true },
      { key: 'bad', value: 1, ifAbsent: true, consistency: 'quorum' },
      { key: 'bad', value: 1, ifAbsent: 'yes' },
      { key: 'bad', value: 1, consistency: 'linearizable' },
    ]) {
      const reply = await rpc(cluster.node(0).port, 'set', params);
      expect(reply.error?.code, JSON.stringify(params)).to.equal(-32602);
    }
    for (const params of [
      { key: 'bad' },
      { value: 1 },
      ['bad', 1, 2, 3, 4],
      { key: 'bad', value: 1, ttl: -1 },
    ]) {
      const reply = await rpc(cluster.node(0).port, 'cas', params);
      expect(reply.error?.code, JSON.stringify(params)).to.equal(-32602);
    }
    const error = await cluster
      .client(0)
      .set('bad', 1, { ifAbsent: true, consistency: 'one' })
      .catch((caught: unknown) => caught);
    expect(error).to.be.instanceOf(InvalidParamsError);
    expect(await cluster.client(2).get('bad')).to.equal(null);
  });

  it('keeps serving serial operations with one node down', async () => {
    await cluster.client(0).set('down', 0, { consistency: 'serial' });
    await cluster.signal(2, 'SIGKILL');
    for (let i = 1; i <= 5; i++) {
      const result = await cluster.client(i % 2).cas('down', i, { expected: i - 1 });
      expect(result.swapped, `swap ${i}`).to.equal(true);
    }
    expect(await cluster.client(1).get('down', null, { consistency: 'serial' })).to.equal(5);
  });
});
