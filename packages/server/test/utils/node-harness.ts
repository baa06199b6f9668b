import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@kvdb/coordinator';

/** A port free on 127.0.0.1 now (KVNode wants a real port, not 0). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
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
