import { ErrorCode, UnauthorizedError } from '@kvdb/core';
import { expect } from 'chai';
import { KVNode } from '../src/node.js';
import { PEER_PROTOCOL } from '../src/peer-stream.js';
import { StreamPeerTransport } from '../src/stream-peer-transport.js';
import { freePort, post, warnings } from './utils/node-harness.js';

const CLIENT_TOKEN = 'what-clients-hold';
const PEER_TOKEN = 'only-the-nodes-know';
const upgrade = { connection: 'upgrade', upgrade: PEER_PROTOCOL, 'kvdb-cluster': 'kvdb' };

/** Asks `port` for a peer stream with `token`; a refusal's status and body come back (a 101 would hang: none is expected). */
const askForStream = (port: number, token: string) =>
  post(port, '', { ...upgrade, authorization: `Bearer ${token}` }, 'GET', '/peer');

describe('--peer-token', () => {
  let node: KVNode;
  let address: string;
  const nodeLog = warnings();

  before(async () => {
    node = await KVNode.start(
      { host: '127.0.0.1', port: await freePort(), authToken: CLIENT_TOKEN, peerToken: PEER_TOKEN },
      { logger: nodeLog },
    );
    address = `127.0.0.1:${node.port}`;
  });

  after(async () => {
    await node?.stop({ announce: false });
  });

  it('refuses a peer stream asked for with the client token (401), logging that once per address', async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const refused = await askForStream(node.port, CLIENT_TOKEN);
      expect(refused.status).to.equal(401);
      const { error } = refused.json as { error: { code: number; message: string } };
      expect(error.code).to.equal(ErrorCode.UNAUTHORIZED);
      expect(error.message).to.match(/^Missing or wrong peer token .*--peer-token/);
      expect(refused.body).not.to.contain(PEER_TOKEN);
    }
    expect(nodeLog.lines.filter((line) => line.includes('peer token'))).to.deep.equal([
      'refused a peer stream from 127.0.0.1 (naming no node): missing or wrong peer token (every node of the cluster needs the same --peer-token)',
    ]);
    expect(nodeLog.lines.join('\n')).not.to.contain(CLIENT_TOKEN).and.not.to.contain(PEER_TOKEN);
  });

  it('opens peer streams for the peer token only; a refused node is logged once by name, and says its token was refused, once', async () => {
    const log = warnings();
    const client = new StreamPeerTransport({ peerToken: CLIENT_TOKEN, self: '127.0.0.1:9', logger: log });
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const error = await client.call(address, 'peer.get', { key: 'a' }).catch((e) => e);
        expect(error).to.be.instanceOf(UnauthorizedError);
      }
    } finally {
      await client.close();
    }
    expect(log.lines).to.deep.equal([
      `peer stream to ${address} refused: ${address} refused this node's peer token (every node of the cluster needs the same --peer-token)`,
    ]);
    expect(nodeLog.lines.filter((line) => line.includes('naming itself'))).to.deep.equal([
      'refused a peer stream from 127.0.0.1 (naming itself "127.0.0.1:9"): missing or wrong peer token (every node of the cluster needs the same --peer-token)',
    ]);
    const peer = new StreamPeerTransport({ peerToken: PEER_TOKEN });
    try {
      expect(await peer.call(address, 'peer.get', { key: 'a' })).to.equal(null);
    } finally {
      await peer.close();
    }
  });

  it('keeps POST / for the client token: the peer token is not a client credential', async () => {
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
    const asClient = await post(node.port, ping, {
      'content-type': 'application/json',
      authorization: `Bearer ${CLIENT_TOKEN}`,
    });
    expect(asClient.json).to.deep.equal({ jsonrpc: '2.0', id: 1, result: 'pong' });
    expect((await post(node.port, ping, { authorization: `Bearer ${PEER_TOKEN}` })).status).to.equal(401);
  });

  describe('the warning at start', () => {
    const startOn = async (init: { authToken?: string; peerToken?: string }) => {
      const log = warnings();
      const port = await freePort();
      // Bound on every interface, advertised (and reached, here not at all) on loopback.
      const started = await KVNode.start(
        { host: '0.0.0.0', port, advertise: `127.0.0.1:${port}`, ...init },
        { logger: log },
      );
      await started.stop({ announce: false });
      return log.lines.filter((line) => line.includes('--peer-token'));
    };

    it('says a node reachable beyond this machine with an auth token and no peer token lets clients open peer streams', async () => {
      expect(await startOn({ authToken: CLIENT_TOKEN })).to.deep.equal([
        'no --peer-token: clients holding the token can open peer streams: set --peer-token on every node',
      ]);
      expect(await startOn({ authToken: CLIENT_TOKEN, peerToken: PEER_TOKEN })).to.deep.equal([]);
    });
  });
});
