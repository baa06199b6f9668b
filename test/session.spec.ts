import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KVClient } from '@kvdb/client';
import { expect } from 'chai';

/**
 * A stand-in for a node that answers every call with `true` and the next of `tokens` in kvdb-session, and records
 * the kvdb-session each call carried: what KVClient sends back is all that is checked here (how a node stamps
 * above a session is checked in packages/server/test/http-front-end.spec.ts).
 */
async function stubNode(
  tokens: string[],
): Promise<{ server: Server; port: number; received: Array<string | undefined> }> {
  const received: Array<string | undefined> = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      const header = req.headers['kvdb-session'];
      received.push(typeof header === 'string' ? header : undefined);
      const { id } = JSON.parse(body) as { id: unknown };
      const token = tokens.shift();
      if (token !== undefined) res.setHeader('kvdb-session', token);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ jsonrpc: '2.0', id, result: true }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, received };
}

describe('KVClient sessions', () => {
  let server: Server | undefined;

  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  });

  it('sends back the highest session token any reply carried, and starts from one it is given', async () => {
    const stub = await stubNode(['100.0', '100.3', '99.9', 'garbage', '101.0']);
    server = stub.server;
    const client = new KVClient({ port: stub.port, session: '50.1' });
    try {
      for (let i = 0; i < 6; i++) await client.set(`k${i}`, i);
      expect(stub.received).to.deep.equal(['50.1', '100.0', '100.3', '100.3', '100.3', '101.0']);
      expect(client.session).to.equal('101.0');
    } finally {
      await client.close();
    }
  });

  it('sends no session before it has one', async () => {
    const stub = await stubNode([]);
    server = stub.server;
    const client = new KVClient({ port: stub.port });
    try {
      await client.set('k', 1);
      expect(stub.received).to.deep.equal([undefined]);
      expect(client.session).to.equal(undefined);
    } finally {
      await client.close();
    }
  });
});
