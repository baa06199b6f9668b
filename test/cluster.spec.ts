import { ConnectionError, InvalidParamsError, KVClient } from '@kvdb/client';
import { defined } from '@kvdb/core/testing';
import { freePorts } from '@kvdb/server';
import { expect } from 'chai';
import { TestCluster } from './helpers/cluster.js';
import { type RpcReply, rawPost, rpc, single } from './helpers/raw.js';
import { waitFor } from './helpers/wait.js';

describe('a 3-node cluster of real processes (R=3)', function () {
  this.timeout(30_000);
  let cluster: TestCluster;

  before(async () => {
    cluster = await TestCluster.start({ size: 3, replicas: 3 });
  });

  after(async () => {
    await cluster?.stop();
  });

  it('answers ping on every node', async () => {
    for (let i = 0; i < 3; i++) expect(await cluster.client(i).ping()).to.equal('pong');
  });

  it('reads through every node what was written through any node', async () => {
    const values = [null, 0, -1.5, 'text', true, [1, 'two', null], { nested: { deep: [1, { x: 'y' }] } }];
    for (let writer = 0; writer < 3; writer++) {
      for (const [index, value] of values.entries()) {
        const key = `w${writer}-v${index}`;
        expect(await cluster.client(writer).set(key, value)).to.equal(true);
        for (let reader = 0; reader < 3; reader++) {
          expect(await cluster.client(reader).get(key), `${key} via node ${reader}`).to.deep.equal(value);
          expect(await cluster.client(reader).has(key)).to.equal(true);
        }
      }
    }
  });

  it('returns the default, else null, for a missing key', async () => {
    for (let i = 0; i < 3; i++) {
      expect(await cluster.client(i).get('never-written')).to.equal(null);
      expect(await cluster.client(i).get('never-written', 'fallback')).to.equal('fallback');
      expect(await cluster.client(i).has('never-written')).to.equal(false);
    }
  });

  it('pops through any node: returns the value once, then the default everywhere', async () => {
    await cluster.client(0).set('to-pop', { n: 1 });
    expect(await cluster.client(1).pop('to-pop')).to.deep.equal({ n: 1 });
    for (let i = 0; i < 3; i++) {
      expect(await cluster.client(i).get('to-pop')).to.equal(null);
      expect(await cluster.client(i).has('to-pop')).to.equal(false);
      expect(await cluster.client(i).pop('to-pop', 'gone')).to.equal('gone');
    }
  });

  it('treats prototype names as plain keys', async () => {
    for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      await cluster.client(0).set(key, `value of ${key}`);
      expect(await cluster.client(2).get(key)).to.equal(`value of ${key}`);
    }
    expect(await cluster.client(1).listKeys()).to.include.members(['__proto__', 'constructor']);
  });

  it('lists every live key, sorted and without duplicates, from every node', async () => {
    await cluster.client(0).set('list:b', 1);
    await cluster.client(1).set('list:a', 2);
    await cluster.client(2).set('list:c', 3);
    await cluster.client(0).set('list:gone', 4);
    await cluster.client(1).pop('list:gone');
    const lists = await Promise.all([0, 1, 2].map((i) => cluster.client(i).listKeys()));
    for (const keys of lists) {
      expect(keys).to.deep.equal(lists[0]);
      expect(keys).to.deep.equal([...new Set(keys)].sort());
      expect(keys).to.include.members(['list:a', 'list:b', 'list:c']);
      expect(keys).not.to.include('list:gone');
    }
  });

  it('locates a key on the same replicas from every node, primary first', async () => {
    for (const key of ['a', 'user:42', '__proto__', 'ключ']) {
      const answers = await Promise.all([0, 1, 2].map((i) => cluster.client(i).locate(key)));
      expect(answers[0]).to.have.length(3);
      expect(new Set(answers[0])).to.deep.equal(new Set(cluster.addresses));
      for (const answer of answers) expect(answer).to.deep.equal(answers[0]);
    }
  });

  it('lists every member as alive', async () => {
    for (let i = 0; i < 3; i++) {
      const members = await cluster.client(i).listMembers();
      expect(members).to.deep.equal(
        [...cluster.addresses].sort().map((address) => ({ address, status: 'alive', phase: 'normal' })),
      );
    }
  });

  it('stores each key on every replica: stats.keys sums to R x live keys', async () => {
    const live = (await cluster.client(0).listKeys()).length;
    await waitFor('every replica to hold every key', async () => {
      const stats = await Promise.all([0, 1, 2].map((i) => cluster.client(i).stats()));
      return stats.reduce((sum, s) => sum + s.keys, 0) === 3 * live;
    });
    const stats = await cluster.client(1).stats();
    expect(stats.address).to.equal(cluster.addresses[1]);
    expect(stats.replicas).to.equal(3);
    expect(stats.memory?.rss).to.be.above(stats.memory?.heapUsed ?? Number.POSITIVE_INFINITY);
    expect(stats.memory?.heapUsed).to.be.above(1_000_000);
    expect(Object.keys(stats.antiEntropy ?? {})).to.have.members([
      'rounds',
      'inSync',
      'settled',
      'segmentsRepaired',
      'keysPulled',
      'keysPushed',
      'scanMs',
    ]);
  });

  it('accepts positional and named params, per-request consistency, and batches', async () => {
    const port = cluster.node(0).port;
    expect((await rpc(port, 'set', ['pos', 'itional'])).result).to.equal(true);
    expect((await rpc(port, 'get', { key: 'pos', consistency: 'all' })).result).to.equal('itional');
    expect((await rpc(port, 'get', ['missing', 7, 'one'])).result).to.equal(7);
    expect((await rpc(port, 'has', ['pos', 'quorum'])).result).to.equal(true);
    const batch = await rawPost(
      port,
      JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'set', params: ['batch', 1] },
        { jsonrpc: '2.0', id: 2, method: 'nope' },
        { jsonrpc: '2.0', id: 3, method: 'ping' },
      ]),
    );
    const replies = batch.json as RpcReply[];
    expect(replies.find((r) => r.id === 1)?.result).to.equal(true);
    expect(replies.find((r) => r.id === 2)?.error?.code).to.equal(-32601);
    expect(replies.find((r) => r.id === 3)?.result).to.equal('pong');
  });

  describe('bad input: a clear JSON-RPC error, nothing stored, the node stays up', () => {
    const port = () => cluster.node(0).port;

    it('-32700 for unparsable JSON', async () => {
      const reply = await rawPost(port(), '{"jsonrpc": "2.0", "method": ');
      expect(single(reply).error?.code).to.equal(-32700);
    });

    it('-32600 for a request that is not JSON-RPC', async () => {
      const bodies = [
        '{"foo": 1}',
        '42',
        '"text"',
        '[]',
        '{"jsonrpc": "2.0", "method": 5, "id": 1}',
        '{"jsonrpc": "2.0", "method": "set", "params": "not structured", "id": 1}',
      ];
      for (const body of bodies) {
        const reply = await rawPost(port(), body);
        const first = Array.isArray(reply.json) ? reply.json[0] : reply.json;
        expect(first?.error?.code, body).to.equal(-32600);
      }
    });

    it('-32601 for an unknown method', async () => {
      expect((await rpc(port(), 'drop_database', {})).error?.code).to.equal(-32601);
    });

    it('-32602 for a missing, empty or non-string key, a missing value, or params of the wrong shape', async () => {
      const cases: Array<[string, unknown]> = [
        ['get', {}],
        ['get', { key: '' }],
        ['get', { key: 42 }],
        ['get', { key: null }],
        ['get', [['a']]],
        ['set', { key: 'bad-1' }],
        ['set', ['bad-2']],
        ['set', { key: 'bad-3', value: 1, extra: true }],
        ['set', ['bad-4', 1, 'one', 'four']],
        ['set', { key: 'bad-5', value: 1, consistency: 'most' }],
        ['pop', { key: {} }],
        ['locate', {}],
      ];
      for (const [method, params] of cases) {
        const reply = await rpc(port(), method, params);
        expect(reply.error?.code, `${method} ${JSON.stringify(params)}`).to.equal(-32602);
        expect(reply.error?.message).to.be.a('string').and.not.equal('');
      }
      const keys = await cluster.client(1).listKeys();
      expect(keys.filter((key) => key.startsWith('bad-'))).to.deep.equal([]);
    });

    it('refuses a body over the limit without reading it all, and keeps serving', async () => {
      const huge = Buffer.alloc(9 * 1024 * 1024, 0x20);
      const reply = await rawPost(port(), huge);
      expect(reply.status).to.equal(413);
      expect(single(reply).error?.code).to.equal(1005);
      expect(await cluster.client(0).ping()).to.equal('pong');
    });

    it('answers 405 to methods other than POST (and GET, the cluster page) and 415 to other content types', async () => {
      expect((await rawPost(port(), '', {}, 'PUT')).status).to.equal(405);
      const page = await rawPost(port(), '', {}, 'GET');
      expect(page.status).to.equal(200);
      expect(page.body).to.include('<svg id="ring"');
      const form = await rawPost(port(), 'a=b', { 'content-type': 'application/x-www-form-urlencoded' });
      expect(form.status).to.equal(415);
      expect(single(form).error?.code).to.equal(-32600);
    });
  });

  describe('KVClient errors', () => {
    it('raises InvalidParamsError with its code for invalid params', async () => {
      const error = await cluster
        .client(0)
        .get('')
        .catch((e: unknown) => e);
      expect(error).to.be.instanceOf(InvalidParamsError);
      expect((error as InvalidParamsError).code).to.equal(-32602);
    });

    it('raises ConnectionError for a server that is not there', async () => {
      const [port] = await freePorts(1);
      const client = new KVClient({ port: defined(port, 'a free port'), timeoutMs: 2_000 });
      try {
        const error = await client.ping().catch((e: unknown) => e);
        expect(error).to.be.instanceOf(ConnectionError);
        expect((error as ConnectionError).message).to.contain('connection refused');
      } finally {
        await client.close();
      }
    });
  });
});
