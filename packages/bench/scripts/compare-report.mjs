// compare-etcd.mjs's report (not a script to run): ranges over runs per row, the ratios issue 29's "Done when"
// asks, measured round by round, and the markdown table shaped like the issue's.

/** The ratios' targets in issue 29's "Done when", by value size; a missing size has none. */
const TARGETS = {
  100: { set: '≥ 3', get: '≥ 3', p99: '≤ 1', durable: '≥ 1.5' },
  16384: { set: '≥ 3', get: '≥ 2', single: '≥ 0.7' },
};

/**
 * Each row's ranges over runs, and each build's ratios per run. `measurements` are
 * `{ size, run, system, build, op, rate, p99Ms, socketErrors, badReplies }`; `systems` the rows measured, each
 * `{ id, kind, build }` with kind one of etcd, cluster, durable, single, reference.
 */
export function summarize({ sizes, builds, systems, measurements }) {
  const of = (size, id, op) => measurements.filter((m) => m.size === size && m.system === id && m.op === op);
  const rows = [];
  for (const size of sizes) {
    for (const { id, kind, build } of systems) {
      for (const op of ['set', 'get']) {
        const runs = of(size, id, op);
        rows.push({
          size,
          system: id,
          kind,
          build,
          op,
          runs: runs.length,
          rate: span(runs.map((m) => m.rate)),
          p99Ms: span(runs.map((m) => m.p99Ms)),
          socketErrors: total(runs, 'socketErrors'),
          badReplies: total(runs, 'badReplies'),
        });
      }
    }
  }
  const ratios = [];
  const idOf = (kind, build) => systems.find((s) => s.kind === kind && s.build === build)?.id;
  for (const size of sizes) {
    for (const build of builds) {
      const per = (kind, op, field, baseKind, baseOp = op) => {
        const values = [];
        for (const m of of(size, idOf(kind, build), op)) {
          const base = of(size, idOf(baseKind, undefined), baseOp).find((b) => b.run === m.run);
          if (base !== undefined && base[field] > 0) values.push(m[field] / base[field]);
        }
        return span(values);
      };
      ratios.push({
        size,
        build,
        setVsEtcd: per('cluster', 'set', 'rate', 'etcd'),
        getVsEtcd: per('cluster', 'get', 'rate', 'etcd'),
        setP99VsEtcd: per('cluster', 'set', 'p99Ms', 'etcd'),
        durableSetVsEtcd: per('durable', 'set', 'rate', 'etcd'),
        singleSetVsReference: per('single', 'set', 'rate', 'reference'),
        singleGetVsReference: per('single', 'get', 'rate', 'reference'),
        targets: TARGETS[size] ?? {},
      });
    }
  }
  return { rows, ratios };
}

function span(values) {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0], max: sorted[sorted.length - 1], median: sorted[Math.floor(sorted.length / 2)] };
}

const total = (items, field) => items.reduce((sum, item) => sum + item[field], 0);

/** The markdown table of rates and p99s shaped like the issue's, the ratios' table, and the notes under them. */
export function markdown({ sizes, builds, runs, systems, rows, ratios, failures }) {
  const many = builds.length > 1;
  const has = (kind) => systems.some((s) => s.kind === kind);
  const row = (size, kind, build, op) =>
    rows.find((r) => r.size === size && r.kind === kind && r.build === build && r.op === op);
  const marks = [];
  const cell = (size, kind, build, op) => {
    const r = row(size, kind, build, op);
    if (r === undefined || r.runs === 0) return 'failed';
    let text = `${range(r.rate, count)} (p99 ${range(r.p99Ms, ms)} ms)`;
    if (r.runs < runs) text += ` in ${r.runs} of ${runs} runs`;
    if (r.socketErrors + r.badReplies > 0) {
      marks.push(
        `${sizeName(size)} ${r.system} ${op}: ${r.socketErrors} socket errors, ${r.badReplies} bad replies`,
      );
      text += ` ⚠${marks.length}`;
    }
    return text;
  };
  const columns = [
    ['kvdb 3 nodes R=3 set/s', (size, build) => cell(size, 'cluster', build, 'set')],
    ['etcd 3 nodes set/s', (size) => cell(size, 'etcd', undefined, 'set')],
    ['kvdb get/s', (size, build) => cell(size, 'cluster', build, 'get')],
    ['etcd get/s', (size) => cell(size, 'etcd', undefined, 'get')],
  ];
  if (has('durable')) {
    columns.push(
      ['kvdb 3 nodes `--data-dir` set/s', (size, build) => cell(size, 'durable', build, 'set')],
      ['kvdb `--data-dir` get/s', (size, build) => cell(size, 'durable', build, 'get')],
    );
  }
  if (has('single')) {
    columns.push(
      ['single node set/s', (size, build) => cell(size, 'single', build, 'set')],
      ['single node get/s', (size, build) => cell(size, 'single', build, 'get')],
      ['bare node:http server set/s', (size) => cell(size, 'reference', undefined, 'set')],
      ['bare node:http server get/s', (size) => cell(size, 'reference', undefined, 'get')],
    );
  }
  const lines = [];
  const lead = many ? ['values', 'build'] : ['values'];
  const header = (names) => {
    lines.push(
      `| ${[...lead, ...names].join(' | ')} |`,
      `|${[...lead, ...names].map(() => '---').join('|')}|`,
    );
  };
  const start = (size, build) => (many ? [sizeName(size), build] : [sizeName(size)]);
  header(columns.map(([name]) => name));
  for (const size of sizes) {
    for (const build of builds) {
      lines.push(
        `| ${[...start(size, build), ...columns.map(([, make]) => make(size, build))].join(' | ')} |`,
      );
    }
  }
  lines.push(
    '',
    `Ratios per run (min–max over ${runs} runs), each against the same run's etcd or reference:`,
    '',
  );
  const ratioColumns = [
    ['kvdb/etcd set', 'setVsEtcd', 'set'],
    ['kvdb/etcd get', 'getVsEtcd', 'get'],
    ['set p99 kvdb/etcd', 'setP99VsEtcd', 'p99'],
  ];
  if (has('durable')) ratioColumns.push(['durable kvdb/etcd set', 'durableSetVsEtcd', 'durable']);
  if (has('single')) {
    ratioColumns.push(
      ['single node/bare set', 'singleSetVsReference', 'single'],
      ['single node/bare get', 'singleGetVsReference', 'single'],
    );
  }
  header(ratioColumns.map(([name]) => name));
  for (const ratio of ratios) {
    const cells = ratioColumns.map(([, field, target]) => {
      const value = ratio[field];
      if (value === undefined) return '–';
      const goal = ratio.targets[target];
      return goal === undefined ? range(value, times) : `${range(value, times)} (target ${goal})`;
    });
    lines.push(`| ${[...start(ratio.size, ratio.build), ...cells].join(' | ')} |`);
  }
  if (marks.length > 0) lines.push('', ...marks.map((mark, i) => `⚠${i + 1} ${mark}`));
  if (failures.length > 0) {
    lines.push(
      '',
      'Failed:',
      ...failures.map((f) => `- ${sizeName(f.size)} run ${f.run} ${f.system}: ${f.message}`),
    );
  }
  return lines.join('\n');
}

const count = (value) => Math.round(value).toLocaleString('en-US');
const ms = (value) => (value < 10 ? value.toFixed(1) : Math.round(value).toString());
const times = (value) => value.toFixed(2);

function range(span, format) {
  const low = format(span.min);
  const high = format(span.max);
  return low === high ? low : `${low}–${high}`;
}

/** 100 B, 16 KB, 256 KB, 1.5 KB. */
export function sizeName(bytes) {
  if (bytes < 1_024) return `${bytes} B`;
  if (bytes < 1_048_576) return `${+(bytes / 1_024).toFixed(1)} KB`;
  return `${+(bytes / 1_048_576).toFixed(1)} MB`;
}
