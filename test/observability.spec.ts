import { request } from 'node:http';
import { KVClient } from '@kvdb/client';
import { type LocalCluster, startLocalCluster } from '@kvdb/server';
import { expect } from 'chai';
import { waitFor } from './helpers/wait.js';

const TOKEN = 'scrape-token-0d7a';
const VALUE = 'value-never-in-a-log-3b9e';

interface Got {
  status: number;
  contentType: string;
  body: string;
}

/** A GET on a connection of its own. */
function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '', body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * A Prometheus text exposition, checked line by line: `# HELP`/`# TYPE` comments and `name{labels} value`
 * samples; returns the samples and the declared metric types.
 */
function parseExposition(text: string): { samples: Map<string, number>; types: Map<string, string> } {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ')) continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type !== null) {
      types.set(type[1] as string, type[2] as string);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})?) (\S+)$/.exec(
      line,
    );
    expect(sample, `a sample line: ${line}`).to.not.equal(null);
    const value = sample?.[2] as string;
    expect(value, line).to.match(/^(?:[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?|[-+]?Inf|NaN)$/i);
    samples.set(sample?.[1] as string, Number(value.replace(/^([-+]?)Inf$/i, '$1Infinity')));
  }
  return { samples, types };
}

describe('health, readiness, metrics and logs of kvdb-server processes', function () {
  this.timeout(60_000);
  let cluster: LocalCluster | undefined;
  const clients: KVClient[] = [];
  const output = new Map<number, string>();

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      for (const [index, text] of output) process.stderr.write(`node ${index}:\n${text}\n`);
    }
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await cluster?.stop();
    cluster = undefined;
    output.clear();
  });

  const start = (nodes: number, args: string[], logLevel: 'debug' | 'info' = 'info') =>
    startLocalCluster({
      nodes,
      args: ['--timings', 'local', ...args],
      logLevel,
      authToken: args.includes('--auth-token') ? TOKEN : undefined,
      output: (node, chunk) => output.set(node.index, (output.get(node.index) ?? '') + chunk.toString()),
    });

  it('answers /ready 503 while a joiner has reached no member, 200 once it has joined; /health 200 all along', async () => {
    cluster = await start(1, []);
    const c = cluster;
    const seed = c.addresses[0] as string;
    await c.kill(0);
    const joiner = c.nodes[await c.addNode([seed])]?.port as number;

    const health = await get(joiner, '/health');
    expect(health.status).to.equal(200);
    expect(JSON.parse(health.body)).to.include({ status: 'ok' });
    const waiting = await get(joiner, '/ready');
    expect(waiting.status).to.equal(503);
    expect(waiting.contentType).to.match(/^application\/json/);
    const body = JSON.parse(waiting.body);
    expect(body.checks).to.deep.equal({ joined: false, storeOpen: true, notStopping: true });
    expect(body.failing).to.deep.equal(['joined: has not reached any member named in -C yet']);

    await c.startNode(0);
    await waitFor('the joiner to be ready', async () => (await get(joiner, '/ready')).status === 200);
    expect((await get(c.nodes[0]?.port as number, '/ready')).status).to.equal(200);
  });

  it('serves Prometheus metrics with the token only, whose request counts move with the requests made', async () => {
    cluster = await start(2, ['--auth-token', TOKEN]);
    const [first, second] = cluster.nodes.map((node) => node.port) as [number, number];
    const bearer = { authorization: `Bearer ${TOKEN}` };
    expect((await get(first, '/metrics')).status).to.equal(401);
    expect((await get(first, '/metrics', { authorization: 'Bearer wrong' })).status).to.equal(401);
    const scrape = async (port: number) => {
      const reply = await get(port, '/metrics', bearer);
      expect(reply.status).to.equal(200);
      expect(reply.contentType).to.match(/^text\/plain; version=0\.0\.4/);
      return parseExposition(reply.body);
    };
    const before = await scrape(first);
    const client = new KVClient({ port: first, authToken: TOKEN, timeoutMs: 8_000 });
    clients.push(client);
    for (let i = 0; i < 20; i++) await client.set(`metric:${i}`, i);
    const after = await scrape(first);
    const delta = (name: string) => (after.samples.get(name) ?? 0) - (before.samples.get(name) ?? 0);
    expect(delta('kvdb_requests_total{method="set",outcome="ok"}')).to.equal(20);
    expect(delta('kvdb_request_duration_seconds_count{method="set"}')).to.equal(20);
    expect(after.samples.get('kvdb_request_duration_seconds_bucket{le="+Inf",method="set"}')).to.equal(
      after.samples.get('kvdb_request_duration_seconds_count{method="set"}'),
    );
    expect(after.samples.get('kvdb_members{status="alive"}')).to.equal(2);
    expect(after.samples.get('kvdb_keys')).to.equal(20);
    // The other replica took each write on its peer stream.
    const peer = await scrape(second);
    expect(peer.samples.get('kvdb_peer_requests_total{method="peer.put",outcome="ok"}')).to.be.at.least(20);
    expect(peer.samples.get('kvdb_keys')).to.equal(20);

    const expected: Array<[string, string]> = [
      ['kvdb_requests_total', 'counter'],
      ['kvdb_request_duration_seconds', 'histogram'],
      ['kvdb_quorum_failures_total', 'counter'],
      ['kvdb_peer_requests_total', 'counter'],
      ['kvdb_hints_pending', 'gauge'],
      ['kvdb_anti_entropy_rounds_total', 'counter'],
      ['kvdb_anti_entropy_keys_repaired_total', 'counter'],
      ['kvdb_handoff_keys_fetched_total', 'counter'],
      ['kvdb_handoff_bytes_fetched_total', 'counter'],
      ['kvdb_handoff_segments_pending', 'gauge'],
      ['kvdb_rebalance_keys_handed_off_total', 'counter'],
      ['kvdb_members', 'gauge'],
      ['kvdb_members_moving', 'gauge'],
      ['kvdb_keys', 'gauge'],
      ['kvdb_tombstones', 'gauge'],
      ['nodejs_eventloop_lag_seconds', 'gauge'],
      ['process_cpu_user_seconds_total', 'counter'],
    ];
    for (const [name, type] of expected) expect(after.types.get(name), name).to.equal(type);
  });

  it('logs JSON lines when its stderr is not a terminal, each client request at debug, without values or the token', async () => {
    cluster = await start(1, ['--auth-token', TOKEN], 'debug');
    const port = cluster.nodes[0]?.port as number;
    const client = new KVClient({ port, authToken: TOKEN, timeoutMs: 8_000 });
    clients.push(client);
    await client.set('logged', VALUE);
    expect(await client.get('logged')).to.equal(VALUE);
    const lines = await waitFor('the get to be logged', () => {
      const logged = (output.get(0) ?? '').split('\n').filter((line) => line !== '');
      return logged.some((line) => line.includes('"method":"get"')) && logged;
    });
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(
      entries.every((entry) => entry.node === `127.0.0.1:${port}` && typeof entry.time === 'string'),
    ).to.equal(true);
    const requests = entries.filter((entry) => entry.method === 'set' || entry.method === 'get');
    expect(requests.map(({ level, method, outcome }) => ({ level, method, outcome }))).to.deep.equal([
      { level: 'debug', method: 'set', outcome: 'ok' },
      { level: 'debug', method: 'get', outcome: 'ok' },
    ]);
    expect(requests.every((entry) => typeof entry.ms === 'number')).to.equal(true);
    for (const secret of [VALUE, TOKEN]) expect(output.get(0)).to.not.contain(secret);
  });

  it('logs readable lines with --log-format pretty', async () => {
    cluster = await start(1, ['--log-format', 'pretty']);
    const port = cluster.nodes[0]?.port as number;
    const line = await waitFor('the start line', () =>
      (output.get(0) ?? '').split('\n').find((text) => text.includes('listening on')),
    );
    expect(line).to.match(
      new RegExp(
        `^\\[\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\] INFO: \\[127\\.0\\.0\\.1:${port}\\] listening on 127\\.0\\.0\\.1:${port}`,
      ),
    );
  });
});
