import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeNodeInit {
  /** Every data request (not ping) is answered this long after it arrives. @default 0 */
  replyDelayMs?: number;
  /** At the `after`th data request (from 1) the node stalls for `ms`: no reply goes out until the stall ends. */
  stall?: { after: number; ms: number };
}

export interface FakeNode {
  port: number;
  /** The data requests it took, in order, with the connection each came on (a number per connection). */
  calls: Array<{ method: string; params: Record<string, unknown>; connection: number }>;
  close(): Promise<void>;
}

/**
 * A JSON-RPC node on 127.0.0.1 that answers `ping`, `get`, `set` and `mget` from a Map, slowly or with one stall
 * when asked: a stand-in for a node under test that stops answering for a while.
 */
export async function startFakeNode(init: FakeNodeInit = {}): Promise<FakeNode> {
  const store = new Map<string, unknown>();
  const calls: FakeNode['calls'] = [];
  let stallUntil = 0;
  let connections = 0;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const call = JSON.parse(Buffer.concat(chunks).toString()) as {
        id: number;
        method: string;
        params: Record<string, unknown>;
      };
      const reply = (result: unknown) => {
        const body = JSON.stringify({ jsonrpc: '2.0', id: call.id, result });
        response.writeHead(200, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        });
        response.end(body);
      };
      if (call.method === 'ping') return reply('pong');
      const connection = (request.socket as { benchId?: number }).benchId ?? 0;
      calls.push({ method: call.method, params: call.params, connection });
      if (calls.length === init.stall?.after) stallUntil = performance.now() + init.stall.ms;
      const key = String(call.params.key);
      if (call.method === 'set') store.set(key, call.params.value);
      const answer =
        call.method === 'set'
          ? true
          : call.method === 'mget'
            ? (call.params.keys as string[]).map((one) => store.get(one) ?? null)
            : (store.get(key) ?? null);
      const delay = Math.max(init.replyDelayMs ?? 0, stallUntil - performance.now());
      if (delay > 0) setTimeout(() => reply(answer), delay);
      else reply(answer);
    });
  });
  server.on('connection', (socket) => {
    (socket as { benchId?: number }).benchId = connections++;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    calls,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Starts fake nodes for the tests of the calling `describe`; each is closed after its test. */
export function fakeNodes(): (init?: FakeNodeInit) => Promise<FakeNode> {
  const started: FakeNode[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((node) => node.close()));
  });
  return async (init) => {
    const node = await startFakeNode(init);
    started.push(node);
    return node;
  };
}
