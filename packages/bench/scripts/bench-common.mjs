// What the bench scripts share (not a script to run): their command line, and starting `kvdb-bench`.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

/** The `kvdb-bench` binary of this package. */
export const benchBin = fileURLToPath(new URL('../bin/kvdb-bench.js', import.meta.url));

/**
 * Splits the command line at `--`: the script's own options before it, parsed with `options`, and the arguments
 * for `kvdb-bench` after it.
 */
export function scriptArgs(options) {
  const dash = process.argv.indexOf('--');
  const own = dash === -1 ? process.argv.slice(2) : process.argv.slice(2, dash);
  const benchArgs = dash === -1 ? [] : process.argv.slice(dash + 1);
  return { values: parseArgs({ args: own, options }).values, benchArgs };
}

/** Runs `kvdb-bench` with `benchArgs` against `targets`, on this terminal; resolves with its exit status. */
export function runBench(benchArgs, targets) {
  const bench = spawn(process.execPath, [benchBin, ...benchArgs, '--targets', targets], {
    stdio: 'inherit',
  });
  return new Promise((resolve) => bench.once('exit', (code) => resolve(code ?? 1)));
}

/** A JSON-RPC caller over a small keep-alive pool to one node; `close()` it when done. */
export function rpcClient(host, port, connections = 4) {
  const pool = new Pool(`http://${host}:${port}`, { connections });
  const call = async (body) => {
    const response = await pool.request({
      method: 'POST',
      path: '/',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return response.body.json();
  };
  return Object.assign(call, { close: () => pool.close() });
}

/**
 * Writes `keys` keys `key:i`, each value `i:` padded with `v` to `valueSize` characters, in JSON-RPC batches of
 * `batch` sets over `loaders` connections at once; logs every 100,000.
 */
export async function loadKeys(rpc, { keys, valueSize, batch = 100, loaders = 4, log = () => {} }) {
  let next = 0;
  await Promise.all(
    Array.from({ length: loaders }, async () => {
      while (next < keys) {
        const from = next;
        next = Math.min(keys, next + batch);
        const calls = [];
        for (let i = from; i < next; i++) {
          const value = `${i}:`.padEnd(valueSize, 'v');
          calls.push({ jsonrpc: '2.0', id: i, method: 'set', params: { key: `key:${i}`, value } });
        }
        const replies = await rpc(calls);
        const failed = replies.find((reply) => reply.error !== undefined);
        if (failed) throw new Error(`set failed: ${JSON.stringify(failed.error)}`);
        if (next % 100_000 < batch) log(`  loaded ${next.toLocaleString('en-US')}`);
      }
    }),
  );
}
