import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KVClient } from '@kvdb/client';
import { expect } from 'chai';

const IN_FLIGHT = 30;

describe('KVClient with many calls in flight', () => {
  it('answers them all and warns of no listener leak', async () => {
    // A stand-in node that holds every reply until IN_FLIGHT requests are waiting, so they are all in flight at once.
    const held: Array<{ res: ServerResponse; id: unknown }> = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      req.on('end', () => {
        held.push({ res, id: (JSON.parse(body) as { id: unknown }).id });
        if (held.length < IN_FLIGHT) return;
        for (const { res: each, id } of held.splice(0)) {
          each.setHeader('content-type', 'application/json');
          each.end(JSON.stringify({ jsonrpc: '2.0', id, result: 'pong' }));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    const kv = new KVClient({ port: (server.address() as AddressInfo).port, maxSockets: IN_FLIGHT });
    try {
      const answers = await Promise.all(Array.from({ length: IN_FLIGHT }, () => kv.ping()));
      expect(answers).to.deep.equal(Array(IN_FLIGHT).fill('pong'));
      // Node emits warnings on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.map(String)).to.deep.equal([]);
    } finally {
      process.off('warning', onWarning);
      await kv.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
