import { type Anomaly, type CheckReport, describeFault, describeOp } from './checker.js';
import type { FaultEvent } from './history.js';

export interface RunFacts {
  seed: number;
  nodes: string[];
  durable: number;
  replicas: number;
  clients: number;
  runMs: number;
  faults: readonly FaultEvent[];
  /** ms from healing everything to every key's replicas agreeing; undefined if they never did. */
  convergeMs: number | undefined;
  crashes: readonly string[];
  /** ms each in-memory node restarted empty took to catch up with every peer. */
  catchUpMs: readonly number[];
  /** In-memory kills the nemesis moved to a durable node while another in-memory node was catching up. */
  redirectedKills: number;
}

/** The run's summary table, one fact a line. */
export function formatSummary(facts: RunFacts, report: CheckReport): string {
  const byKind = new Map<string, number>();
  for (const fault of facts.faults) byKind.set(fault.kind, (byKind.get(fault.kind) ?? 0) + 1);
  const kinds = [...byKind].map(([kind, count]) => `${kind} ${count}`).join(', ');
  const { ok, fail, unknown } = report.byOutcome;
  const ops = (['set', 'pop', 'get'] as const)
    .map((op) => {
      const counts = report.byOp[op];
      return `${op} ${counts.ok}/${counts.fail}/${counts.unknown}`;
    })
    .join(', ');
  const rows: Array<[string, string]> = [
    ['seed', `${facts.seed}  (KVDB_FAULT_SEED=${facts.seed} replays the choices)`],
    [
      'cluster',
      `${facts.nodes.length} nodes (${facts.durable} with --data-dir), R=${facts.replicas}, ${facts.clients} clients`,
    ],
    ['run', `${(facts.runMs / 1000).toFixed(1)} s of load`],
    [
      'operations',
      `${report.operations}: ok ${ok}, fail ${fail}, unknown ${unknown}  (ok/fail/unknown: ${ops})`,
    ],
    ['faults injected', `${facts.faults.length}: ${kinds || 'none'}`],
    [
      'memory restarts',
      `caught up in ${facts.catchUpMs.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ') || '-'}; ` +
        `${facts.redirectedKills} kill(s) moved to a durable node meanwhile`,
    ],
    ['keys', `${report.keys}`],
    ['acknowledged', `${report.acknowledgedWrites} writes`],
    ['lost', `${report.lost.length}`],
    ['resurrected', `${report.resurrected.length}`],
    ['divergent keys', `${report.divergent.length}`],
    [
      'stale reads',
      `${report.staleReads.length} of ${report.readsChecked} quorum reads with no fault since a quorum write; ` +
        `${report.staleReadsAcrossFaults.length} of ${report.readsCheckedAcrossFaults} across pauses, partitions, durable kills`,
    ],
    ['phantom reads', `${report.phantomReads.length}`],
    ['final reads', `${report.finalReads.length} disagreeing with the replicas`],
    ['crashes', `${facts.crashes.length}`],
    [
      'time to converge',
      facts.convergeMs === undefined ? 'never (timed out)' : `${(facts.convergeMs / 1000).toFixed(2)} s`,
    ],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  return ['kvdb fault injection', ...rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`)].join(
    '\n',
  );
}

/** Every anomaly (up to `limit` of each kind) with the operations that show it, and the faults. */
export function formatAnomalies(
  report: CheckReport,
  faults: readonly FaultEvent[],
  crashes: readonly string[],
  limit = 10,
): string {
  const lists: Array<[string, Anomaly[]]> = [
    ['lost', report.lost],
    ['resurrected', report.resurrected],
    ['divergent', report.divergent],
    ['stale reads', report.staleReads],
    ['stale reads across faults', report.staleReadsAcrossFaults],
    ['phantom reads', report.phantomReads],
    ['final reads', report.finalReads],
  ];
  const lines: string[] = [];
  for (const [name, anomalies] of lists) {
    if (anomalies.length === 0) continue;
    lines.push(`${name}: ${anomalies.length}`);
    for (const anomaly of anomalies.slice(0, limit)) {
      lines.push(`  ${anomaly.key}: ${anomaly.message}`);
      for (const op of anomaly.operations) lines.push(`      ${describeOp(op)}`);
    }
  }
  for (const crash of crashes) lines.push(`crash: ${crash}`);
  if (lines.length > 0) {
    lines.push('faults:');
    for (const fault of faults) lines.push(`  ${describeFault(fault)}`);
  }
  return lines.join('\n');
}
