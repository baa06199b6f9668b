#!/usr/bin/env node
// The floor under BENCHMARKS.md's cluster figures: the least a 3-node replicated key-value store on node:http
// can do, run under the same `kvdb-bench` load as a kvdb cluster.
//
//   node packages/bench/scripts/bench-floor.mjs [--port-base P] -- set -c 32 -d 10s
//
// Each of its three processes answers JSON-RPC `set`, `get` and `ping` on POST / as the reference server does,
// and replicates as kvdb does with R=3 and quorum reads and writes: a set is stamped with a version, kept
// locally and sent to both peers, and answered once one peer has acked; a get asks one peer and answers with the
// newer of the two records. Peer calls travel as newline-delimited JSON frames on one TCP connection per peer,
// one frame per turn of the event loop. Nothing else: no validation, timeouts, digests, hints, membership or
// failure handling. What a kvdb node spends beyond this floor is the price of those, and of its own overhead.
// Versions compare as kvdb's do (`newerRecord`). Needs a build (`npm run build`).
import { createServer } from 'node:http';
import { connect, createServer as createTcpServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { newerRecord } from '@kvdb/core';
import { runBench, scriptArgs } from './bench-common.mjs';

if (process.argv[2] === '--serve') serve(Number(process.argv[3]), process.argv[4].split(',').map(Number));
else await bench();

async function bench() {
  const { values, benchArgs } = scriptArgs({ 'port-base': { type: 'string', default: '6950' } });
  const base = Number(values['port-base']);
  const ports = [base, base + 1, base + 2];
  const self = fileURLToPath(import.meta.url);
  const { spawnNode, stopAllChildren } = await import('../dist/src/child-process.js');
  process.once('SIGINT', () => void stopAllChildren().finally(() => process.exit(130)));
  try {
    await Promise.all(
      ports.map((port) =>
        spawnNode(`floor node ${port}`, self, ['--serve', String(port), ports.join(',')]).waitFor(
          /listening on/,
          10_000,
        ),
      ),
    );
  } catch (error) {
    await stopAllChildren();
    throw error;
  }
  const targets = ports.map((port) => `127.0.0.1:${port}`).join(',');
  process.stderr.write(`bench-floor: 3 floor nodes, R=3, W=2, R=2, in memory: ${targets}\n`);
  const status = await runBench(benchArgs, targets);
  await stopAllChildren();
  process.exit(status);
}

/** One floor node: HTTP for clients on `port`, TCP for peers on `port + 1000`. */
function serve(port, ports) {
  const self = `127.0.0.1:${port}`;
  const records = new Map();
  const waiting = new Map();
  let nextId = 0;
  let lastWall = 0;
  let counter = 0;

  const stamp = () => {
    const now = Date.now();
    if (now > lastWall) [lastWall, counter] = [now, 0];
    else counter += 1;
    return { wall: lastWall, counter, node: self };
  };
  const keep = (key, record) => records.set(key, newerRecord(records.get(key), record));

  // Frames of [id, ...] arrays, one per turn of the event loop, newline-delimited.
  const link = (socket, onFrame) => {
    let out = [];
    let text = '';
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      text += chunk;
      for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n')) {
        onFrame(JSON.parse(text.slice(0, end)));
        text = text.slice(end + 1);
      }
    });
    return (item) => {
      if (out.push(item) > 1) return;
      setImmediate(() => {
        socket.write(`${JSON.stringify(out)}\n`);
        out = [];
      });
    };
  };

  createTcpServer((socket) => {
    const reply = link(socket, (frame) => {
      // A get is [id, key], a set [id, key, record].
      for (const [id, key, record] of frame) {
        if (record === undefined) reply([id, records.get(key) ?? null]);
        else {
          keep(key, record);
          reply([id, true]);
        }
      }
    });
  }).listen(port + 1000, '127.0.0.1');

  const peers = [];
  const call = (peer, key, record) =>
    new Promise((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      peer(record === undefined ? [id, key] : [id, key, record]);
    });
  const onReplies = (frame) => {
    for (const [id, result] of frame) {
      const resolve = waiting.get(id);
      waiting.delete(id);
      resolve?.(result);
    }
  };

  const answer = async (method, params) => {
    const key = Array.isArray(params) ? params[0] : params?.key;
    if (method === 'set') {
      const record = { value: Array.isArray(params) ? params[1] : params.value, version: stamp() };
      keep(key, record);
      await Promise.any(peers.map((peer) => call(peer, key, record)));
      return true;
    }
    if (method === 'get') {
      const record = newerRecord(records.get(key), (await call(peers[0], key)) ?? undefined);
      return record?.value ?? (Array.isArray(params) ? params[1] : params?.default) ?? null;
    }
    return 'pong';
  };

  const http = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', async () => {
      const { id, method, params } = JSON.parse(Buffer.concat(chunks).toString());
      const body = JSON.stringify({ jsonrpc: '2.0', id, result: await answer(method, params) });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  // Every node listens for peers first; a link is retried until its peer listens (a bounded number of times).
  const connected = (peerPort, attempts = 200) =>
    new Promise((resolve, reject) => {
      const socket = connect(peerPort, '127.0.0.1');
      socket.once('connect', () => resolve(socket));
      socket.once('error', (error) => {
        if (attempts <= 1) reject(error);
        else setTimeout(() => connected(peerPort, attempts - 1).then(resolve, reject), 50);
      });
    });
  Promise.all(ports.filter((other) => other !== port).map((other) => connected(other + 1000))).then(
    (sockets) => {
      for (const socket of sockets) peers.push(link(socket, onReplies));
      http.listen(port, '127.0.0.1', () => process.stdout.write(`floor node listening on ${self}\n`));
    },
    (error) => {
      process.stderr.write(`floor node ${self}: cannot reach its peers: ${error.message}\n`);
      process.exit(1);
    },
  );
  process.once('SIGTERM', () => process.exit(0));
}
