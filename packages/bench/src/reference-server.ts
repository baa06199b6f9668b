/**
 * The yardstick of `kvdb-bench --compare-reference` and `npm run bench:check`: the least a JSON-RPC key-value node
 * on node:http can do. It reads the body, JSON.parses it, answers `get`/`set`/`mget`/`ping` (named or positional
 * params) from a Map and JSON.stringifies the reply: no validation, no replication, no disk. A kvdb node doing the
 * same work with everything else besides is measured against it.
 *
 * Run it alone: `node packages/bench/dist/src/reference-server.js --port 7199`. It prints
 * `reference server listening on HOST:PORT` once it listens (`--port 0` picks a free port) and stops on SIGTERM.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_HOST, UsageError } from '@kvdb/core';

type RpcRequest = { id?: unknown; method?: unknown; params?: unknown };

export interface ReferenceServer {
  host: string;
  port: number;
  close(): Promise<void>;
}

export function startReferenceServer(
  options: { host?: string; port?: number } = {},
): Promise<ReferenceServer> {
  const store = new Map<string, unknown>();
  const server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => handle(store, req, res));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? DEFAULT_HOST, () => {
      const { address, port } = server.address() as AddressInfo;
      resolve({ host: address, port, close: () => closeServer(server) });
    });
  });
}

function handle(store: Map<string, unknown>, req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let reply: unknown;
    try {
      const request = JSON.parse(Buffer.concat(chunks).toString()) as RpcRequest | RpcRequest[];
      reply = Array.isArray(request) ? request.map((one) => answer(store, one)) : answer(store, request);
    } catch {
      reply = { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } };
    }
    const body = JSON.stringify(reply);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

function answer(store: Map<string, unknown>, request: RpcRequest): unknown {
  const id = request.id ?? null;
  const params = request.params as Record<string, unknown> | unknown[] | undefined;
  const param = (name: string, position: number) =>
    Array.isArray(params) ? params[position] : params?.[name];
  switch (request.method) {
    case 'get': {
      const key = String(param('key', 0));
      return { jsonrpc: '2.0', id, result: store.has(key) ? store.get(key) : (param('default', 1) ?? null) };
    }
    case 'mget': {
      const keys = param('keys', 0);
      const result = Array.isArray(keys) ? keys.map((key) => store.get(String(key)) ?? null) : [];
      return { jsonrpc: '2.0', id, result };
    }
    case 'set':
      store.set(String(param('key', 0)), param('value', 1));
      return { jsonrpc: '2.0', id, result: true };
    case 'ping':
      return { jsonrpc: '2.0', id, result: 'pong' };
    default:
      return { jsonrpc: '2.0', id, error: { code: -32601, message: 'Method not found' } };
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { host: { type: 'string', short: 'H' }, port: { type: 'string', short: 'P' } },
  });
  const port = Number(values.port ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new UsageError('Expected `--port` to be an integer from 0 to 65535');
  }
  const server = await startReferenceServer({ host: values.host ?? DEFAULT_HOST, port });
  process.stdout.write(`reference server listening on ${server.host}:${server.port}\n`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(`reference-server: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
