import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import {
  type AddressInfo,
  createServer as createNetServer,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import { ConnectionError, TimeoutError } from '@kvdb/core';
import { defined } from '@kvdb/core/testing';
import { expect } from 'chai';
import { transportErrorKind } from '../src/errors-tally.js';
import {
  HttpConnection,
  type HttpResponse,
  MAX_BODY_BYTES,
  MAX_HEAD_BYTES,
  ResponseReader,
} from '../src/http-connection.js';
import { LoadGenerator, type LoadPlan } from '../src/load-generator.js';
import { type BenchOptions, resolveBenchOptions } from '../src/options.js';
import { warmupPlan, workerPlans } from '../src/plan.js';
import { startReferenceServer } from '../src/reference-server.js';

/** Feeds `text` to a fresh reader cut at `cuts`, and gives every response it read, the stream's end included. */
function readAll(text: string, cuts: number[] = []): HttpResponse[] {
  const reader = new ResponseReader();
  const bytes = Buffer.from(text, 'latin1');
  const responses: HttpResponse[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    responses.push(...reader.push(bytes.subarray(from, cut)));
    from = cut;
  }
  const last = reader.end();
  if (last !== undefined) responses.push(last);
  return responses;
}

function shapes(responses: HttpResponse[]): Array<{ status: number; body: string; close: boolean }> {
  return responses.map(({ status, body, close }) => ({ status, body: body.toString('latin1'), close }));
}

function badResponse(text: string): ConnectionError {
  try {
    readAll(text);
  } catch (error) {
    expect(error).to.be.instanceOf(ConnectionError);
    expect(transportErrorKind(error as Error)).to.equal('HTTP_BAD_RESPONSE');
    return error as ConnectionError;
  }
  expect.fail(`read ${JSON.stringify(text.slice(0, 40))} without an error`);
}

const OK = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{"result":1}';

describe('bench HTTP client: ResponseReader', () => {
  it('reads a response whatever the chunks it arrives in', () => {
    for (let cut = 0; cut <= OK.length; cut++) {
      expect(shapes(readAll(OK, [cut])), `cut at ${cut}`).to.deep.equal([
        { status: 200, body: '{"result":1}', close: false },
      ]);
    }
    const byteByByte = Array.from({ length: OK.length }, (_, index) => index);
    expect(shapes(readAll(OK, byteByByte))).to.have.length(1);
  });

  it('reads responses that arrive together, in order', () => {
    const second = 'HTTP/1.1 503 Busy\r\ncontent-length: 4\r\nconnection: close\r\n\r\nbusy';
    expect(shapes(readAll(OK + second))).to.deep.equal([
      { status: 200, body: '{"result":1}', close: false },
      { status: 503, body: 'busy', close: true },
    ]);
  });

  it('decodes a chunked body, with chunk extensions and trailers', () => {
    const text =
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '5;name=value\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nx-trailer: 1\r\n\r\n' +
      OK;
    const expected = [
      { status: 200, body: 'hello world', close: false },
      { status: 200, body: '{"result":1}', close: false },
    ];
    for (let cut = 0; cut <= text.length; cut++) {
      expect(shapes(readAll(text, [cut])), `cut at ${cut}`).to.deep.equal(expected);
    }
  });

  it('skips 1xx answers, and reads no body after 204 or 304', () => {
    const text =
      'HTTP/1.1 100 Continue\r\n\r\n' +
      'HTTP/1.1 204 No Content\r\n\r\n' +
      'HTTP/1.1 304 Not Modified\r\n\r\n' +
      OK;
    expect(shapes(readAll(text)).map(({ status, body }) => [status, body])).to.deep.equal([
      [204, ''],
      [304, ''],
      [200, '{"result":1}'],
    ]);
  });

  it('reads a body without a length up to the end of the stream', () => {
    const reader = new ResponseReader();
    expect(reader.push(Buffer.from('HTTP/1.1 200 OK\r\n\r\n{"res'))).to.deep.equal([]);
    expect(reader.push(Buffer.from('ult":2}'))).to.deep.equal([]);
    expect(shapes([defined(reader.end(), 'the last response')])).to.deep.equal([
      { status: 200, body: '{"result":2}', close: true },
    ]);
    expect(reader.end()).to.equal(undefined);
  });

  it('knows which responses close the connection', () => {
    const close = (head: string) => defined(readAll(`${head}\r\ncontent-length: 0\r\n\r\n`)[0]).close;
    expect(close('HTTP/1.1 200 OK')).to.equal(false);
    expect(close('HTTP/1.1 200 OK\r\nConnection: close')).to.equal(true);
    expect(close('HTTP/1.1 200 OK\r\nconnection: keep-alive')).to.equal(false);
    expect(close('HTTP/1.0 200 OK')).to.equal(true);
    expect(close('HTTP/1.0 200 OK\r\nConnection: Keep-Alive')).to.equal(false);
  });

  it('refuses bytes that are not an HTTP response', () => {
    expect(badResponse('SSH-2.0-OpenSSH\r\n\r\n').message).to.include('status line');
    expect(badResponse('HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n').message).to.include('content-length');
    expect(
      badResponse('HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab').message,
    ).to.include('twice');
    expect(badResponse('HTTP/1.1 200 OK\r\ncontent-length: 99999999999\r\n\r\n').message).to.include(
      'content-length',
    );
    expect(badResponse('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n').message).to.include(
      'chunk size',
    );
    expect(
      badResponse('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabc\r\n').message,
    ).to.include('CRLF');
    expect(badResponse(`HTTP/1.1 200 OK\r\nx: ${'y'.repeat(MAX_HEAD_BYTES)}`).message).to.include(
      'head over',
    );
    expect(badResponse(`HTTP/1.1 200 OK\r\nx: ${'y'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`).message).to.include(
      'head over',
    );
    expect(badResponse('HTTP/1.1 099 Odd\r\n\r\n').message).to.include('status 99');
    expect(
      badResponse(`HTTP/1.1 200 OK\r\ncontent-length: ${MAX_BODY_BYTES + 1}\r\n\r\n`).message,
    ).to.include(`over ${MAX_BODY_BYTES}`);
  });

  it('refuses a body without a length once it is over the limit', () => {
    const reader = new ResponseReader();
    reader.push(Buffer.from('HTTP/1.1 200 OK\r\n\r\n'));
    reader.push(Buffer.alloc(MAX_BODY_BYTES));
    expect(() => reader.push(Buffer.alloc(1))).to.throw(ConnectionError, `over ${MAX_BODY_BYTES}`);
  });

  it('reads a large body that arrives in many pieces', () => {
    const body = Buffer.alloc(1024 * 1024, 'v');
    const text = `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body.toString('latin1')}`;
    const cuts = Array.from({ length: 16 }, (_, index) => 50 + index * 65_536);
    const [response, ...rest] = readAll(text, cuts);
    expect(rest).to.deep.equal([]);
    expect(defined(response).body.equals(body)).to.equal(true);
  });
});

interface Received {
  status: number;
  body: string;
}

function post(connection: HttpConnection, body: string): Promise<Received> {
  return new Promise((resolve, reject) => {
    connection.post(body, {
      onReply: (status, reply) => resolve({ status, body: reply.toString() }),
      onFailure: reject,
    });
  });
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  expect.fail('the request did not fail');
}

function listen<T extends Server | NetServer>(server: T): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

/** The plan of a run's first worker (of its only one, unless it asks for more). */
function firstPlan(options: BenchOptions): LoadPlan {
  return defined(workerPlans(options)[0], 'a worker plan');
}

function closeServer(server: Server | NetServer): Promise<void> {
  if ('closeAllConnections' in server) server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('bench HTTP client: HttpConnection', () => {
  const servers: Array<Server | NetServer> = [];
  const connections: HttpConnection[] = [];
  const sockets = new Set<Socket>();

  afterEach(async () => {
    for (const connection of connections.splice(0)) connection.close();
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await Promise.all(servers.splice(0).map(closeServer));
  });

  function connection(port: number, timeoutMs = 5_000, headers = 'content-type: application/json\r\n') {
    const made = new HttpConnection({ host: '127.0.0.1', port, headers, timeoutMs });
    connections.push(made);
    return made;
  }

  /** A node:http server answering each POST with `answer`; counts the TCP connections it took. */
  async function httpServer(
    answer: (request: IncomingMessage, body: string) => { status?: number; body: string; close?: boolean },
  ): Promise<{ port: number; connections: () => number }> {
    let count = 0;
    const server = createHttpServer({ keepAliveTimeout: 30_000 }, (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const reply = answer(request, Buffer.concat(chunks).toString());
        if (reply.close) response.setHeader('connection', 'close');
        response.writeHead(reply.status ?? 200, { 'content-length': Buffer.byteLength(reply.body) });
        response.end(reply.body);
      });
    });
    server.on('connection', (socket: Socket) => {
      count++;
      sockets.add(socket);
    });
    servers.push(server);
    return { port: await listen(server), connections: () => count };
  }

  /** A TCP server that does `onRequest` with each connection once it has sent anything. */
  async function rawServer(onRequest: (socket: Socket) => void): Promise<number> {
    const server = createNetServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.once('data', () => onRequest(socket));
    });
    servers.push(server);
    return listen(server);
  }

  it('sends POST / with its headers, and keeps one connection for request after request', async () => {
    const seen: Array<{ method?: string; url?: string; headers: IncomingMessage['headers']; body: string }> =
      [];
    const server = await httpServer((request, body) => {
      seen.push({ method: request.method, url: request.url, headers: request.headers, body });
      return { body: `{"echo":${body}}` };
    });
    const client = connection(
      server.port,
      5_000,
      'content-type: application/json\r\nauthorization: Bearer s3cret\r\n',
    );
    for (let index = 0; index < 3; index++) {
      const body = JSON.stringify({ index, text: 'é' });
      expect(await post(client, body)).to.deep.equal({ status: 200, body: `{"echo":${body}}` });
    }
    expect(server.connections()).to.equal(1);
    expect(seen).to.have.length(3);
    expect(seen[2]).to.deep.include({ method: 'POST', url: '/', body: '{"index":2,"text":"é"}' });
    expect(defined(seen[2]).headers).to.deep.include({
      host: `127.0.0.1:${server.port}`,
      'content-type': 'application/json',
      authorization: 'Bearer s3cret',
      'content-length': String(Buffer.byteLength('{"index":2,"text":"é"}')),
    });
  });

  it('opens a new connection after a reply that closes its own', async () => {
    let replies = 0;
    const server = await httpServer(() => ({ body: String(++replies), close: replies === 1 }));
    const client = connection(server.port);
    expect((await post(client, '{}')).body).to.equal('1');
    expect((await post(client, '{}')).body).to.equal('2');
    expect((await post(client, '{}')).body).to.equal('3');
    expect(server.connections()).to.equal(2);
  });

  it('reports a refused connection with its system error code, request after request', async () => {
    const probe = createNetServer();
    const port = await listen(probe);
    await closeServer(probe);
    const client = connection(port);
    expect(transportErrorKind(await failure(post(client, '{}')))).to.equal('ECONNREFUSED');
    expect(transportErrorKind(await failure(post(client, '{}')))).to.equal('ECONNREFUSED');
  });

  it('fails a request whose connection stays silent past the timeout, then works on a new connection', async () => {
    let requests = 0;
    const port = await rawServer((socket) => {
      requests++;
      if (requests > 1) socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    const client = connection(port, 100);
    const error = await failure(post(client, '{}'));
    expect(error).to.be.instanceOf(TimeoutError);
    expect(transportErrorKind(error)).to.equal('HTTP_TIMEOUT');
    expect(await post(client, '{}')).to.deep.equal({ status: 200, body: 'ok' });
  });

  it('fails a request when the server closes the connection without replying', async () => {
    const port = await rawServer((socket) => socket.end());
    const error = await failure(post(connection(port), '{}'));
    expect(transportErrorKind(error)).to.be.oneOf(['HTTP_CLOSED', 'ECONNRESET']);
  });

  it('fails a request answered with bytes that are not HTTP, or with more than one reply', async () => {
    const garbage = await rawServer((socket) => socket.write('garbage\r\n\r\n'));
    expect(transportErrorKind(await failure(post(connection(garbage), '{}')))).to.equal('HTTP_BAD_RESPONSE');
    const twice = await rawServer((socket) =>
      socket.write(
        'HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\naHTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nb',
      ),
    );
    expect(transportErrorKind(await failure(post(connection(twice), '{}')))).to.equal('HTTP_BAD_RESPONSE');
  });

  it('fails a request whose reply trickles in for longer than the timeout', async () => {
    const port = await rawServer((socket) => {
      const head = 'HTTP/1.1 200 OK\r\nx-slow: ';
      let sent = 0;
      const drip = setInterval(() => socket.write(head.charAt(sent++ % head.length)), 20);
      socket.on('close', () => clearInterval(drip));
    });
    const error = await failure(post(connection(port, 150), '{}'));
    expect(transportErrorKind(error)).to.equal('HTTP_TIMEOUT');
  });

  it('fails a request whose body runs to the end of a stream that was reset', async () => {
    const port = await rawServer((socket) => {
      // The reset follows a while after the bytes, so that they are read first (a reset at once can overtake them).
      socket.write('HTTP/1.1 200 OK\r\n\r\n{"result":"cut sh');
      setTimeout(() => socket.resetAndDestroy(), 50);
    });
    expect(transportErrorKind(await failure(post(connection(port), '{}')))).to.equal('ECONNRESET');
  });

  it('takes a body that ends with the connection', async () => {
    const port = await rawServer((socket) =>
      socket.end('HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n{"result":3}'),
    );
    expect(await post(connection(port), '{}')).to.deep.equal({ status: 200, body: '{"result":3}' });
  });

  it('refuses a second request while one is in flight', async () => {
    const port = await rawServer(() => {});
    const client = connection(port);
    const first = failure(post(client, '{}'));
    expect(() => client.post('{}', { onReply() {}, onFailure() {} })).to.throw(/in flight/);
    client.close();
    expect(transportErrorKind(await first)).to.equal('HTTP_CLOSED');
  });
});

describe('bench load generator', () => {
  const closers: Array<() => Promise<void>> = [];

  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
  });

  async function run(plan: LoadPlan) {
    const generator = new LoadGenerator(plan);
    try {
      return await generator.run();
    } finally {
      await generator.close();
    }
  }

  it('sets every key, then reads each back: every get a hit, every request counted', async () => {
    const server = await startReferenceServer();
    closers.push(() => server.close());
    const options = resolveBenchOptions({
      operation: 'get',
      targets: `${server.host}:${server.port}`,
      requests: 400,
      concurrency: 6,
      keyspace: 50,
    });
    const warmup = await run(warmupPlan(options));
    expect(warmup).to.deep.include({ completed: 50, ok: 50, sets: 50, gets: 0, misses: 0 });
    expect(warmup.histogram.totalCount).to.equal(50);
    const result = await run(firstPlan(options));
    expect(result).to.deep.include({ completed: 400, ok: 400, gets: 400, sets: 0, misses: 0 });
    expect(result.histogram.totalCount).to.equal(400);
    expect(result.errors).to.deep.equal({ rpc: {}, transport: {}, samples: {} });
  });

  it('spreads its slots over the targets, one connection each', async () => {
    const targets = [0, 1].map(() => ({ requests: 0, sockets: new Set<Socket>() }));
    const ports = await Promise.all(
      targets.map(async (target) => {
        const server = createHttpServer((request, response) => {
          target.requests++;
          request.resume();
          request.on('end', () => response.end('{"jsonrpc":"2.0","id":1,"result":true}'));
        });
        server.on('connection', (socket: Socket) => target.sockets.add(socket));
        closers.push(() => closeServer(server));
        return listen(server);
      }),
    );
    const options = resolveBenchOptions({
      operation: 'set',
      targets: ports.map((port) => `127.0.0.1:${port}`),
      requests: 300,
      concurrency: 4,
    });
    const result = await run(firstPlan(options));
    expect(result).to.deep.include({ completed: 300, ok: 300, sets: 300 });
    const requests = targets.map((target) => target.requests);
    expect(requests.reduce((sum, count) => sum + count, 0)).to.equal(300);
    for (const count of requests) expect(count).to.be.greaterThan(0);
    expect(targets.map((target) => target.sockets.size)).to.deep.equal([2, 2]);
  });

  it('ends a run under way when it is closed', async () => {
    const server = await startReferenceServer();
    closers.push(() => server.close());
    const options = resolveBenchOptions({
      operation: 'set',
      targets: `${server.host}:${server.port}`,
      duration: '60s',
      concurrency: 4,
    });
    const generator = new LoadGenerator(firstPlan(options));
    const running = generator.run();
    for (let waited = 0; generator.progress.completed < 20 && waited < 5_000; waited += 10) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(generator.progress.completed).to.be.at.least(20);
    await generator.close();
    const result = await running;
    expect(result.completed).to.be.at.least(20);
    expect(result.durationMs).to.be.below(30_000);
  });

  it('counts error replies and failed connections apart from the latencies', async () => {
    const server = createHttpServer((request, response) => {
      request.resume();
      request.on('end', () => {
        const body = '{"jsonrpc":"2.0","id":1,"error":{"code":-32003,"message":"quorum not reached"}}';
        response.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
        response.end(body);
      });
    });
    const port = await listen(server);
    closers.push(() => closeServer(server));
    const gone = createNetServer();
    const deadPort = await listen(gone);
    await closeServer(gone);
    const options = resolveBenchOptions({
      operation: 'set',
      targets: [`127.0.0.1:${port}`, `127.0.0.1:${deadPort}`],
      requests: 40,
      concurrency: 2,
    });
    const result = await run(firstPlan(options));
    expect(result.completed).to.equal(40);
    expect(result.ok).to.equal(0);
    expect(result.histogram.totalCount).to.equal(0);
    expect(result.errors.rpc['-32003']).to.be.greaterThan(0);
    expect(result.errors.transport.ECONNREFUSED).to.be.greaterThan(0);
    expect((result.errors.rpc['-32003'] ?? 0) + (result.errors.transport.ECONNREFUSED ?? 0)).to.equal(40);
    expect(result.errors.samples['-32003']).to.equal('quorum not reached');
  });
});
