#!/usr/bin/env node
// Membership of a cluster of real kvdb-server processes on 127.0.0.1, started one by one through one seed:
//
//   node packages/bench/scripts/membership-scale.mjs [--nodes 24] [--quiet 30] [--timings lan] [--bin PATH]
//
// Prints how long until every node lists every member alive (targets: within 30 s of the last start), whether any
// node saw any member as anything but alive during --quiet seconds with nothing happening (target: none), and how
// long until every survivor sees a node killed with SIGKILL as dead (target: within 15 s). Exits 1 when a target
// is missed. --bin runs another build's kvdb-server script, to compare. Needs a build (`npm run build`); every
// process it starts is killed before it exits.
import { parseArgs } from 'node:util';
import { KVClient } from '@kvdb/client';
import { startLocalCluster } from '@kvdb/server';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '24' },
    quiet: { type: 'string', default: '30' },
    timings: { type: 'string', default: 'lan' },
    bin: { type: 'string' },
  },
});
const nodes = Number(values.nodes);
const quietMs = Number(values.quiet) * 1_000;
const TARGETS = { allAliveMs: 30_000, deadSeenMs: 15_000 };
const POLL_MS = 250;

const cluster = await startLocalCluster({
  nodes: 1,
  replicas: 3,
  ready: 'ping',
  logLevel: 'warn',
  args: ['--timings', values.timings],
  ...(values.bin === undefined ? {} : { bin: values.bin }),
});
const clients = new Map();
const stop = async () => {
  await Promise.all([...clients.values()].map((client) => client.close()));
  await cluster.stop();
};
process.once('SIGINT', () => void stop().finally(() => process.exit(130)));
process.once('SIGTERM', () => void stop().finally(() => process.exit(143)));

/** Each running node's member list, by node index; a node that does not answer gives undefined. */
async function views(indices) {
  return Promise.all(
    indices.map(async (index) => {
      const node = cluster.nodes[index];
      let client = clients.get(index);
      if (client === undefined) {
        client = new KVClient({ host: node.host, port: node.port, timeoutMs: 2_000 });
        clients.set(index, client);
      }
      return client.listMembers().catch(() => undefined);
    }),
  );
}

/** Polls until `holds(views)` or `withinMs` passes; resolves with the ms it took, or undefined. */
async function until(indices, holds, withinMs) {
  const start = performance.now();
  for (;;) {
    if (holds(await views(indices))) return Math.round(performance.now() - start);
    if (performance.now() - start > withinMs) return undefined;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

const seconds = (ms) => (ms === undefined ? 'not within the limit' : `${(ms / 1_000).toFixed(1)} s`);
const range = (count) => Array.from({ length: count }, (_, index) => index);
let failed = false;
try {
  const seed = cluster.addresses[0];
  const started = performance.now();
  for (let i = 1; i < nodes; i++) await cluster.addNode([seed], ['--timings', values.timings]);
  const startMs = performance.now() - started;
  const all = range(nodes);
  const allAlive = (lists) =>
    lists.every(
      (list) => list !== undefined && list.filter((member) => member.status === 'alive').length === nodes,
    );
  const aliveMs = await until(all, allAlive, 60_000);
  console.log(`${nodes} nodes started one by one through ${seed} in ${seconds(startMs)}`);
  console.log(`every node lists ${nodes} members alive: ${seconds(aliveMs)} after the last start`);
  failed ||= aliveMs === undefined || aliveMs > TARGETS.allAliveMs;

  const seen = new Map();
  const quietStart = performance.now();
  while (performance.now() - quietStart < quietMs) {
    const lists = await views(all);
    lists.forEach((list, observer) => {
      for (const member of list ?? []) {
        if (member.status !== 'alive') seen.set(`${observer} saw ${member.address} ${member.status}`, true);
      }
      if (list === undefined) seen.set(`node ${observer} did not answer`, true);
    });
    await new Promise((resolve) => setTimeout(resolve, POLL_MS * 2));
  }
  console.log(
    `${quietMs / 1_000} s of quiet: ${seen.size === 0 ? 'no member seen anything but alive' : [...seen.keys()].join('; ')}`,
  );
  failed ||= seen.size > 0;

  const victim = Math.floor(nodes / 2);
  const victimAddress = cluster.addresses[victim];
  await cluster.kill(victim);
  clients.get(victim)?.close();
  clients.delete(victim);
  const survivors = all.filter((index) => index !== victim);
  const deadEverywhere = (lists) =>
    lists.every((list) => list?.find((member) => member.address === victimAddress)?.status === 'dead');
  const deadMs = await until(survivors, deadEverywhere, 60_000);
  console.log(
    `${victimAddress} killed (SIGKILL): seen dead by all ${survivors.length} others in ${seconds(deadMs)}`,
  );
  failed ||= deadMs === undefined || deadMs > TARGETS.deadSeenMs;
  console.log(
    failed
      ? 'membership-scale: a target was missed'
      : `membership-scale: all alive within ${TARGETS.allAliveMs / 1_000} s, none seen dead in the quiet, the killed one dead everywhere within ${TARGETS.deadSeenMs / 1_000} s`,
  );
} finally {
  await stop();
}
process.exit(failed ? 1 : 0);
