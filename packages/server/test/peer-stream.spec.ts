import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { connect, createServer as createNetServer } from 'node:net';
import {
  ConnectionError,
  ErrorCode,
  InvalidParamsError,
  InvalidRequestError,
  TimeoutError,
  TooLargeError,
  UnauthorizedError,
} from '@kvdb/core';
import { defined } from '@kvdb/core/testing';
import { expect } from 'chai';
import { KVNode } from '../src/node.js';
import { FrameReader, PEER_PROTOCOL } from '../src/peer-stream.js';
import { StreamPeerTransport } from '../src/stream-peer-transport.js';
import { freePort, until, warnings } from './utils/node-harness.js';

interface RpcRequest {
  id: number;
  method: string;
  params: unknown;
}

/**
 * A stand-in peer: accepts peer streams (or refuses them with `refuseWith`), records every frame it gets and the
 * upgrade requests, and answers each frame through `answer` (by default: every call's result is its method name).
 */
class FakePeer {
  readonly frames: RpcRequest[][] = [];
  readonly upgrades: IncomingMessage[] = [];
  readonly sockets: Socket[] = [];
  refuseWith: string | undefined;
  /** Takes stream requests without answering them. */
  silent = false;
  /** The cluster it names as it switches; none by default, as a node of an older kvdb. */
  cluster: string | undefined;
  answer: (calls: RpcRequest[], socket: Socket) => void = (calls, socket) =>
    socket.write(
      `${JSON.stringify(calls.map(({ id, method }) => ({ jsonrpc: '2.0', id, result: method })))}\n`,
    );
  private readonly http: Server;

  constructor() {
    this.http = createServer((_req, res) => res.end());
    this.http.on('upgrade', (req: IncomingMessage, socket: Socket) => {
      this.upgrades.push(req);
      if (this.refuseWith !== undefined) {
        socket.end(this.refuseWith);
        return;
      }
      this.sockets.push(socket);
      if (this.silent) return;
      const named = this.cluster === undefined ? '' : `Kvdb-Cluster: ${this.cluster}\r\n`;
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: ${PEER_PROTOCOL}\r\n${named}\r\n`,
      );
      const reader = new FrameReader(1 << 20, (frame) => {
        const parsed = JSON.parse(frame.toString()) as RpcRequest | RpcRequest[];
        const calls = Array.isArray(parsed) ? parsed : [parsed];
        this.frames.push(calls);
        this.answer(calls, socket);
      });
      socket.on('data', (chunk: Buffer) => reader.push(chunk));
      socket.on('error', () => {});
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.http.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(this.http.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.http.close(resolve));
  }
}

describe('peer streams', () => {
  describe('FrameReader', () => {
    function read(chunks: string[], maxBytes = 100): { frames: string[]; ok: boolean } {
      const frames: string[] = [];
      const reader = new FrameReader(maxBytes, (frame) => frames.push(frame.toString()));
      let ok = true;
      for (const chunk of chunks) ok &&= reader.push(Buffer.from(chunk));
      return { frames, ok };
    }

    it('cuts frames at newlines, across and within chunks, and skips empty lines', () => {
      expect(read(['{"a":1}\n{"b"', ':2}\n\n[3', ',4', ']\n{"c"']).frames).to.deep.equal([
        '{"a":1}',
        '{"b":2}',
        '[3,4]',
      ]);
    });

    it('stops at a frame over the limit, whole or still arriving', () => {
      expect(read([`${'x'.repeat(11)}\n`], 10)).to.deep.equal({ frames: [], ok: false });
      expect(read(['x'.repeat(6), 'x'.repeat(6)], 10).ok).to.equal(false);
      expect(read([`${'x'.repeat(10)}\n`], 10)).to.deep.equal({ frames: ['x'.repeat(10)], ok: true });
    });
  });

  describe('StreamPeerTransport', () => {
    let peer: FakePeer;
    let address: string;
    let transport: StreamPeerTransport;

    beforeEach(async () => {
      peer = new FakePeer();
      address = await peer.listen();
      transport = new StreamPeerTransport({ peerToken: 's3cret', clusterName: 'blue' });
    });

    afterEach(async () => {
      await transport.close();
      await peer.close();
    });

    it('sends calls made in one turn as one frame on one connection, with the token, and matches replies by id', async () => {
      const results = await Promise.all([
        transport.call(address, 'peer.get', { key: 'a' }),
        transport.call(address, 'peer.get', { key: 'b' }),
        transport.call(address, 'peer.digest', { segments: [] } as never),
      ]);
      expect(results).to.deep.equal(['peer.get', 'peer.get', 'peer.digest']);
      expect(peer.frames).to.have.length(1);
      expect(defined(peer.frames[0]).map((call) => call.params)).to.deep.equal([
        { key: 'a' },
        { key: 'b' },
        { segments: [] },
      ]);
      expect(peer.upgrades).to.have.length(1);
      const upgrade = defined(peer.upgrades[0]);
      expect(upgrade.url).to.equal('/peer');
      expect(upgrade.headers.upgrade).to.equal(PEER_PROTOCOL);
      expect(upgrade.headers.authorization).to.equal('Bearer s3cret');
      expect(upgrade.headers['kvdb-cluster']).to.equal('blue');

      await transport.call(address, 'peer.get', { key: 'c' });
      expect(peer.upgrades, 'the stream is kept').to.have.length(1);
    });

    it('takes replies in any order and maps errors back to their classes', async () => {
      peer.answer = (calls, socket) => {
        const replies = calls.map(({ id, method }) =>
          method === 'peer.put'
            ? { jsonrpc: '2.0', id, error: { code: ErrorCode.INVALID_PARAMS, message: 'bad put' } }
            : { jsonrpc: '2.0', id, result: id },
        );
        socket.write(`${JSON.stringify(replies.reverse())}\n`);
      };
      const get = transport.call(address, 'peer.get', { key: 'a' });
      const put = transport.call(address, 'peer.put', { key: 'a' } as never);
      const error = await put.then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error).to.be.instanceOf(InvalidParamsError);
      expect((error as Error).message).to.equal('bad put');
      expect(await get).to.equal(defined(peer.frames[0]?.[0], 'the first call sent').id);
    });

    it('keeps membership calls on a stream of their own, never behind replica frames', async () => {
      const held: Array<() => void> = [];
      peer.answer = (calls, socket) => {
        const reply = () =>
          socket.write(`${JSON.stringify(calls.map(({ id }) => ({ jsonrpc: '2.0', id, result: 'ok' })))}\n`);
        if (calls[0]?.method === 'peer.get') held.push(reply);
        else reply();
      };
      const gets = [];
      // Five turns of replica calls: four frames go out, the fifth waits for one of them to be answered.
      for (let turn = 0; turn < 5; turn++) {
        gets.push(transport.call(address, 'peer.get', { key: `k${turn}` }));
        await new Promise((resolve) => setImmediate(resolve));
      }
      await until('four replica frames', () => held.length === 4);
      expect(await transport.call(address, 'peer.ping', {} as never)).to.equal('ok');
      expect(peer.upgrades).to.have.length(2);
      expect(held, 'the fifth replica frame waits').to.have.length(4);
      defined(held.shift(), 'a held reply')();
      await until('the fifth frame', () => held.length === 4);
      for (const reply of held.splice(0)) reply();
      expect(await Promise.all(gets)).to.deep.equal(['ok', 'ok', 'ok', 'ok', 'ok']);
    });

    it('fails a call that goes unanswered with a TimeoutError, then opens a new stream', async () => {
      peer.answer = () => {};
      const error = await transport
        .call(address, 'peer.get', { key: 'a' }, { timeoutMs: 50 })
        .catch((e) => e);
      expect(error).to.be.instanceOf(TimeoutError);
      expect((error as Error).message).to.equal(`peer.get to ${address} timed out`);
      peer.answer = (calls, socket) =>
        socket.write(`${JSON.stringify(calls.map(({ id }) => ({ jsonrpc: '2.0', id, result: 1 })))}\n`);
      expect(await transport.call(address, 'peer.get', { key: 'a' })).to.equal(1);
      expect(peer.upgrades).to.have.length(2);
    });

    it('fails the calls of a stream that closes with a ConnectionError', async () => {
      peer.answer = (_calls, socket) => socket.destroy();
      const error = await transport.call(address, 'peer.get', { key: 'a' }).catch((e) => e);
      expect(error).to.be.instanceOf(ConnectionError);
      expect((error as Error).message).to.equal(`peer.get to ${address} failed: the connection closed`);
    });

    it('says a peer that is not there refused the connection', async () => {
      await peer.close();
      const error = await transport.call(address, 'peer.get', { key: 'a' }).catch((e) => e);
      expect(error).to.be.instanceOf(ConnectionError);
      expect((error as Error).message).to.match(new RegExp(`^peer.get to ${address} failed: .*ECONNREFUSED`));
    });

    it('fails the calls when a peer takes the connection and closes it before answering the switch', async () => {
      const rude = createNetServer((socket) => socket.destroy());
      await new Promise<void>((resolve) => rude.listen(0, '127.0.0.1', resolve));
      const rudeAddress = `127.0.0.1:${(rude.address() as AddressInfo).port}`;
      try {
        const error = await transport.call(rudeAddress, 'peer.get', { key: 'a' }).catch((e) => e);
        expect(error).to.be.instanceOf(ConnectionError);
        expect((error as Error).message).to.match(new RegExp(`^peer.get to ${rudeAddress} failed: `));
      } finally {
        await new Promise((resolve) => rude.close(resolve));
      }
    });

    it('maps a refused stream to the JSON-RPC error the peer sent, or to its HTTP status', async () => {
      const body = JSON.stringify({
        jsonrpc: '2.0',
        id: null,
        error: { code: 1004, message: 'wrong token' },
      });
      peer.refuseWith = `HTTP/1.1 401 Unauthorized\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
      const unauthorised = await transport.call(address, 'peer.get', { key: 'a' }).catch((e) => e);
      expect(unauthorised).to.be.instanceOf(UnauthorizedError);
      expect((unauthorised as Error).message).to.equal('wrong token');
      peer.refuseWith = 'HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n';
      const refused = await transport.call(address, 'peer.get', { key: 'a' }).catch((e) => e);
      expect((refused as Error).message).to.equal(`${address} refused the peer stream: HTTP 404`);
    });

    it('refuses a peer that answers as a node of another cluster; logs a refusal once until a stream opens, never a stopping peer', async () => {
      const log = warnings();
      const blue = new StreamPeerTransport({ clusterName: 'blue', logger: log });
      /** Calls until the peer is asked anew (the first call after a break may fail on the old stream). */
      const callAnew = async () => {
        const before = peer.upgrades.length;
        let outcome: unknown;
        for (let attempt = 0; attempt < 20 && peer.upgrades.length === before; attempt++) {
          outcome = await blue.call(address, 'peer.get', { key: 'a' }).catch((e) => e);
        }
        expect(peer.upgrades.length, 'a new stream asked for').to.be.above(before);
        return outcome;
      };
      const foreignLine = `peer stream to ${address} refused: ${address} is in cluster "red", not "blue" (--cluster-name); nodes of two clusters do not talk to each other`;
      try {
        peer.cluster = 'red';
        for (let attempt = 0; attempt < 2; attempt++) {
          expect(await callAnew()).to.be.instanceOf(InvalidRequestError);
        }
        expect(peer.frames, 'nothing sent to the other cluster').to.have.length(0);
        expect(log.lines).to.deep.equal([foreignLine]);

        peer.cluster = 'blue';
        expect(await callAnew()).to.equal('peer.get');
        for (const socket of peer.sockets) socket.destroy();
        peer.cluster = 'red';
        expect(await callAnew()).to.be.instanceOf(InvalidRequestError);
        expect(log.lines, 'logged again after a stream had opened').to.deep.equal([foreignLine, foreignLine]);

        const stopping = JSON.stringify({
          jsonrpc: '2.0',
          id: null,
          error: { code: 1003, message: 'stopping' },
        });
        peer.refuseWith = `HTTP/1.1 503 Service Unavailable\r\ncontent-length: ${stopping.length}\r\n\r\n${stopping}`;
        await callAnew();
        expect(log.lines, 'a stopping peer is not reported').to.have.length(2);

        const forged = JSON.stringify({
          jsonrpc: '2.0',
          id: null,
          error: { code: -32600, message: 'no\nWARN forged' },
        });
        peer.refuseWith = `HTTP/1.1 403 Forbidden\r\ncontent-length: ${forged.length}\r\n\r\n${forged}`;
        await callAnew();
        expect(log.lines[2], 'a line break in the reason does not make a log line').to.equal(
          `peer stream to ${address} refused: no WARN forged`,
        );
      } finally {
        await blue.close();
      }
    });

    it('keeps frames within the peers’ byte and batch limits', async () => {
      const small = new StreamPeerTransport({ maxFrameBytes: 3_000, maxBatch: 2 });
      try {
        const value = 'v'.repeat(400);
        await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            small.call(address, 'peer.put', { key: `k${i}`, value } as never),
          ),
        );
        expect(peer.frames.map((frame) => frame.length)).to.deep.equal([2, 2, 2]);
        peer.frames.length = 0;
        // About 1,650 bytes a call, two-byte characters counted as two: two calls would pass 3,000 bytes.
        await Promise.all(
          Array.from({ length: 4 }, (_, i) =>
            small.call(address, 'peer.put', {
              key: `k${i}`,
              value: i % 2 ? 'v'.repeat(1_600) : 'é'.repeat(800),
            } as never),
          ),
        );
        expect(
          peer.frames.map((frame) => frame.length),
          '3,000 bytes at most a frame',
        ).to.deep.equal([1, 1, 1, 1]);
        // A call that no frame could hold fails alone, with TooLargeError, and the stream stays up.
        const frames = peer.frames.length;
        const over = await small
          .call(address, 'peer.put', { key: 'big', value: 'v'.repeat(3_000) } as never)
          .catch((e: unknown) => e);
        expect(over).to.be.instanceOf(TooLargeError);
        expect(peer.frames.length, 'nothing sent').to.equal(frames);
        await small.call(address, 'peer.put', { key: 'small', value: 'v' } as never);
        expect(peer.frames.length).to.equal(frames + 1);
      } finally {
        await small.close();
      }
    });

    it('on close, drops a stream request still unanswered and fails its calls', async () => {
      peer.silent = true;
      const call = transport.call(address, 'peer.get', { key: 'a' }).catch((e) => e);
      await until('the stream request', () => peer.sockets.length === 1);
      const dropped = new Promise((resolve) => defined(peer.sockets[0]).once('end', resolve));
      await transport.close();
      const error = await call;
      expect(error).to.be.instanceOf(ConnectionError);
      expect((error as Error).message).to.equal(`peer.get to ${address} failed: this node is stopping`);
      await dropped;
    });

    it('fails the calls, and nothing else, when node:http refuses to send the token', async () => {
      const untidy = new StreamPeerTransport({ peerToken: 's3cr€t' });
      try {
        const error = await untidy.call(address, 'peer.get', { key: 'a' }).catch((e) => e);
        expect(error).to.be.instanceOf(ConnectionError);
        expect((error as Error).message).to.match(/^peer\.get to .* failed: /);
      } finally {
        await untidy.close();
      }
    });

    it('fails calls at once after close', async () => {
      await transport.close();
      const error = await transport.call(address, 'peer.get', { key: 'a' }).catch((e) => e);
      expect(error).to.be.instanceOf(ConnectionError);
    });
  });

  describe('a node answering peer streams', () => {
    let node: KVNode;
    let address: string;
    const nodeLog = warnings();

    before(async () => {
      node = await KVNode.start(
        {
          host: '127.0.0.1',
          port: await freePort(),
          authToken: 'tok',
          limits: { maxBodyBytes: 2_000, maxBatch: 4 },
        },
        { logger: nodeLog },
      );
      address = `127.0.0.1:${node.port}`;
    });

    after(async () => {
      await node?.stop({ announce: false });
    });

    /** Opens a raw stream and returns its socket, the status line it got, and every line after the head. */
    async function open(
      headers: string,
      requestLine = 'GET /peer',
    ): Promise<{
      socket: Socket;
      status: () => string;
      head: () => string;
      body: () => string;
      lines: string[];
    }> {
      const socket = connect({ host: '127.0.0.1', port: node.port });
      socket.on('error', () => {});
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      socket.write(`${requestLine} HTTP/1.1\r\nhost: ${address}\r\n${headers}\r\n`);
      const lines: string[] = [];
      const status = () => text.slice(0, text.indexOf('\r\n'));
      await until('the answer to the upgrade', () => text.includes('\r\n\r\n'));
      socket.on('data', () => {
        lines.splice(
          0,
          lines.length,
          ...text
            .slice(text.indexOf('\r\n\r\n') + 4)
            .split('\n')
            .filter(Boolean),
        );
      });
      const body = () => text.slice(text.indexOf('\r\n\r\n') + 4);
      const head = () => text.slice(0, text.indexOf('\r\n\r\n'));
      return { socket, status, head, body, lines };
    }

    const upgrade = `connection: upgrade\r\nupgrade: ${PEER_PROTOCOL}\r\nkvdb-cluster: kvdb\r\n`;
    /** A stream request with the token and no cluster named, for the cluster header to be added or left out. */
    const unnamed = `connection: upgrade\r\nupgrade: ${PEER_PROTOCOL}\r\nauthorization: Bearer tok\r\n`;

    it('answers frames on one line each and keeps going after a bad one', async () => {
      const { socket, status, lines } = await open(`${upgrade}authorization: Bearer tok\r\n`);
      try {
        expect(status()).to.equal('HTTP/1.1 101 Switching Protocols');
        socket.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' })}\n{"jsonrpc":\n`);
        socket.write(Buffer.from([0xff, 0xfe, 0x0a]));
        socket.write(
          `${JSON.stringify([1, 2, 3, 4, 5].map((id) => ({ jsonrpc: '2.0', id, method: 'ping' })))}\n`,
        );
        socket.write(
          `${JSON.stringify([
            { jsonrpc: '2.0', id: 7, method: 'peer.get', params: { key: '' } },
            { jsonrpc: '2.0', id: 8, method: 'ping' },
          ])}\n`,
        );
        await until('five answers', () => lines.length === 5);
        // Frames may overtake each other: errors found before any call are answered at once.
        const replies = lines.map((line) => JSON.parse(line));
        const single = replies.filter((reply) => !Array.isArray(reply));
        const batch = replies.find((reply) => Array.isArray(reply)) ?? [];
        expect(single.find((reply) => reply.id === 1)).to.deep.equal({
          jsonrpc: '2.0',
          id: 1,
          result: 'pong',
        });
        expect(
          single.filter((reply) => reply.id === null).map((reply) => reply.error.message),
        ).to.have.members([
          'Parse error: Unexpected end of JSON input',
          'Parse error: the frame is not valid UTF-8',
          'Batch of 5 requests; the limit is 4 (--max-batch)',
        ]);
        expect(batch.map((reply: { id: number }) => reply.id)).to.deep.equal([7, 8]);
        expect(batch[0].error.code).to.equal(ErrorCode.INVALID_PARAMS);
        expect(batch[1].result).to.equal('pong');
      } finally {
        socket.destroy();
      }
    });

    it('answers no line to a frame of notifications, and answers id null and a nested batch', async () => {
      const { socket, lines } = await open(`${upgrade}authorization: Bearer tok\r\n`);
      try {
        socket.write('[{"jsonrpc":"2.0","method":"ping"},{"jsonrpc":"2.0","method":"nope"}]\n');
        socket.write('{"jsonrpc":"2.0","id":null,"method":"ping"}\n');
        socket.write('[[{"jsonrpc":"2.0","id":5,"method":"ping"}]]\n');
        socket.write('{"jsonrpc":"2.0","id":9,"method":"ping"}\n');
        await until('the answer to the last frame', () => lines.some((line) => line.includes('"id":9')));
        const replies = lines.map((line) => JSON.parse(line));
        expect(replies, 'nothing for the notifications').to.have.length(3);
        expect(replies).to.deep.include({ jsonrpc: '2.0', id: null, result: 'pong' });
        const nested = replies.find(Array.isArray) as Array<{ id: unknown; error: { code: number } }>;
        expect(nested.map(({ id, error }) => [id, error.code])).to.deep.equal([
          [null, ErrorCode.INVALID_REQUEST],
        ]);
      } finally {
        socket.destroy();
      }
    });

    it('closes a stream that sends a frame over --max-body-bytes, saying why', async () => {
      const { socket, lines } = await open(`${upgrade}authorization: Bearer tok\r\n`);
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.write('x'.repeat(2_500));
      await closed;
      expect(JSON.parse(defined(lines[0], 'a reply line')).error).to.deep.equal({
        code: ErrorCode.TOO_LARGE,
        message: 'Frame over 2000 bytes (--max-body-bytes)',
        data: { limit: 2_000 },
      });
    });

    it('refuses a stream without the token, for another protocol or by POST, and stays up', async () => {
      const noToken = await open(upgrade);
      expect(noToken.status()).to.equal('HTTP/1.1 401 Unauthorized');
      noToken.socket.destroy();
      const other = await open('connection: upgrade\r\nupgrade: websocket\r\nauthorization: Bearer tok\r\n');
      expect(other.status()).to.equal('HTTP/1.1 400 Bad Request');
      other.socket.destroy();
      const post = await open(`${upgrade}authorization: Bearer tok\r\n`, 'POST /peer');
      expect(post.status()).to.equal('HTTP/1.1 400 Bad Request');
      post.socket.destroy();
      const transport = new StreamPeerTransport({ peerToken: 'wrong' });
      try {
        const error = await transport.call(address, 'peer.ping', {} as never).catch((e) => e);
        expect(error).to.be.instanceOf(UnauthorizedError);
      } finally {
        await transport.close();
      }
      const good = new StreamPeerTransport({ peerToken: 'tok' });
      try {
        expect(await good.call(address, 'peer.get', { key: 'nothing' })).to.equal(null);
      } finally {
        await good.close();
      }
    });

    it('refuses a stream from another cluster, each side logging it once, and names its own when it switches', async () => {
      const body = async (stream: Awaited<ReturnType<typeof open>>) => {
        await until('the refusal to close', () => stream.socket.readableEnded);
        return JSON.parse(stream.body()) as { error: { code: number; message: string } };
      };
      const foreign = await open(`${unnamed}kvdb-cluster: green\r\n`);
      expect(foreign.status()).to.equal('HTTP/1.1 403 Forbidden');
      const { error } = await body(foreign);
      expect(error.code).to.equal(ErrorCode.INVALID_REQUEST);
      expect(error.message).to.include(`${address} is in cluster "kvdb", not "green"`);
      const named = await open(`${unnamed}kvdb-cluster: kvdb\r\n`);
      expect(named.status()).to.equal('HTTP/1.1 101 Switching Protocols');
      expect(named.head(), 'the answer names the cluster').to.match(/\r\nkvdb-cluster: kvdb(\r\n|$)/);
      named.socket.destroy();

      const log = warnings();
      const green = new StreamPeerTransport({ peerToken: 'tok', clusterName: 'green', logger: log });
      try {
        for (let attempt = 0; attempt < 2; attempt++) {
          const refused = await green.call(address, 'peer.get', { key: 'a' }).catch((e) => e);
          expect(refused).to.be.instanceOf(InvalidRequestError);
        }
      } finally {
        await green.close();
      }
      expect(log.lines).to.deep.equal([
        `peer stream to ${address} refused: ${address} is in cluster "kvdb", not "green" (--cluster-name); nodes of two clusters do not talk to each other`,
      ]);
      expect(nodeLog.lines.filter((line) => line.includes('green'))).to.deep.equal([
        'refused a peer stream from a node of cluster "green" (at 127.0.0.1): this node is in cluster "kvdb"',
      ]);
      expect(await node.coordinator.get('a'), 'the node still answers').to.equal('null');
    });

    it('takes a stream that names no cluster (an older kvdb), logging that once', async () => {
      for (let attempt = 0; attempt < 2; attempt++) {
        const stream = await open(unnamed);
        expect(stream.status()).to.equal('HTTP/1.1 101 Switching Protocols');
        stream.socket.destroy();
      }
      expect(nodeLog.lines.filter((line) => line.includes('names no cluster'))).to.have.length(1);
    });
  });
});
