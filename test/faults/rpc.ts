import { request } from 'node:http';
import type { RpcReply } from '../helpers/raw.js';

/** One JSON-RPC call, straight to a node (no proxy), bounded by `timeoutMs`. */
export async function call(
  port: number,
  method: string,
  params: unknown,
  timeoutMs: number,
): Promise<RpcReply> {
  const reply = await post(port, JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }), timeoutMs);
  if (Array.isArray(reply)) throw new Error(`expected one reply to ${method}`);
  return reply;
}

/** A JSON-RPC batch; resolves with the replies in the order of `calls`. */
export async function batch(
  port: number,
  calls: ReadonlyArray<{ method: string; params: unknown }>,
  timeoutMs: number,
): Promise<Array<RpcReply | undefined>> {
  const body = JSON.stringify(
    calls.map(({ method, params }, id) => ({ jsonrpc: '2.0', id, method, params })),
  );
  const replies = await post(port, body, timeoutMs);
  const byId = new Map((Array.isArray(replies) ? replies : [replies]).map((reply) => [reply.id, reply]));
  return calls.map((_, id) => byId.get(id));
}

function post(port: number, body: string, timeoutMs: number): Promise<RpcReply | RpcReply[]> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/',
        headers: { 'content-type': 'application/json' },
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as RpcReply | RpcReply[]);
          } catch (error) {
            reject(error);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no reply from 127.0.0.1:${port} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
