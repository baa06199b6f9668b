import { request } from 'node:http';
import { compareVersions, ErrorCode, formatSession, parseSession } from '@kvdb/core';
import { defined } from '@kvdb/core/testing';
import { expect } from 'chai';
import { METHODS } from '../src/methods/index.js';
import { KVNode } from '../src/node.js';
import { freePort, post } from './utils/node-harness.js';

const ping = (id: unknown) => ({ jsonrpc: '2.0', id, method: 'ping' });
const invalidMember = {
  jsonrpc: '2.0',
  id: null,
  error: {
    code: ErrorCode.INVALID_REQUEST,
    message: 'Expected each member of a batch to be a request object, got an array (batches do not nest)',
  },
};

describe('a node over HTTP', () => {
  let node: KVNode | undefined;
  let port: number;

  beforeEach(async () => {
    port = await freePort();
    node = await KVNode.start(
      { host: '127.0.0.1', port, authToken: 'tok', logLevel: 'silent', limits: { maxBodyBytes: 1_000 } },
      {},
    );
  });

  afterEach(async () => {
    await node?.stop({ announce: false });
    node = undefined;
  });

  const json = { 'content-type': 'application/json', authorization: 'Bearer tok' };
  const send = (body: unknown) => post(port, JSON.stringify(body), json);

  it('answers a request whose id is null, alone and in a batch, with id null and HTTP 200', async () => {
    const alone = await post(port, '{"jsonrpc":"2.0","id":null,"method":"ping"}', json);
    expect(alone.status).to.equal(200);
    expect(alone.json).to.deep.equal({ jsonrpc: '2.0', id: null, result: 'pong' });
    const batch = await send([ping(null), ping(2)]);
    expect(batch.status).to.equal(200);
    expect(batch.json).to.deep.equal([
      { jsonrpc: '2.0', id: null, result: 'pong' },
      { jsonrpc: '2.0', id: 2, result: 'pong' },
    ]);
  });

  it('sends its clock reading in kvdb-session, and stamps writes above a session it is sent', async () => {
    const plain = await send({ jsonrpc: '2.0', id: 1, method: 'set', params: { key: 'a', value: 1 } });
    const token = String(plain.headers['kvdb-session']);
    expect(token).to.match(/^\d+\.\d+$/);
    const a = defined(await defined(node).coordinator.replica.get('a'));
    expect(formatSession(a.version), 'the token covers the write it answered').to.equal(token);

    // A client that saw a version an hour ahead (a node with a fast clock): its next write here is stamped above.
    const ahead = `${Date.now() + 3_600_000}.7`;
    const body = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'set', params: { key: 'b', value: 2 } });
    const joined = await post(port, body, { ...json, 'kvdb-session': ahead });
    expect(joined.json).to.deep.equal({ jsonrpc: '2.0', id: 2, result: true });
    const b = defined(await defined(node).coordinator.replica.get('b'));
    expect(compareVersions(b.version, defined(parseSession(ahead)))).to.be.greaterThan(0);
    expect(String(joined.headers['kvdb-session'])).to.equal(formatSession(b.version));
  });

  it('stores a value as the text the client sent and answers with that very text', async () => {
    const reply = async (body: string): Promise<string> => {
      const answer = await post(port, body, json);
      expect(answer.status, body).to.equal(200);
      return answer.body;
    };
    // Spacing, an escape, a number beyond a double's precision and a duplicate member: all kept as sent.
    const value = '{ "name" : "Ada\\u0020L" , "id": 12345678901234567890, "a": 1, "a": [ ] }';
    await reply(`{"jsonrpc":"2.0","id":1,"method":"set","params":{"key":"raw","value":${value}}}`);
    expect(await reply('{"jsonrpc":"2.0","id":2,"method":"get","params":["raw"]}')).to.equal(
      `{"jsonrpc":"2.0","id":2,"result":${value}}`,
    );
    // A batch, positional params, mset's entries and a default: each value is the text of its own request.
    const batch = await reply(
      '[{"jsonrpc":"2.0","id":3,"method":"set","params":["b1", [1 ,2]]},' +
        '{"jsonrpc":"2.0","id":4,"method":"mset","params":{"entries":[["m1", {"x" :1}], ["m2", "two"]]}},' +
        '{"jsonrpc":"2.0","id":5,"method":"get","params":{"key":"none","default": { "d" : 0 }}}]',
    );
    expect(batch).to.equal(
      '[{"jsonrpc":"2.0","id":3,"result":true},{"jsonrpc":"2.0","id":4,"result":true},' +
        '{"jsonrpc":"2.0","id":5,"result":{ "d" : 0 }}]',
    );
    expect(
      await reply('{"jsonrpc":"2.0","id":6,"method":"mget","params":[["b1","m1","m2","none"]]}'),
    ).to.equal('{"jsonrpc":"2.0","id":6,"result":[[1 ,2],{"x" :1},"two",null]}');
  });

  it('refuses every peer. method on POST / with -32601, saying it is for peer streams, and changes nothing', async () => {
    const peerMethods = METHODS.map((method) => method.name).filter((name) => name.startsWith('peer.'));
    expect(peerMethods, 'the peer methods of the table').to.include.members([
      'peer.get',
      'peer.put',
      'peer.sync',
    ]);
    // Params a peer might send: a forged record for the writes, and the same for every other method.
    const record = { version: { wall: Date.now() + 3_600_000, counter: 0, node: 'x' }, value: '1' };
    const proposal = { ballot: record.version, record, basis: null };
    const params = { key: 'forged', record, entries: [['forged', record]], proposal, keys: ['forged'] };
    for (const method of peerMethods) {
      const reply = await send({ jsonrpc: '2.0', id: 1, method, params });
      expect(reply.status, method).to.equal(200);
      expect((reply.json as { error?: unknown }).error, method).to.deep.equal({
        code: ErrorCode.METHOD_NOT_FOUND,
        message: `Method "${method}" is served on peer streams only (nodes calling each other with the peer token), not on POST /`,
      });
    }
    const unknown = await send({ jsonrpc: '2.0', id: 1, method: 'peer.nope' });
    expect((unknown.json as { error: { message: string } }).error.message).to.equal(
      'Method not found: "peer.nope"',
    );
    expect(await defined(node).coordinator.replica.get('forged')).to.equal(undefined);
  });

  it('refuses a kvdb-session header that is not a token with 400 and -32600, doing nothing', async () => {
    for (const bad of ['x', '1.2.3', '-1.0', '12', `${'9'.repeat(17)}.0`]) {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'set', params: { key: 'bad', value: 1 } });
      const refused = await post(port, body, { ...json, 'kvdb-session': bad });
      expect(refused.status, bad).to.equal(400);
      const { error } = refused.json as { error: { code: number; message: string } };
      expect(error.code).to.equal(ErrorCode.INVALID_REQUEST);
      expect(error.message).to.match(/kvdb-session header/);
    }
    expect(await defined(node).coordinator.replica.get('bad')).to.equal(undefined);
  });

  it('answers notifications alone with 204 and no body', async () => {
    const notified = await send([
      { jsonrpc: '2.0', method: 'ping' },
      { jsonrpc: '2.0', method: 'nope' },
    ]);
    expect(notified.status).to.equal(204);
    expect(notified.json).to.equal(undefined);
  });

  it('answers nested batches with -32600 entries and HTTP 200, and a stop after them is prompt', async () => {
    const nested = await post(port, '[[{"jsonrpc":"2.0","id":1,"method":"ping"}]]', json);
    expect(nested.status).to.equal(200);
    expect(nested.json).to.deep.equal([invalidMember]);
    const beside = await post(port, '[{"jsonrpc":"2.0","id":1,"method":"ping"},[1]]', json);
    expect(beside.status).to.equal(200);
    expect(beside.json).to.deep.equal([{ jsonrpc: '2.0', id: 1, result: 'pong' }, invalidMember]);

    // Nothing is left in flight: the stop does not wait out its 5 s bound for requests.
    const started = performance.now();
    await defined(node, 'the node').stop({ announce: false });
    node = undefined;
    expect(performance.now() - started).to.be.below(2_000);
  });

  it('speaks JSON-RPC on POST / only: 404 elsewhere, 405 for other methods, saying Allow (GET: the cluster page)', async () => {
    const elsewhere = await post(port, '{}', json, 'POST', '/peer');
    expect(elsewhere.status).to.equal(404);
    expect(elsewhere.headers.allow).to.equal('POST');
    const put = await post(port, '', json, 'PUT');
    expect(put.status).to.equal(405);
    expect(put.headers.allow).to.equal('GET, HEAD, POST');
    expect((put.json as { error: { code: number } }).error.code).to.equal(ErrorCode.INVALID_REQUEST);
  });

  it('refuses a request without the token (401, WWW-Authenticate), or not typed JSON (415), or over the limit (413)', async () => {
    const anonymous = await post(port, JSON.stringify(ping(1)));
    expect(anonymous.status).to.equal(401);
    expect(anonymous.headers['www-authenticate']).to.equal('Bearer realm="kvdb"');
    expect((anonymous.json as { error: { code: number } }).error.code).to.equal(ErrorCode.UNAUTHORIZED);
    const form = await post(port, 'a=b', { ...json, 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).to.equal(415);
    // What a web page can send anywhere without asking first: a body with no type.
    const untyped = await post(port, JSON.stringify({ ...ping(2), method: 'set', params: ['csrf', 1] }), {
      authorization: 'Bearer tok',
    });
    expect(untyped.status).to.equal(415);
    expect(await defined(node).coordinator.replica.get('csrf')).to.equal(undefined);
    const large = await post(port, JSON.stringify({ ...ping(1), params: { pad: 'x'.repeat(1_000) } }), json);
    expect(large.status).to.equal(413);
    expect((large.json as { error: { data: unknown } }).error.data).to.deep.equal({ limit: 1_000 });
    expect((await send(ping(3))).json, 'still serving').to.deep.equal({
      jsonrpc: '2.0',
      id: 3,
      result: 'pong',
    });
  });

  it('sends 100 Continue to a request that waits for it before sending its body', async () => {
    const answered = await new Promise<unknown>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/',
          headers: { ...json, expect: '100-continue' },
          agent: false,
        },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => {
            text += chunk.toString();
          });
          res.on('end', () => resolve(JSON.parse(text)));
        },
      );
      req.on('error', reject);
      req.on('continue', () => req.end(JSON.stringify(ping(4))));
      req.flushHeaders();
    });
    expect(answered).to.deep.equal({ jsonrpc: '2.0', id: 4, result: 'pong' });
  });
});
