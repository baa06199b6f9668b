import type { LogFields, Logger } from '@kvdb/coordinator';
import { ErrorCode } from '@kvdb/core';
import { expect } from 'chai';
import { KVNode } from '../src/node.js';
import { readiness } from '../src/pages/health.js';
import { freePort, post } from './utils/node-harness.js';

const TOKEN = 'observability-token-5e1f';
const SECRET_VALUE = 'value-that-must-not-be-logged-81c2';

/** A logger that keeps every line with its fields. */
function keptLines(): Logger & { lines: Array<{ level: string; message: string; fields?: LogFields }> } {
  const lines: Array<{ level: string; message: string; fields?: LogFields }> = [];
  const at = (level: string) => (message: string, fields?: LogFields) =>
    lines.push({ level, message, fields });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** The samples of a Prometheus text exposition: `name{labels}` → value. */
function samples(text: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    found.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return found;
}

describe('a node’s health, readiness, metrics and request logs', () => {
  let node: KVNode | undefined;
  let port: number;
  let log: ReturnType<typeof keptLines>;
  const auth = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };
  const call = (method: string, params: unknown) =>
    post(port, JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), auth);
  const get = (path: string, headers: Record<string, string> = {}) => post(port, '', headers, 'GET', path);

  beforeEach(async () => {
    port = await freePort();
    log = keptLines();
    node = await KVNode.start(
      { host: '127.0.0.1', port, authToken: TOKEN, logLevel: 'debug' },
      { logger: log },
    );
  });

  afterEach(async () => {
    await node?.stop({ announce: false });
    node = undefined;
  });

  it('answers GET /health and GET /ready with 200 and JSON, without the token', async () => {
    const health = await get('/health');
    expect(health.status).to.equal(200);
    expect(health.json).to.include({ status: 'ok', node: `127.0.0.1:${port}` });
    const ready = await get('/ready');
    expect(ready.status).to.equal(200);
    expect(ready.json).to.deep.equal({
      ready: true,
      node: `127.0.0.1:${port}`,
      checks: { joined: true, storeOpen: true, notStopping: true },
      failing: [],
    });
  });

  it('is not ready once a stop has begun, nor once its store is closed', async () => {
    const running = node as KVNode;
    const stopped = running.stop({ announce: false });
    const stopping = readiness(running);
    expect(stopping.ready).to.equal(false);
    expect(stopping.checks.notStopping).to.equal(false);
    expect(stopping.failing).to.deep.equal(['notStopping: shutting down']);
    await stopped;
    node = undefined;
    const after = readiness(running);
    expect(after.checks).to.deep.equal({ joined: true, storeOpen: false, notStopping: false });
  });

  it('asks for the token at GET /metrics, and counts client requests by method and outcome', async () => {
    expect((await get('/metrics')).status).to.equal(401);
    const scrape = async () => {
      const reply = await get('/metrics', { authorization: `Bearer ${TOKEN}` });
      expect(reply.status).to.equal(200);
      expect(reply.headers['content-type']).to.match(/^text\/plain; version=0\.0\.4/);
      return samples(reply.body);
    };
    const before = await scrape();
    for (let i = 0; i < 7; i++) expect((await call('set', [`k${i}`, SECRET_VALUE])).status).to.equal(200);
    await call('get', { key: 42 });
    const after = await scrape();
    const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
    expect(delta('kvdb_requests_total{method="set",outcome="ok"}')).to.equal(7);
    expect(delta('kvdb_request_duration_seconds_count{method="set"}')).to.equal(7);
    expect(delta('kvdb_requests_total{method="get",outcome="invalid_params"}')).to.equal(1);
    expect(after.get('kvdb_keys')).to.equal(7);
    expect(after.get('kvdb_members{status="alive"}')).to.equal(1);
    expect(after.get('nodejs_eventloop_lag_seconds')).to.be.a('number');
  });

  it('logs each client request at debug with its method, outcome and ms, never its params, values or the token', async () => {
    await call('set', ['logged-key', SECRET_VALUE]);
    await call('get', { key: 42 });
    const requests = log.lines.filter((line) => line.fields?.method !== undefined);
    expect(requests.map((line) => line.level)).to.deep.equal(['debug', 'debug']);
    expect(requests.map(({ fields }) => ({ ...fields, ms: typeof fields?.ms }))).to.deep.equal([
      { method: 'set', outcome: 'ok', ms: 'number' },
      { method: 'get', outcome: 'invalid_params', code: ErrorCode.INVALID_PARAMS, ms: 'number' },
    ]);
    const everything = JSON.stringify(log.lines);
    for (const secret of [SECRET_VALUE, 'logged-key', TOKEN]) expect(everything).to.not.contain(secret);
  });
});
