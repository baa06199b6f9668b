import { type IncomingHttpHeaders, request } from 'node:http';
import type { Logger } from '@kvdb/coordinator';
import { freePorts } from '../../src/local-cluster.js';

/** A port free on 127.0.0.1 now (KVNode wants a real port, not 0). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error('no free port on 127.0.0.1');
  return port;
}

/** A logger that keeps its WARN lines. */
export function warnings(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const none = () => {};
  return { lines, debug: none, info: none, warn: (line) => lines.push(line), error: none };
}

/** Polls `check` until it holds, for at most `ms`. */
export async function until(what: string, check: () => boolean, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export interface Posted {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body parsed as JSON; undefined when empty or not JSON. */
  json: unknown;
  /** The body as it came. */
  body: string;
}

/** A POST on a connection of its own; resolves with the reply, rejects with the connection's error. */
export function post(
  port: number,
  body: string | Buffer,
  headers: Record<string, string> = { 'content-type': 'application/json' },
  method = 'POST',
  path = '/',
): Promise<Posted> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          json: /json/.test(res.headers['content-type'] ?? '') && text !== '' ? JSON.parse(text) : undefined,
          body: text,
        }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}
