import { connect } from 'node:net';
import { seededRandom } from '@kvdb/coordinator';
import { defined } from '@kvdb/core/testing';
import { expect } from 'chai';
import { TestCluster } from './helpers/cluster.js';
import { type RpcReply, rawPost, single } from './helpers/raw.js';

const SEED = 20261121;
const METHODS = ['get', 'set', 'has', 'pop', 'locate', 'list_keys', 'list_members', 'stats', 'ping', 'leave'];
const NAMES = [
  'key',
  'value',
  'default',
  'consistency',
  'address',
  '__proto__',
  'constructor',
  'prototype',
  'x',
];

function hostileValue(random: () => number, depth = 0): unknown {
  const pick = Math.floor(random() * 14);
  switch (pick) {
    case 0:
      return null;
    case 1:
      return random() < 0.5;
    case 2:
      return (random() - 0.5) * 10 ** Math.floor(random() * 20);
    case 3:
      return '';
    case 4:
      return 'k'.repeat(1 + Math.floor(random() * 3_000));
    case 5:
      return ['__proto__', 'constructor', 'toString', 'hasOwnProperty'][Math.floor(random() * 4)];
    case 6:
      return '\u0000\uFFFF\uD800';
    case 7:
      return ['one', 'quorum', 'all', 'ONE', 'most', 42][Math.floor(random() * 6)];
    case 8:
      return depth > 2 ? [] : [hostileValue(random, depth + 1), hostileValue(random, depth + 1)];
    case 9:
      return depth > 2
        ? {}
        : JSON.parse(`{"__proto__": ${JSON.stringify(hostileValue(random, depth + 1) ?? null)}}`);
    case 10:
      return nested(150 + Math.floor(random() * 1_000));
    case 11:
      return 'v'.repeat(1_100_000);
    case 12:
      return `127.0.0.1:${Math.floor(random() * 70_000)}`;
    default:
      return { key: hostileValue(random, depth + 1) };
  }
}

/** One of `items`, chosen by `random`. */
function pick<T>(random: () => number, items: readonly T[]): T {
  return defined(items[Math.floor(random() * items.length)]);
}

function nested(depth: number): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

function hostileParams(random: () => number): unknown {
  const shape = Math.floor(random() * 4);
  if (shape === 0) return Array.from({ length: Math.floor(random() * 5) }, () => hostileValue(random));
  if (shape === 1) return hostileValue(random);
  const params: Record<string, unknown> = {};
  for (let i = Math.floor(random() * 4); i > 0; i--) {
    params[pick(random, NAMES)] = hostileValue(random);
  }
  return JSON.parse(JSON.stringify(params));
}

/** Writes raw bytes on a socket and collects whatever comes back until the node closes it or `ms` pass. */
function rawSocket(port: number, chunks: Array<string | Buffer>, ms: number): Promise<string> {
  return new Promise((resolve) => {
    let received = '';
    const socket = connect(port, '127.0.0.1', () => {
      for (const chunk of chunks) socket.write(chunk);
    });
    socket.on('data', (data) => {
      received += data.toString();
    });
    const done = () => resolve(received);
    socket.on('close', done);
    socket.on('error', done);
    setTimeout(() => {
      socket.destroy();
      done();
    }, ms).unref();
  });
}

describe('a node under hostile input', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let before: { keys: string[]; stats: number[] };
  const port = () => cluster.node(0).port;
  const snapshot = async () => ({
    keys: await cluster.client(1).listKeys(),
    stats: await Promise.all([0, 1].map(async (i) => (await cluster.client(i).stats()).keys)),
  });

  beforeEach(async () => {
    cluster = await TestCluster.start({ size: 2, replicas: 2 });
    await cluster.client(0).set('existing', { kept: true });
    await cluster.client(1).set('__proto__', 'a plain key');
    before = await snapshot();
  });

  afterEach(async () => {
    if (cluster !== undefined) {
      expect(await cluster.client(0).ping(), 'the node is still up').to.equal('pong');
      expect(await snapshot(), 'nothing was stored or removed').to.deep.equal(before);
      expect(await cluster.client(1).get('existing')).to.deep.equal({ kept: true });
    }
    await cluster?.stop();
  });

  it(`answers 600 random hostile calls with clear errors and stores nothing (seed ${SEED})`, async () => {
    const random = seededRandom(SEED);
    let errors = 0;
    for (let i = 0; i < 600; i++) {
      const method = pick(random, METHODS);
      const params = hostileParams(random);
      if (['set', 'pop', 'leave'].includes(method) && isValidWrite(method, params)) continue;
      const reply = single(await rawPost(port(), JSON.stringify({ jsonrpc: '2.0', id: i, method, params })));
      if (reply.error !== undefined) {
        errors += 1;
        expect(reply.error.code, JSON.stringify({ method, params }).slice(0, 200)).to.be.a('number');
        expect(reply.error.message).to.be.a('string').and.not.equal('');
        expect(reply.error.message).not.to.match(/\n\s+at /, 'no stack traces');
      }
    }
    expect(errors).to.be.greaterThan(300);
  });

  it('refuses too-large keys and values, and too-deep values, with their limits named', async () => {
    const cases: Array<[unknown, number, RegExp]> = [
      [{ key: 'k'.repeat(1_025), value: 1 }, 1005, /1024/],
      [{ key: 'k', value: 'v'.repeat(1_048_577) }, 1005, /1048576/],
      [{ key: 'k', value: nested(101) }, -32602, /100 levels/],
    ];
    for (const [params, code, message] of cases) {
      const reply = single(
        await rawPost(port(), JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'set', params })),
      );
      expect(reply.error?.code).to.equal(code);
      expect(reply.error?.message).to.match(message);
    }
    const deep = `${'['.repeat(100_000)}1${']'.repeat(100_000)}`;
    const body = `{"jsonrpc":"2.0","id":2,"method":"set","params":{"key":"deep","value":${deep}}}`;
    const reply = single(await rawPost(port(), body));
    expect(reply.error?.code).to.be.oneOf([-32700, -32602]);
  });

  it('refuses invalid UTF-8 as a parse error', async () => {
    const body = Buffer.concat([
      Buffer.from('{"jsonrpc":"2.0","id":1,"method":"set","params":["bad-'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('",1]}'),
    ]);
    const reply = single(await rawPost(port(), body));
    expect(reply.error?.code).to.equal(-32700);
    expect(reply.error?.message).to.contain('UTF-8');
  });

  it('refuses a batch over the limit, and runs a batch of 1,000 mixed valid and invalid calls', async () => {
    const call = (id: number) => ({
      jsonrpc: '2.0',
      id,
      method: 'get',
      params: id % 2 ? ['existing'] : [42],
    });
    const tooMany = single(
      await rawPost(port(), JSON.stringify(Array.from({ length: 5_000 }, (_, i) => call(i)))),
    );
    expect(tooMany.error?.code).to.equal(-32600);
    expect(tooMany.error?.message).to.contain('--max-batch');
    const batch = await rawPost(port(), JSON.stringify(Array.from({ length: 1_000 }, (_, i) => call(i))));
    const replies = batch.json as RpcReply[];
    expect(replies).to.have.length(1_000);
    expect(replies.filter((reply) => reply.error?.code === -32602)).to.have.length(500);
  });

  it('survives malformed HTTP: truncated bodies, wrong content types, garbage, a slow sender', async () => {
    const truncated = await rawSocket(
      port(),
      [
        'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"jsonrpc":"2.0","id":1,"method":"set","params":["truncated",1',
      ],
      300,
    );
    expect(truncated).to.equal('');
    const garbage = await rawSocket(port(), ['\u0000\u0001 NOT HTTP AT ALL\r\n\r\n'], 1_000);
    expect(garbage).to.match(/^HTTP\/1\.1 400/);
    const form = await rawPost(port(), 'key=a&value=1', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(form.status).to.equal(415);
    const xml = await rawPost(port(), '<set/>', { 'content-type': 'text/xml' });
    expect(xml.status).to.equal(415);

    const slow = rawSocket(
      port(),
      [
        'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n{"jsonrpc"',
      ],
      2_000,
    );
    expect(await cluster.client(0).get('existing'), 'other requests are served meanwhile').to.deep.equal({
      kept: true,
    });
    await slow;
  });
});

/** Random params that happen to form a valid write would change data; the fuzz run skips those. */
function isValidWrite(method: string, params: unknown): boolean {
  if (method === 'leave') return params === undefined || (typeof params === 'object' && params !== null);
  const key = Array.isArray(params) ? params[0] : (params as Record<string, unknown> | null)?.key;
  return typeof key === 'string' && key.length > 0;
}
