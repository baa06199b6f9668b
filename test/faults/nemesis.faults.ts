import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defined } from '@kvdb/core/testing';
import { expect } from 'chai';
import { waitFor } from '../helpers/wait.js';
import { check, describeRecord, type FinalKey } from './checker.js';
import { FaultCluster } from './fault-cluster.js';
import { History } from './history.js';
import { Nemesis } from './nemesis.js';
import { Random } from './random.js';
import { formatAnomalies, formatSummary } from './summary.js';
import { Workload } from './workload.js';

/*
 * The fault-injection suite (`npm run test:faults`): 5 real kvdb-server processes on 127.0.0.1 (2 durable, 3 in
 * memory, R=3, local timings), a fault proxy between every ordered pair of them, client loops running quorum
 * set/pop/get on unique and shared keys, and a seeded nemesis that kills -9 and restarts, pauses and partitions
 * nodes. After healing, the history and the state every replica holds go through the checker (checker.ts).
 *
 * Environment: KVDB_FAULT_SEED (default 20261121) picks every choice of the clients and the nemesis;
 * KVDB_FAULT_DURATION_MS (default 60000) is how long the load runs; KVDB_FAULT_KEEP keeps the node logs, data dirs
 * and history.json even when the run passes (a failing run always keeps them, and prints where).
 */

/** The defaults keep a run under 2 minutes on a 2-core machine. */
const SEED = envInt('KVDB_FAULT_SEED', 20261121);
const RUN_MS = envInt('KVDB_FAULT_DURATION_MS', 60_000);
const CONVERGE_TIMEOUT_MS = 60_000;
const SIZE = 5;
const DURABLE = 2;
const REPLICAS = 3;
const CLIENTS = 10;

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new TypeError(`Expected ${name} to be a whole number, got ${raw}`);
  return value;
}

/**
 * Waits until every node sees every member alive and every key's replicas hold the same record; resolves with the
 * ms it took, or undefined at the deadline.
 */
async function converge(
  cluster: FaultCluster,
  replicasOf: Map<string, string[]>,
): Promise<number | undefined> {
  const started = Date.now();
  try {
    await waitFor(
      'every member alive everywhere and the same record on each replica of every key',
      async () => {
        if (!(await cluster.allAlive())) throw new Error('not every node sees every member alive');
        const records = await cluster.replicaRecords(replicasOf);
        let differing = 0;
        for (const replicas of records.values()) {
          const seen = new Set(replicas.map((replica) => replica.error ?? describeRecord(replica.record)));
          if (seen.size > 1) differing += 1;
        }
        if (differing > 0) throw new Error(`${differing} keys differ`);
        return true;
      },
      { timeoutMs: CONVERGE_TIMEOUT_MS, intervalMs: 250 },
    );
    return Date.now() - started;
  } catch {
    return undefined;
  }
}

/** Each key's replica records and its reads through every node at `one` and at `quorum`. */
async function finalState(
  cluster: FaultCluster,
  replicasOf: Map<string, string[]>,
): Promise<Map<string, FinalKey>> {
  const keys = [...replicasOf.keys()];
  const final = new Map<string, FinalKey>(keys.map((key) => [key, { replicas: [], reads: [] }]));
  await Promise.all(
    cluster.nodes.map(async (node) => {
      for (const consistency of ['one', 'quorum'] as const) {
        const values = await cluster.readAll(node.index, keys, consistency);
        for (const [key, read] of values)
          defined(final.get(key), key).reads.push({ node: node.name, consistency, ...read });
      }
    }),
  );
  for (const [key, replicas] of await cluster.replicaRecords(replicasOf))
    defined(final.get(key), key).replicas = replicas;
  return final;
}

describe(`fault injection: ${SIZE} nodes (${DURABLE} durable), R=${REPLICAS}, ${CLIENTS} clients, a seeded nemesis`, function () {
  this.timeout(RUN_MS + 5 * 60_000);
  let cluster: FaultCluster | undefined;
  let workload: Workload | undefined;
  let runDir: string | undefined;
  let keep = process.env.KVDB_FAULT_KEEP !== undefined;

  after(async () => {
    await workload?.close();
    await cluster?.stop();
    if (runDir !== undefined) {
      if (keep) console.log(`  node logs, data dirs and history kept in ${runDir}`);
      else rmSync(runDir, { recursive: true, force: true });
    }
  });

  it('loses no acknowledged write, resurrects no popped key, serves fresh quorum reads, and converges', async () => {
    runDir = mkdtempSync(join(tmpdir(), `kvdb-faults-${SEED}-`));
    const dir = runDir;
    keep = true;
    cluster = await FaultCluster.start({
      size: SIZE,
      durable: DURABLE,
      replicas: REPLICAS,
      runDir: dir,
      timings: 'local',
    });
    const history = new History();
    const random = new Random(SEED);
    const nemesis = new Nemesis(cluster, history, random.fork(0), {
      warmupMs: 2_000,
      gapMs: [300, 2_000],
      holdMs: [1_500, 6_000],
    });
    workload = new Workload(cluster, history, random, { clients: CLIENTS, sharedKeys: 10, timeoutMs: 5_000 });

    const deadline = history.now() + RUN_MS;
    const stopped = () => history.now() >= deadline;
    const started = history.now();
    const [loadDone, nemesisDone] = await Promise.allSettled([workload.run(stopped), nemesis.run(stopped)]);
    const runMs = history.now() - started;
    if (loadDone.status === 'rejected') throw loadDone.reason;
    if (nemesisDone.status === 'rejected') throw nemesisDone.reason;

    await nemesis.healEverything();
    const keys = [...new Set(history.operations.map((op) => op.key))].sort();
    const replicasOf = await cluster.locateAll(keys);
    const convergeMs = await converge(cluster, replicasOf);
    const final = await finalState(cluster, replicasOf);
    const report = check({ operations: history.operations, faults: history.faults, final });

    const facts = {
      seed: SEED,
      nodes: cluster.addresses,
      durable: DURABLE,
      replicas: REPLICAS,
      clients: CLIENTS,
      runMs,
      faults: history.faults,
      convergeMs,
      crashes: cluster.crashes,
      catchUpMs: nemesis.catchUpMs,
      redirectedKills: nemesis.redirectedKills,
    };
    console.log(formatSummary(facts, report));
    const anomalies = formatAnomalies(report, history.faults, cluster.crashes);
    if (anomalies !== '') console.log(anomalies);
    writeFileSync(join(dir, 'history.json'), JSON.stringify({ seed: SEED, ...history, report }, null, 1));

    // A run that injected next to nothing, or acknowledged next to nothing, would prove nothing.
    expect(history.faults.length, 'faults injected').to.be.at.least(Math.max(1, Math.floor(RUN_MS / 15_000)));
    expect(report.acknowledgedWrites, 'acknowledged writes').to.be.at.least(Math.floor(RUN_MS / 120));
    expect({
      lost: report.lost.length,
      resurrected: report.resurrected.length,
      divergent: report.divergent.length,
      staleReads: report.staleReads.length,
      staleReadsAcrossFaults: report.staleReadsAcrossFaults.length,
      phantomReads: report.phantomReads.length,
      finalReads: report.finalReads.length,
      crashes: cluster.crashes.length,
      converged: convergeMs !== undefined,
    }).to.deep.equal({
      lost: 0,
      resurrected: 0,
      divergent: 0,
      staleReads: 0,
      staleReadsAcrossFaults: 0,
      phantomReads: 0,
      finalReads: 0,
      crashes: 0,
      converged: true,
    });
    keep = process.env.KVDB_FAULT_KEEP !== undefined;
  });
});
