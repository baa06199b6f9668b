#!/usr/bin/env node
// Consistency checks on a 3-node cluster of real kvdb-server processes (R=3) on 127.0.0.1, every operation
// recorded with its call and answer times:
//
//   node packages/bench/scripts/consistency-runs.mjs --scenario pop-race [--runs 10] [--seconds 20]
//     20 clients set (each value written once), pop and get 50 shared keys at quorum through all three nodes,
//     about 2,000 operations/s. Fails if a value a pop returned is read or popped again by an operation that began
//     after that pop ended (no set writes a value twice, so nothing may bring it back), which also covers two pops
//     that do not overlap returning the same write.
//   node packages/bench/scripts/consistency-runs.mjs --scenario cas-counter --fault kill|pause [--seconds 30]
//     10 clients increment one counter with cas (expected: the value a serial get read) through all three
//     durable nodes; a third of the way in, node 2 is killed (restarted 5 s later) or paused (resumed 5 s later).
//     Fails unless swaps acknowledged <= final value <= swaps acknowledged + calls with an unknown outcome (the
//     node said so, or the client timed out).
//   node packages/bench/scripts/consistency-runs.mjs --scenario race [--keys 1000]
//     3 clients race cas without expected, then set with ifAbsent, on fresh keys: exactly one winner per key;
//     then set with ifPresent on missing keys stores nothing.
//
// --bin runs another build's kvdb-server script, to compare. Needs a build (`npm run build`); every process it
// starts is killed before it exits.
import { parseArgs } from 'node:util';
import { KVClient } from '@kvdb/client';
import { startLocalCluster } from '@kvdb/server';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'pop-race' },
    runs: { type: 'string', default: '1' },
    seconds: { type: 'string' },
    fault: { type: 'string', default: 'kill' },
    keys: { type: 'string', default: '1000' },
    bin: { type: 'string' },
  },
});
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function withCluster(options, body) {
  const bin = values.bin === undefined ? {} : { bin: values.bin };
  const cluster = await startLocalCluster({
    nodes: 3,
    replicas: 3,
    ready: 'members',
    logLevel: 'warn',
    ...bin,
    ...options,
  });
  const clients = cluster.nodes.map(
    (node) => new KVClient({ host: '127.0.0.1', port: node.port, timeoutMs: 5_000 }),
  );
  try {
    return await body(cluster, clients);
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await cluster.stop();
  }
}

async function popRace(seconds) {
  return withCluster({}, async (_cluster, nodes) => {
    const history = [];
    const started = performance.now();
    const deadline = started + seconds * 1_000;
    const worker = async (id) => {
      let seq = 0;
      while (performance.now() < deadline) {
        const key = `k${Math.floor(Math.random() * 50)}`;
        const client = nodes[Math.floor(Math.random() * 3)];
        const roll = Math.random();
        const op = roll < 0.4 ? 'set' : roll < 0.7 ? 'pop' : 'get';
        const value = `c${id}-${seq++}`;
        const entry = {
          op,
          key,
          value: op === 'set' ? value : undefined,
          invoke: performance.now() - started,
        };
        try {
          if (op === 'set') await client.set(key, value);
          else entry.result = op === 'pop' ? await client.pop(key) : await client.get(key);
          entry.outcome = 'ok';
        } catch {
          entry.outcome = 'fail';
        }
        entry.complete = performance.now() - started;
        history.push(entry);
        const pace = 10 - (entry.complete - entry.invoke);
        if (pace > 0) await sleep(pace);
      }
    };
    await Promise.all(Array.from({ length: 20 }, (_, id) => worker(id)));
    const popped = new Map();
    for (const entry of history) {
      if (entry.op === 'pop' && entry.outcome === 'ok' && entry.result !== null) {
        const ended = popped.get(entry.result);
        if (ended === undefined || entry.complete < ended.complete) popped.set(entry.result, entry);
      }
    }
    const comebacks = history.filter((entry) => {
      if (entry.outcome !== 'ok' || entry.op === 'set' || entry.result === null) return false;
      const pop = popped.get(entry.result);
      return pop !== undefined && pop !== entry && entry.invoke > pop.complete;
    });
    const ops = history.length;
    const failed = history.filter((entry) => entry.outcome !== 'ok').length;
    return {
      ops,
      perSecond: Math.round(ops / seconds),
      failed,
      pops: popped.size,
      comebacks: comebacks.length,
      first: comebacks[0],
    };
  });
}

async function casCounter(seconds, fault) {
  const dataDir = true;
  return withCluster({ dataDir }, async (cluster, nodes) => {
    await nodes[0].set('counter', 0, { consistency: 'serial' });
    const tally = { swapped: 0, lost: 0, unknown: 0, failed: 0, why: {} };
    const deadline = performance.now() + seconds * 1_000;
    const faulty = (async () => {
      await sleep((seconds * 1_000) / 3);
      if (fault === 'pause') await cluster.signal(2, 'SIGSTOP');
      else await cluster.kill(2);
      await sleep(5_000);
      if (fault === 'pause') await cluster.signal(2, 'SIGCONT');
      else await cluster.startNode(2);
    })();
    const worker = async (id) => {
      while (performance.now() < deadline) {
        const client = nodes[(id + Math.floor(Math.random() * 3)) % 3];
        try {
          const current = await client.get('counter', null, { consistency: 'serial' });
          const result = await client.cas('counter', current + 1, { expected: current });
          if (result.swapped) tally.swapped++;
          else tally.lost++;
        } catch (error) {
          // A cas the client gave up on may still have taken effect, as one the node says is unknown.
          if (error?.name === 'OutcomeUnknownError' || error?.name === 'TimeoutError') tally.unknown++;
          else tally.failed++;
          const message = String(error?.message);
          const why = /\((.*) after a replica/.exec(message)?.[1] ?? message.slice(0, 40);
          tally.why[why] = (tally.why[why] ?? 0) + 1;
        }
      }
    };
    await Promise.all(Array.from({ length: 10 }, (_, id) => worker(id)));
    await faulty;
    const final = await nodes[0].get('counter', null, { consistency: 'serial' });
    const ok = final >= tally.swapped && final <= tally.swapped + tally.unknown;
    return { fault, ...tally, final, ok };
  });
}

async function race(count) {
  return withCluster({}, async (_cluster, nodes) => {
    const tally = { casKeysWithOneWinner: 0, nxKeysWithOneWinner: 0, xxStored: 0, unknown: 0 };
    const settle = (promise) =>
      promise.catch((error) => (error?.name === 'OutcomeUnknownError' ? 'unknown' : Promise.reject(error)));
    for (let k = 0; k < count; k += 50) {
      const keys = Array.from({ length: Math.min(50, count - k) }, (_, i) => k + i);
      await Promise.all(
        keys.map(async (i) => {
          const cas = await Promise.all(
            nodes.map((client, c) => settle(client.cas(`cas:${i}`, c).then((r) => r.swapped))),
          );
          const nx = await Promise.all(
            nodes.map((client, c) => settle(client.set(`nx:${i}`, c, { ifAbsent: true }))),
          );
          const xx = await settle(nodes[i % 3].set(`xx:${i}`, 1, { ifPresent: true }));
          tally.unknown += [...cas, ...nx, xx].filter((r) => r === 'unknown').length;
          if (cas.filter((r) => r === true).length === 1) tally.casKeysWithOneWinner++;
          if (nx.filter((r) => r === true).length === 1) tally.nxKeysWithOneWinner++;
          if (xx === true || (await nodes[(i + 1) % 3].has(`xx:${i}`, { consistency: 'serial' })))
            tally.xxStored++;
        }),
      );
    }
    const ok =
      tally.casKeysWithOneWinner === count && tally.nxKeysWithOneWinner === count && tally.xxStored === 0;
    return { keys: count, ...tally, ok };
  });
}

let failed = false;
for (let run = 1; run <= Number(values.runs); run++) {
  let result;
  if (values.scenario === 'pop-race') {
    result = await popRace(Number(values.seconds ?? 20));
    failed ||= result.comebacks > 0;
  } else if (values.scenario === 'cas-counter') {
    result = await casCounter(Number(values.seconds ?? 30), values.fault);
    failed ||= !result.ok;
  } else if (values.scenario === 'race') {
    result = await race(Number(values.keys));
    failed ||= !result.ok;
  } else {
    throw new Error(`unknown --scenario ${values.scenario}`);
  }
  console.log(`run ${run}: ${JSON.stringify(result)}`);
}
process.exitCode = failed ? 1 : 0;
