#!/usr/bin/env node
// kvdb beside etcd, side by side in one run with one load generator: the table of issue 29 and BENCHMARKS.md.
//
//   node packages/bench/scripts/compare-etcd.mjs [--sizes 100,16384] [--runs 3] [--duration 10s] [--warmup 2s]
//     [--single] [--durable [--fsync-interval MS]] [--bin [LABEL=]PATH]... [--json]
//
// Needs a build (`npm run build`), and wrk and etcd 3.4 on PATH:
//   sudo apt-get install -y wrk etcd-server etcd-client
//
// Rows, per value size: a 3-member etcd cluster, and kvdb's 3 nodes R=3 in memory (quorum reads and writes);
// `--durable` adds kvdb's 3 nodes R=3 with `--data-dir`; `--single` adds a single kvdb node (R=1) and the bare
// node:http reference server of this build. `--bin` (repeatable) runs every kvdb row with another build's
// kvdb-server bin too, so two builds are compared in one run. Everything listens on 127.0.0.1.
//
// A run goes through every row in turn (the order rotates from run to run, so no row is always first). Each row
// is started fresh, in temporary data dirs that are removed afterwards, so rows never hold memory or disk at once
// and every measurement begins from the same state: it is loaded with 10,000 keys `key:K` whose values have the
// row's size (unmeasured), checked (a set through each member, read back through the next; a loaded key read),
// given `--warmup` of unmeasured sets, then measured by wrk for `--duration` of sets and then of gets, and stopped.
//
// The load: wrk 4, 32 connections in all, one wrk process (1 thread) per member of the row's cluster, run at once,
// so 11 + 11 + 10 connections and no member is the one hot coordinator; a single node gets all 32. Rates are the
// sum of the wrk processes'; p99 is the worst of theirs. wrk is closed loop: a connection sends its next request
// when the last is answered. The Lua scripts in wrk/ build each request's body: a kvdb JSON-RPC `set` or `get` of
// a key drawn uniformly from the 10,000, its value a JSON string of that many "x"; for etcd, `POST /v3/kv/put`
// and `POST /v3/kv/range` on its v3 JSON gateway, key and value in base64 (the body is 4/3 of the value). etcd's
// ranges are its default linearizable reads, and etcd fsyncs every commit: it has no switch to turn that off.
// Replies that are not 2xx, or carry a JSON "error", and wrk's socket errors and timeouts are counted; a row with
// any is marked.
//
// The report: per row, the range (min–max) over runs of req/s and p99; per run, kvdb's ratios to the same run's
// etcd (set, get, set p99, durable set) and the single node's to the reference server, which are what issue 29's
// "Done when" asks. `--json` prints every measurement and the summary as JSON instead. Progress goes to stderr.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, delimiter, dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { markdown, sizeName, summarize } from './compare-report.mjs';

const USAGE = `usage: node packages/bench/scripts/compare-etcd.mjs [--sizes 100,16384] [--runs 3] [--duration 10s]
  [--warmup 2s] [--connections 32] [--single] [--durable [--fsync-interval MS]] [--bin [LABEL=]PATH]... [--json]`;
const APT = 'sudo apt-get install -y wrk etcd-server etcd-client';
const here = dirname(fileURLToPath(import.meta.url));

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100,16384' },
    runs: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10s' },
    warmup: { type: 'string', default: '2s' },
    connections: { type: 'string', default: '32' },
    single: { type: 'boolean', default: false },
    durable: { type: 'boolean', default: false },
    'fsync-interval': { type: 'string' },
    bin: { type: 'string', multiple: true, default: [] },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const fail = (message) => {
  console.error(`compare-etcd: ${message}`);
  process.exit(2);
};
const sizes = values.sizes.split(',').map(Number);
if (sizes.some((size) => !Number.isInteger(size) || size < 16 || size > 1_000_000)) {
  fail('expected --sizes to be value sizes in bytes from 16 to 1000000, comma-separated');
}
const runs = wholeNumber('runs', values.runs, 1);
const connections = wholeNumber('connections', values.connections, 3);
const duration = seconds('duration', values.duration, 1);
const warmup = seconds('warmup', values.warmup, 0);

const missing = ['wrk', 'etcd'].filter((tool) => !onPath(tool));
if (missing.length > 0) fail(`${missing.join(' and ')} not found on PATH; install them with:\n  ${APT}`);
if (!existsSync(join(here, '../dist/src/child-process.js'))) fail('no build: run `npm run build` first');
const { SERVER_BIN, DEFAULT_FSYNC_INTERVAL_MS } = await import('@kvdb/server');
const { KEYS, ETCD_QUOTA_BYTES, spawnTracked, startEtcd, startKvdb, startReference, stopEverything } =
  await import('./compare-systems.mjs');

const builds = [{ label: 'this build', bin: SERVER_BIN }, ...values.bin.map(buildOf)];
const systems = [{ id: 'etcd', kind: 'etcd', start: (size) => startEtcd(size) }];
const durableArgs =
  values['fsync-interval'] === undefined ? [] : ['--fsync-interval', values['fsync-interval']];
for (const { label, bin } of builds) {
  const kvdb = (kind, nodes, durable, args) => ({
    id: `kvdb ${kind} (${label})`,
    kind,
    build: label,
    start: (size) => startKvdb(size, { bin, nodes, durable, args }),
  });
  systems.push(kvdb('cluster', 3, false));
  if (values.durable) systems.push(kvdb('durable', 3, true, durableArgs));
  if (values.single) systems.push(kvdb('single', 1, false));
}
if (values.single) {
  systems.push({ id: 'reference', kind: 'reference', start: (size) => startReference(size) });
}

let stopping = false;
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
]) {
  process.once(signal, () => {
    stopping = true;
    process.stderr.write(`compare-etcd: ${signal}: stopping every process it started\n`);
    void stopEverything().finally(() => process.exit(code));
  });
}

// Progress is a courtesy: a closed stderr (`| head`) must not end the run before it stops what it started.
process.stderr.on('error', () => {});
const log = (line) => process.stderr.write(`${line}\n`);
const settings = {
  sizes,
  runs,
  durationS: duration,
  warmupS: warmup,
  connections,
  keys: KEYS,
  builds: builds.map(({ label, bin }) => ({ label, bin })),
  fsyncIntervalMs: Number(values['fsync-interval'] ?? DEFAULT_FSYNC_INTERVAL_MS),
};
const host = {
  cores: cpus().length,
  node: process.version,
  etcd: firstLine('etcd', ['--version']).replace(/^etcd Version: /, 'etcd '),
  wrk: firstLine('wrk', ['-v']).split(' ').slice(0, 2).join(' '),
  probeS: probe(),
};
const measurements = [];
const failures = [];
const perRow = warmup + 2 * duration + 8;
log(
  `compare-etcd: ${systems.length} rows × ${sizes.length} sizes × ${runs} runs, about ` +
    `${Math.ceil((systems.length * sizes.length * runs * perRow) / 60)} min and more for large values; ` +
    `host probe ${host.probeS.toFixed(2)} s (a fast minute: 1.5 s)`,
);

try {
  await measureAll();
} finally {
  await stopEverything();
}
// A signal's handler is stopping everything and ends this process: nothing measured since is to be reported.
if (stopping) await new Promise(() => {});

const labels = builds.map(({ label }) => label);
const rowsMeasured = systems.map(({ id, kind, build }) => ({ id, kind, build }));
const summary = summarize({ sizes, builds: labels, systems: rowsMeasured, measurements });
if (values.json) {
  console.log(JSON.stringify({ settings, host, measurements, ...summary, failures }, null, 2));
} else {
  const interval = settings.fsyncIntervalMs;
  const durable = values.durable
    ? `; \`--data-dir\` rows: a write waits for its LevelDB commit, fsynced every ${interval} ms (--fsync-interval)`
    : '';
  console.log(
    [
      `kvdb beside etcd: wrk, ${connections} connections spread over each cluster's members, ` +
        `${KEYS.toLocaleString('en-US')} keys drawn uniformly; per row and run, ${duration} s of sets then ` +
        `${duration} s of gets, after ${warmup} s of unmeasured sets.`,
      `- ${host.etcd}: 3 members, v3 JSON gateway, linearizable ranges, fsync on every commit (always), ` +
        `quota ${ETCD_QUOTA_BYTES / 2 ** 30} GiB.`,
      `- kvdb: 3 nodes R=3, quorum reads and writes, in memory${durable}.`,
      `- ${host.wrk}, node ${host.node}, ${host.cores} cores; host probe ${host.probeS.toFixed(2)} s ` +
        '(1.5 s in a fast minute).',
      '',
      markdown({ sizes, builds: labels, runs, systems: rowsMeasured, ...summary, failures }),
    ].join('\n'),
  );
}
process.exit(failures.length > 0 ? 1 : 0);

/** Every row of every size, run after run; a row that fails is recorded and the next one goes on. */
async function measureAll() {
  for (const size of sizes) {
    for (let run = 1; run <= runs; run++) {
      const shift = (run - 1) % systems.length;
      for (const system of [...systems.slice(shift), ...systems.slice(0, shift)]) {
        const tag = `${sizeName(size)} run ${run}/${runs} ${system.id}`;
        try {
          await measureRow(system, size, run, tag);
        } catch (error) {
          if (stopping) return;
          const message = error instanceof Error ? error.message : String(error);
          failures.push({ size, run, system: system.id, message });
          log(`${tag}: failed: ${message}`);
        }
      }
    }
  }
}

/** Starts `system` fresh, loads, checks and warms it, measures sets then gets, and stops it. */
async function measureRow(system, size, run, tag) {
  log(`${tag}: starting`);
  const started = await system.start(size);
  try {
    await started.load();
    await started.check();
    if (warmup > 0) await runWrk(started, 'set', size, warmup, run);
    for (const op of ['set', 'get']) {
      const result = await runWrk(started, op, size, duration, run);
      if (stopping) return;
      measurements.push({
        size,
        run,
        system: system.id,
        kind: system.kind,
        build: system.build,
        op,
        ...result,
      });
      const errors = result.socketErrors + result.badReplies;
      log(
        `${tag}: ${op} ${Math.round(result.rate)}/s, p50 ${result.p50Ms.toFixed(1)} ms, ` +
          `p99 ${result.p99Ms.toFixed(1)} ms${errors > 0 ? `, ${errors} errors` : ''}`,
      );
    }
  } finally {
    await started.stop();
  }
}

/**
 * Runs one wrk process per URL of `system` at once, `connections` split between them, for `secs` seconds of
 * `op`; sums their rates and takes the worst of their latency percentiles.
 */
async function runWrk(system, op, size, secs, run) {
  const { urls } = system;
  const script = join(here, 'wrk', `${system.script}.lua`);
  const processes = urls.map((url, i) => {
    const share = Math.floor(connections / urls.length) + (i < connections % urls.length ? 1 : 0);
    const args = ['-t1', `-c${share}`, `-d${secs}s`, '--timeout', '10s', '-s', script, url];
    return spawnTracked('wrk', [...args, '--', op, String(size), String(KEYS), String(run * 16 + i)]);
  });
  const reports = await Promise.all(
    processes.map(async ({ exited, stdout, tail }) => {
      const code = await exited;
      const line = stdout()
        .split('\n')
        .find((text) => text.startsWith('WRK_JSON '));
      if (code !== 0 || line === undefined) throw new Error(`wrk exited with ${code}:\n${tail()}`);
      return JSON.parse(line.slice('WRK_JSON '.length));
    }),
  );
  const sum = (pick) => reports.reduce((total, report) => total + pick(report), 0);
  const worst = (pick) => Math.max(...reports.map(pick));
  return {
    rate: sum((r) => r.requests / (r.durationUs / 1e6)),
    requests: sum((r) => r.requests),
    p50Ms: worst((r) => r.p50Us / 1_000),
    p99Ms: worst((r) => r.p99Us / 1_000),
    maxMs: worst((r) => r.maxUs / 1_000),
    socketErrors: sum((r) => r.connect + r.read + r.write + r.timeout),
    badReplies: sum((r) => r.bad),
  };
}

/** `[LABEL=]PATH` of --bin: the label defaults to the folder holding `packages/` (a worktree's name). */
function buildOf(text) {
  const at = text.indexOf('=');
  const bin = resolve(at > 0 ? text.slice(at + 1) : text);
  if (!existsSync(bin)) fail(`--bin ${bin}: no such file`);
  const parts = bin.split(sep);
  const packages = parts.lastIndexOf('packages');
  const label = at > 0 ? text.slice(0, at) : packages > 0 ? parts[packages - 1] : basename(dirname(bin));
  return { label, bin };
}

function wholeNumber(name, text, least) {
  const value = Number(text);
  if (!Number.isInteger(value) || value < least) fail(`expected --${name} to be a whole number ≥ ${least}`);
  return value;
}

/** `10s`, `10` or `1m`, in whole seconds. */
function seconds(name, text, least) {
  const match = /^(\d+)(s|m)?$/.exec(text);
  const value = match === null ? Number.NaN : Number(match[1]) * (match[2] === 'm' ? 60 : 1);
  if (!(value >= least)) fail(`expected --${name} to be whole seconds ≥ ${least}, such as 10s or 1m`);
  return value;
}

function onPath(tool) {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function firstLine(command, args) {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split(
      '\n',
    )[0];
  } catch (error) {
    // `wrk -v` prints its version and exits with 1.
    return String(error.stdout ?? '').split('\n')[0] || `${command} (version unknown)`;
  }
}

/** Seconds a fixed loop takes in a fresh node: how busy the host is this minute (BENCHMARKS.md's probe). */
function probe() {
  const start = process.hrtime.bigint();
  execFileSync(process.execPath, ['-e', 'let s=0;for(let i=0;i<3e8;i++)s+=i']);
  return Number(process.hrtime.bigint() - start) / 1e9;
}
