import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonValue } from '@kvdb/core';
import { expect } from 'chai';
import { FaultCluster } from './fault-cluster.js';
import { History } from './history.js';
import { HistoryRecorder, type OpInputs, type OpName, type OpOutputs } from './jepsen-history.js';
import { checkLinearizable, formatLinearizability } from './linearizability.js';
import { Nemesis } from './nemesis.js';
import { Random } from './random.js';
import { call } from './rpc.js';

/*
 * Serial operations under faults (part of `npm run test:faults`): 5 durable kvdb-server processes (R=3), client
 * loops doing serial cas, get, has, set and pop on a few hot keys through every node, and the seeded nemesis
 * killing (-9, then restarting with the data dir), pausing and partitioning nodes. Every operation goes into a
 * history in Jepsen's shape (invoke, then ok, fail or info), saved as `serial-<seed>.json` in the run dir, and the
 * history must be linearizable (linearizability.ts). Nodes are durable: Paxos needs acceptors that remember
 * their promises across a restart.
 *
 * Environment: KVDB_SERIAL_SEEDS (default 1,2) runs one cluster per seed; KVDB_SERIAL_DURATION_MS (default 30000)
 * is how long each load runs; KVDB_FAULT_KEEP keeps the run dirs even when they pass.
 */

const SEEDS = (process.env.KVDB_SERIAL_SEEDS ?? '1,2').split(',').map(Number);
const RUN_MS = Number(process.env.KVDB_SERIAL_DURATION_MS ?? 30_000);
const SIZE = 5;
const CLIENTS = 8;
const KEYS = 4;
const TIMEOUT_MS = 5_000;

/**
 * Relative odds of each operation. Every value written is unique (`<thread>.<n>`), so a read names the write it
 * saw; `casRead` reads the key (serially, recorded like any operation) and then swaps what it read.
 */
const MIX = { casRead: 30, casAbsent: 6, get: 20, has: 5, set: 15, setIfAbsent: 6, setIfPresent: 6, pop: 12 };

/** A failed call changed nothing when the node refused it before any round began: a parse, param or quorum error. */
function outcomeOf(error: unknown): 'fail' | 'info' {
  const code = (error as { code?: unknown }).code;
  if (code === 'ECONNREFUSED') return 'fail';
  if (typeof code === 'number') return code === 1009 || code === 1002 ? 'info' : 'fail';
  return 'info';
}

async function serialCall(port: number, method: string, params: object): Promise<unknown> {
  const reply = await call(port, method, params, TIMEOUT_MS);
  if (reply.error !== undefined)
    throw Object.assign(new Error(reply.error.message), { code: reply.error.code });
  return reply.result;
}

/** One client loop: serial operations through random running nodes until `stopped()`. */
async function client(
  thread: number,
  cluster: FaultCluster,
  recorder: HistoryRecorder,
  random: Random,
  stopped: () => boolean,
): Promise<void> {
  let written = 0;
  const unique = (): JsonValue => `${thread}.${written++}`;
  while (!stopped()) {
    const running = cluster.running();
    const key = `h:${Math.floor(random.next() * KEYS)}`;
    const action = random.weighted(MIX);
    if (running.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      continue;
    }
    const node = random.pick(running);
    const run = <F extends OpName>(f: F, input: OpInputs[F], method: string, params: object) =>
      recorder.run(
        thread,
        f,
        key,
        input,
        () => serialCall(node.port, method, { key, ...params }) as Promise<OpOutputs[F]>,
        outcomeOf,
      );
    const value = unique();
    switch (action) {
      case 'casRead': {
        let seen: JsonValue | undefined;
        await recorder.run(
          thread,
          'get',
          key,
          null,
          async () => {
            seen = (await serialCall(node.port, 'get', { key, consistency: 'serial' })) as JsonValue;
            return seen;
          },
          outcomeOf,
        );
        if (seen !== undefined) await run('cas', { value, expected: seen }, 'cas', { value, expected: seen });
        break;
      }
      case 'casAbsent':
        await run('cas', { value }, 'cas', { value });
        break;
      case 'get':
        await run('get', null, 'get', { consistency: 'serial' });
        break;
      case 'has':
        await run('has', null, 'has', { consistency: 'serial' });
        break;
      case 'set':
        await run('set', { value }, 'set', { value, consistency: 'serial' });
        break;
      case 'setIfAbsent':
        await run('set', { value, ifAbsent: true }, 'set', { value, ifAbsent: true });
        break;
      case 'setIfPresent':
        await run('set', { value, ifPresent: true }, 'set', { value, ifPresent: true });
        break;
      case 'pop':
        await run('pop', null, 'pop', { consistency: 'serial' });
        break;
    }
  }
}

for (const seed of SEEDS) {
  describe(`serial operations under faults: ${SIZE} durable nodes, R=3, ${CLIENTS} clients, seed ${seed}`, function () {
    this.timeout(RUN_MS + 4 * 60_000);
    let cluster: FaultCluster | undefined;
    let runDir: string | undefined;
    let keep = process.env.KVDB_FAULT_KEEP !== undefined;

    after(async () => {
      await cluster?.stop();
      if (runDir !== undefined) {
        if (keep) console.log(`  node logs, data dirs and history kept in ${runDir}`);
        else rmSync(runDir, { recursive: true, force: true });
      }
    });

    it('keeps every history of serial operations linearizable', async () => {
      runDir = mkdtempSync(join(tmpdir(), `kvdb-serial-${seed}-`));
      keep = true;
      cluster = await FaultCluster.start({
        size: SIZE,
        durable: SIZE,
        replicas: 3,
        runDir,
        timings: 'local',
      });
      const faults = new History();
      const random = new Random(seed);
      const nemesis = new Nemesis(cluster, faults, random.fork(0), {
        warmupMs: 1_000,
        gapMs: [300, 2_000],
        holdMs: [1_500, 5_000],
      });
      const recorder = new HistoryRecorder({ threads: CLIENTS });
      const deadline = Date.now() + RUN_MS;
      const stopped = () => Date.now() >= deadline;
      const running = cluster;
      const loops = Array.from({ length: CLIENTS }, (_, thread) =>
        client(thread, running, recorder, random.fork(thread + 1), stopped),
      );
      const [load, chaos] = await Promise.allSettled([Promise.all(loops), nemesis.run(stopped)]);
      if (load.status === 'rejected') throw load.reason;
      if (chaos.status === 'rejected') throw chaos.reason;
      await nemesis.healEverything();

      const path = join(runDir, `serial-${seed}.json`);
      await recorder.save(path);
      const report = checkLinearizable(recorder.events, { timeoutMs: 60_000 });
      const events = recorder.events;
      const count = (type: string) => events.filter((event) => event.type === type).length;
      console.log(
        `  seed ${seed}: ${count('invoke')} operations (ok ${count('ok')}, fail ${count('fail')}, info ${count('info')}), ` +
          `${faults.faults.length} faults; history in ${path}`,
      );
      console.log(formatLinearizability(report));
      expect(faults.faults.length, 'faults injected').to.be.at.least(Math.floor(RUN_MS / 15_000));
      expect(count('ok'), 'operations acknowledged').to.be.at.least(RUN_MS / 100);
      expect(report.verdict, formatLinearizability(report)).to.equal('ok');
      keep = process.env.KVDB_FAULT_KEEP !== undefined;
    });
  });
}
