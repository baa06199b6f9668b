import { request } from 'node:http';

/** A JSON-RPC reply object, or a batch of them. */
export interface RpcReply {
  id?: number | string | null;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export interface RawReply {
  status: number;
  body: string;
  /** The parsed body: a reply, a batch of replies, or undefined when it was not JSON. */
  json: RpcReply | RpcReply[] | undefined;
}

/** A raw HTTP POST to a node (or another method, to another path), for what KVClient would never send. */
export function rawPost(
  port: number,
  body: string | Buffer,
  headers: Record<string, string> = { 'content-type': 'application/json' },
  method = 'POST',
  path = '/',
): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: RawReply['json'];
        try {
          json = text === '' ? undefined : JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body: text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A JSON-RPC call through rawPost, returning the parsed reply. */
export async function rpc(
  port: number,
  method: string,
  params?: unknown,
  id: number | string = 1,
): Promise<RpcReply> {
  return single(await rawPost(port, JSON.stringify({ jsonrpc: '2.0', id, method, params })));
}

/** The one reply of a non-batch request; throws if the body was a batch or not JSON. */
export function single(reply: RawReply): RpcReply {
  if (reply.json === undefined || Array.isArray(reply.json)) {
    throw new Error(`expected one JSON-RPC reply, got ${reply.body}`);
  }
  return reply.json;
}
