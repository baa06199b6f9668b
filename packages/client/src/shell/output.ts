/**
 * The shell's output modes beside the readable one: `json` (one JSON document a command, for scripts and jq) and
 * `raw` (bare values, one a line, for `$(kvdb get k)`); and the member tables (`status`, `list_members`). Pure.
 */
import type { ClusterStatus, PublicMethod } from '@kvdb/core';
import { flatten, formatDuration, formatResult, formatValue } from './format.js';

export type OutputMode = 'human' | 'json' | 'raw';

export const OUTPUT_MODES: readonly OutputMode[] = ['human', 'json', 'raw'];

/** A method's result as the mode shows it. */
export function render(mode: OutputMode, method: PublicMethod, result: unknown): string {
  switch (mode) {
    case 'human':
      if (method === 'cluster_status' && isStatus(result)) return formatStatus(result);
      if (method === 'list_members' && Array.isArray(result)) return formatMemberTable(result);
      return formatResult(method, result);
    case 'json':
      return JSON.stringify(
        method === 'cluster_status' && isStatus(result) ? statusDocument(result) : result,
      );
    case 'raw':
      return renderRaw(method, result);
  }
}

/**
 * An error as the json mode shows it: `{"error":{"name","message","data"}}`, with `"line"` after it for a script's
 * line, so that a script's output holds one document a command, failed ones included.
 */
export function errorDocument(error: unknown, line?: number): string {
  const body =
    error instanceof Error
      ? { name: error.name, message: error.message, data: (error as { data?: unknown }).data }
      : { name: 'Error', message: String(error) };
  return JSON.stringify({ error: body, line });
}

/**
 * Strings bare, other values as JSON; a list one element a line; a member table or `stats` (flattened, as the human
 * mode shows it) as tab-separated rows.
 */
function renderRaw(method: PublicMethod, result: unknown): string {
  if (method === 'set' || method === 'mset') return result === true ? 'OK' : rawValue(result);
  if (method === 'cluster_status' && isStatus(result)) return tsv(statusRows(result).slice(1));
  if (method === 'list_members' && Array.isArray(result)) return tsv(memberRows(result).slice(1));
  if (method === 'stats' && isRecord(result)) return tsv(flatten(result).map(([k, v]) => [k, rawValue(v)]));
  if (method === 'list_keys' && isRecord(result) && Array.isArray(result.keys)) return lines(result.keys);
  if (method === 'ttl' && isRecord(result)) return rawTtl(result);
  return Array.isArray(result) ? lines(result) : rawValue(result);
}

/** `ttl` bare, as Redis's TTL gives it: the seconds left, `-1` for a value that does not expire, `-2` for none. */
function rawTtl({ exists, ttl }: Record<string, unknown>): string {
  if (exists !== true) return '-2';
  return typeof ttl === 'number' ? String(ttl) : '-1';
}

function lines(values: readonly unknown[]): string {
  return values.map(rawValue).join('\n');
}

function rawValue(value: unknown): string {
  return typeof value === 'string' ? value : formatValue(value);
}

function tsv(rows: readonly string[][]): string {
  return rows.map((row) => row.join('\t')).join('\n');
}

/** Rows under a header, columns two spaces apart and padded to their widest cell; numbers right-aligned. */
export function formatTable(rows: readonly string[][], rightAligned: readonly number[] = []): string {
  const widths = (rows[0] ?? []).map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => {
          const width = widths[column] ?? 0;
          return rightAligned.includes(column) ? cell.padStart(width) : cell.padEnd(width);
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `status`: one row a member, like `etcdctl endpoint status -w table`; the node that answered is starred. */
export function formatStatus(status: ClusterStatus): string {
  const table = formatTable(statusRows(status, true), [2, 5]);
  return `${table}\n(* answered: the cluster as ${status.self} sees it; replication ${replication(status)})`;
}

function statusRows(status: ClusterStatus, star = false): string[][] {
  const header = ['ADDRESS', 'STATE', 'KEYS', 'VERSION', 'UPTIME', 'RING'];
  const rows = status.members.map((member) => {
    const address = star && member.address === status.self ? `${member.address} *` : member.address;
    const stats = member.stats;
    return [
      address,
      state(member),
      stats === null ? '-' : String(stats.keys),
      stats?.version ?? '-',
      stats === null ? '-' : formatDuration(stats.uptimeMs),
      `${(member.share * 100).toFixed(1)}%`,
    ];
  });
  return [header, ...rows];
}

function replication({ replication }: ClusterStatus): string {
  const { replicas, target } = replication;
  return target === undefined ? String(replicas) : `${replicas} (changing to ${target})`;
}

/** `list_members`: address, status and phase. */
export function formatMemberTable(members: readonly unknown[]): string {
  return members.length === 0 ? '(empty)' : formatTable(memberRows(members));
}

function memberRows(members: readonly unknown[]): string[][] {
  const rows = members.map((member) =>
    isRecord(member) ? [String(member.address), state(member)] : [formatValue(member), ''],
  );
  return [['ADDRESS', 'STATE'], ...rows];
}

/** `alive`, `alive, joining`, `suspect (never answered)`: the status, the phase when not normal, and whether the
 * member has ever answered. */
function state(member: { status?: unknown; phase?: unknown; answered?: unknown }): string {
  const phase = member.phase === undefined || member.phase === 'normal' ? '' : `, ${String(member.phase)}`;
  const never = member.answered === false ? ' (never answered)' : '';
  return `${String(member.status)}${phase}${never}`;
}

/** `status` in json mode: the members with their counters, without the ring's arcs (drawing data). */
function statusDocument(status: ClusterStatus): unknown {
  const members = status.members.map(({ arcs: _arcs, ...member }) => member);
  return { self: status.self, at: status.at, replication: status.replication, members };
}

function isStatus(value: unknown): value is ClusterStatus {
  return isRecord(value) && typeof value.self === 'string' && Array.isArray(value.members);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
