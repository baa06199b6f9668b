import { request } from 'node:http';
import { connect } from 'node:net';
import { KVClient, TooLargeError } from '@kvdb/client';
import { expect } from 'chai';
import { TestCluster } from './helpers/cluster.js';

/**
 * A POST whose body is `chunks` chunks of `chunkBytes`, streamed without a length, as a client uploading would.
 * Settles once the request is closed (node:http stops sending a body once its reply is complete), or failed:
 * `error` says how.
 */
function streamPost(
  port: number,
  chunks: number,
  chunkBytes: number,
): Promise<{ status: number; body: string; error?: Error }> {
  return new Promise((resolve) => {
    let status = 0;
    let body = '';
    const settle = (error?: Error) => resolve({ status, body, error });
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/', headers: { 'content-type': 'application/json' } },
      (res) => {
        status = res.statusCode ?? 0;
        res.on('data', (chunk: Buffer) => {
          body += chunk.toString();
        });
      },
    );
    req.on('error', settle);
    req.on('close', () => settle());
    const chunk = Buffer.alloc(chunkBytes, 0x20);
    let written = 0;
    const write = (): void => {
      while (written < chunks) {
        written += 1;
        if (!req.write(chunk)) {
          req.once('drain', write);
          return;
        }
      }
      req.end();
    };
    write();
  });
}

describe('a node’s request limits, over real connections', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let port: number;

  before(async () => {
    cluster = await TestCluster.start({ size: 1, replicas: 1 });
    port = cluster.node(0).port;
  });

  after(async () => {
    await cluster?.stop();
  });

  it('sends KVClient a 413 it reads as TooLargeError for a 9 MB value, every time, and keeps serving', async () => {
    const client = new KVClient({ host: '127.0.0.1', port });
    const value = 'x'.repeat(9 * 1_048_576);
    for (let attempt = 0; attempt < 5; attempt++) {
      const error = await client.set(`big-${attempt}`, value).then(
        () => undefined,
        (failure: Error) => failure,
      );
      expect(error, `attempt ${attempt}`).to.be.instanceOf(TooLargeError);
      expect(error?.message).to.match(/over 8388608 bytes/);
    }
    expect(await client.ping()).to.equal('pong');
  });

  it('answers a client streaming 100 MB with a 413 it reads, not a reset', async () => {
    const reply = await streamPost(port, 100, 1_048_576);
    expect(reply.error, 'the connection failed').to.equal(undefined);
    expect(reply.status).to.equal(413);
    expect(JSON.parse(reply.body).error.code).to.equal(1005);
    expect(await new KVClient({ host: '127.0.0.1', port }).ping()).to.equal('pong');
  });

  it('cuts a connection that trickles its headers within about 10 s', async () => {
    const socket = connect(port, '127.0.0.1');
    const started = Date.now();
    socket.on('error', () => {});
    socket.write('POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    // One header byte every 200 ms: never idle for long, never done.
    const trickle = setInterval(() => socket.write('a'), 200);
    try {
      const closedAfter = await new Promise<number>((resolve, reject) => {
        const bound = setTimeout(() => reject(new Error('still open after 20 s')), 20_000);
        socket.once('close', () => {
          clearTimeout(bound);
          resolve(Date.now() - started);
        });
      });
      expect(closedAfter).to.be.within(9_000, 12_000);
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
  });
});
