import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConnectionError, UnauthorizedError, UnavailableError } from '@kvdb/core';
import { expect } from 'chai';
import { type RawBenchArgs, resolveBenchOptions } from '../src/options.js';
import { runBenchmark } from '../src/runner.js';
import { fakeNodes } from './helpers/fake-node.js';
import { binomialBounds } from './helpers/seeded-random.js';

/**
 * A JSON-RPC server on 127.0.0.1 that answers `ping`, counts every `set`, and answers the sets with an error
 * while `failing` says so.
 */
async function countingServer(): Promise<{
  port: number;
  sets: () => number;
  fail(on: boolean): void;
  close(): Promise<void>;
}> {
  let sets = 0;
  let failing = false;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const call = JSON.parse(Buffer.concat(chunks).toString()) as { id: number; method: string };
      let reply: object = { jsonrpc: '2.0', id: call.id, result: 'pong' };
      if (call.method === 'set') {
        sets++;
        reply = failing
          ? { jsonrpc: '2.0', id: call.id, error: { code: -32003, message: 'quorum not reached' } }
          : { jsonrpc: '2.0', id: call.id, result: true };
      }
      const body = JSON.stringify(reply);
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      response.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    sets: () => sets,
    fail(on) {
      failing = on;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Serves every request with `status` and `body`. */
async function fixedServer(status: number, body: string): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(status, { 'content-type': 'application/json' }).end(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** What `runBenchmark` rejects with, for one target on `port`. */
async function refusal(port: number): Promise<Error> {
  const options = resolveBenchOptions({ operation: 'set', targets: `127.0.0.1:${port}`, requests: 1 });
  const outcome = await runBenchmark(options).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(outcome).to.be.instanceOf(Error);
  return outcome as Error;
}

describe('bench runner: a target it cannot benchmark', () => {
  it('is a ConnectionError when nothing listens there', async () => {
    const server = await fixedServer(200, '{}');
    await server.close();
    const error = await refusal(server.port);
    expect(error).to.be.instanceOf(ConnectionError);
    expect(error.message).to.equal(
      `cannot reach kvdb at 127.0.0.1:${server.port}: connection refused (is kvdb-server running there?)`,
    );
  });

  it('is a ConnectionError when it does not answer ping with pong', async () => {
    const server = await fixedServer(404, 'not here');
    try {
      const error = await refusal(server.port);
      expect(error).to.be.instanceOf(ConnectionError);
      expect(error.message).to.equal(`127.0.0.1:${server.port} is not a kvdb node: ping answered HTTP 404`);
    } finally {
      await server.close();
    }
  });

  it('is the class of the error code it refuses ping with', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, error: { code: 1004, message: 'unauthorized' } });
    const server = await fixedServer(401, body);
    try {
      const error = await refusal(server.port);
      expect(error).to.be.instanceOf(UnauthorizedError);
      expect(error.message).to.equal(`127.0.0.1:${server.port} refused ping: unauthorized (code 1004)`);
    } finally {
      await server.close();
    }
  });
});

describe('bench runner: the unmeasured warmup load', () => {
  const closers: Array<() => Promise<void>> = [];

  /** Sets on the server, 4 in flight unless said. */
  const setsOn = (server: { port: number }, more: RawBenchArgs) =>
    resolveBenchOptions({ operation: 'set', targets: `127.0.0.1:${server.port}`, concurrency: 4, ...more });

  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
  });

  it('runs the workload for --warmup-time before the measured run, and counts none of it', async () => {
    const server = await countingServer();
    closers.push(server.close);
    const options = setsOn(server, { requests: 100, 'warmup-time': '200ms' });
    const started: number[] = [];
    const result = await runBenchmark(options, { onWarmupLoad: (ms) => started.push(ms) });
    expect(started).to.deep.equal([200]);
    expect(result).to.deep.include({ completed: 100, ok: 100, sets: 100 });
    expect(result.histogram.totalCount).to.equal(100);
    // The server saw the measured hundred and the warmup's sets besides.
    expect(server.sets()).to.be.greaterThan(100);
  });

  it('runs no warmup load by default', async () => {
    const server = await countingServer();
    closers.push(server.close);
    const options = setsOn(server, { requests: 50 });
    let called = false;
    const result = await runBenchmark(options, { onWarmupLoad: () => (called = true) });
    expect(called).to.equal(false);
    expect(result.completed).to.equal(50);
    expect(server.sets()).to.equal(50);
  });

  it('stops with a clear error when not one request of the warmup load succeeds', async () => {
    const server = await countingServer();
    closers.push(server.close);
    server.fail(true);
    const options = setsOn(server, { requests: 50, concurrency: 2, 'warmup-time': '100ms' });
    let error: unknown;
    try {
      await runBenchmark(options);
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(UnavailableError);
    expect((error as Error).message).to.match(
      /^the warmup load failed: none of its \d+ requests succeeded \(-32003\)$/,
    );
  });
});

describe('bench runner: YCSB workloads', function () {
  this.timeout(20_000);
  const startNode = fakeNodes();

  const run = async (more: RawBenchArgs) => {
    const node = await startNode();
    const options = resolveBenchOptions({ targets: `127.0.0.1:${node.port}`, concurrency: 4, ...more });
    const result = await runBenchmark(options);
    const prefill = node.calls.slice(0, options.keyspace);
    return { result, prefill, calls: node.calls.slice(options.keyspace) };
  };

  it('F: loads 1 KB records, then reads or reads-modifies-writes, a get then a set of one key per operation', async () => {
    const { result, prefill, calls } = await run({ workload: 'f', keyspace: 50, requests: 400 });
    const loaded = prefill.map((call) => Number(String(call.params.key).slice(4))).sort((a, b) => a - b);
    expect(loaded).to.deep.equal([...Array(50).keys()]);
    const record = prefill[0]?.params.value as Record<string, string>;
    expect(Object.keys(record)).to.have.length(10);
    expect(record.field9).to.have.length(100);
    expect(result).to.deep.include({ completed: 400, ok: 400, misses: 0 });
    const reads = result.operations.read?.totalCount ?? 0;
    const rmws = result.operations.rmw?.totalCount ?? 0;
    expect(reads + rmws).to.equal(400);
    expect(rmws).to.be.within(...binomialBounds(400, 0.5));
    // Each set follows a get of its key on the same connection; every other get stands alone.
    const sets = calls.filter((call) => call.method === 'set');
    expect(sets).to.have.length(rmws);
    expect(calls).to.have.length(400 + rmws);
    for (const [index, call] of calls.entries()) {
      if (call.method !== 'set') continue;
      const before = calls
        .slice(0, index)
        .filter((one) => one.connection === call.connection)
        .at(-1);
      expect(before).to.deep.include({ method: 'get', params: { key: call.params.key } });
    }
  });

  it('E: scans with one mget of consecutive keys within the loaded ones, and inserts past them', async () => {
    const { result, calls } = await run({ workload: 'e', keyspace: 200, requests: 300 });
    expect(result).to.deep.include({ completed: 300, ok: 300 });
    const scans = calls.filter((call) => call.method === 'mget');
    const inserts = calls.filter((call) => call.method === 'set');
    expect(scans.length + inserts.length).to.equal(300);
    expect(scans.length).to.equal(result.operations.scan?.totalCount);
    expect(inserts.length).to.be.within(...binomialBounds(300, 0.05));
    for (const scan of scans) {
      const keys = (scan.params.keys as string[]).map((key) => Number(key.slice(4)));
      const first = keys[0] ?? -1;
      expect(keys).to.deep.equal(keys.map((_, index) => first + index));
      expect(keys.length).to.be.within(1, 100);
      expect(first + keys.length).to.be.at.most(200);
    }
    const inserted = inserts.map((call) => Number(String(call.params.key).slice(4))).sort((a, b) => a - b);
    expect(inserted).to.deep.equal(inserted.map((_, index) => 200 + index));
  });

  it('D with two workers: every insert takes a key of its own past the keyspace, and reads find their keys', async () => {
    const { result, calls } = await run({ workload: 'd', keyspace: 100, requests: 2_000, workers: 2 });
    expect(result).to.deep.include({ completed: 2_000, ok: 2_000, misses: 0 });
    const inserted = calls
      .filter((call) => call.method === 'set')
      .map((call) => Number(String(call.params.key).slice(4)));
    expect(inserted.length).to.equal(result.operations.insert?.totalCount);
    expect(new Set(inserted).size).to.equal(inserted.length);
    expect(Math.min(...inserted)).to.be.at.least(100);
  });
});
