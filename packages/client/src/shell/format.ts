/** How the shell shows results and errors to people. Pure: every function returns the text to print. */
import { type KeyPage, type PublicMethod, UsageError } from '@kvdb/core';

/** A stored value as JSON, so `"1"` and `1` look different; a missing value is `null`. */
export function formatValue(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

/**
 * The text for a method's result. Results come off the wire unchecked, so a shape other than the expected one
 * is shown as JSON rather than trusted.
 */
export function formatResult(method: PublicMethod, result: unknown): string {
  switch (method) {
    case 'set':
    case 'mset':
      return result === true ? 'OK' : formatValue(result);
    case 'cas':
      if (!isRecord(result)) return formatValue(result);
      return `${result.swapped === true ? 'swapped' : 'not swapped'}: ${formatValue(result.current)}`;
    case 'mget':
      return Array.isArray(result) ? numbered(result.map(formatValue)) : formatValue(result);
    case 'ping':
      return typeof result === 'string' ? result : formatValue(result);
    case 'ttl':
      return isRecord(result) ? formatTtl(result) : formatValue(result);
    case 'list_keys':
      if (Array.isArray(result)) return numbered(result.map(formatValue));
      return isKeyPage(result) ? formatKeyPage(result) : formatValue(result);
    case 'list_members':
      return Array.isArray(result) ? formatMembers(result) : formatValue(result);
    case 'locate':
      return Array.isArray(result) ? formatReplicas(result) : formatValue(result);
    case 'stats':
      return isRecord(result) ? formatStats(result) : formatValue(result);
    case 'leave':
      return isRecord(result)
        ? `${String(result.left)} left the cluster (${String(result.handedOff)} record(s) handed over)`
        : formatValue(result);
    case 'set_replicas':
      if (!isRecord(result)) return formatValue(result);
      return result.replicas === result.previous
        ? `replication stays at ${String(result.replicas)}`
        : `replication is now ${String(result.replicas)} (was ${String(result.previous)})`;
    default:
      return formatValue(result);
  }
}

/** `ttl`'s answer: `(no value)`, `no expiry`, or the seconds left (`12.5 s left`). */
function formatTtl({ exists, ttl }: Record<string, unknown>): string {
  if (exists !== true) return '(no value)';
  return typeof ttl === 'number' ? `${ttl} s left` : 'no expiry';
}

/** What a page was asked with, so its last line can spell out the command that fetches the next one. */
export interface PageRequest {
  prefix?: string;
  limit: number;
}

/**
 * The page's keys, numbered, then the cursor to continue from (with the whole `list_keys` command when `request`
 * says how the page was asked for), or `(end of the listing)`.
 */
export function formatKeyPage(page: KeyPage, request?: PageRequest): string {
  const keys = numbered(page.keys.map(formatValue));
  if (page.cursor === null) return `${keys}\n(end of the listing)`;
  const next =
    request === undefined
      ? ''
      : ` (next page: list_keys ${quoteWord(request.prefix ?? '')} ${request.limit} ${quoteWord(page.cursor)})`;
  return `${keys}\ncursor: ${quoteWord(page.cursor)}${next}`;
}

/** A word quoted as the shell reads it back: in double quotes, with `"` and `\` escaped. */
export function quoteWord(text: string): string {
  return `"${text.replace(/["\\]/g, '\\$&')}"`;
}

/** `address  status` rows, addresses padded so the statuses line up. */
export function formatMembers(members: readonly unknown[]): string {
  if (members.length === 0) return '(empty)';
  const rows = members.map((member): [address: string, status: string] => {
    if (!isRecord(member)) return [formatValue(member), ''];
    const status = String(member.status);
    return [String(member.address), member.answered === false ? `${status} (never answered)` : status];
  });
  const width = Math.max(...rows.map(([address]) => address.length));
  return rows.map(([address, status]) => `${address.padEnd(width)}  ${status}`.trimEnd()).join('\n');
}

/** A key's replicas, numbered, the first marked as the primary. */
export function formatReplicas(replicas: readonly unknown[]): string {
  return numbered(replicas.map((replica, i) => `${String(replica)}${i === 0 ? ' (primary)' : ''}`));
}

/**
 * `name: value` lines with the values lined up, nested counters flattened to dotted names as `--json` nests them
 * (`requests.total`); durations and byte counts also read in units. `replicas` (the factor in force, capped at the
 * member count) carries `replication` (the cluster's factor, and a change under way) in one line.
 */
export function formatStats(stats: Record<string, unknown>): string {
  const { replication, ...rest } = stats;
  const rows = flatten(rest).map(([name, value]) => [name, statText(name, value)] as const);
  if (isRecord(replication)) {
    const at = rows.findIndex(([name]) => name === 'replicas');
    if (at === -1) rows.push(['replication', formatReplication(replication)]);
    else rows[at] = ['replicas', replicasText(rest.replicas, replication)];
  }
  if (rows.length === 0) return '(empty)';
  const width = Math.max(...rows.map(([name]) => name.length)) + 1;
  return rows.map(([name, text]) => `${`${name}:`.padEnd(width)} ${text}`).join('\n');
}

/** A document's leaves as `[dotted.name, value]`, in its order; an array or an empty object is one leaf. */
export function flatten(document: Record<string, unknown>, prefix = ''): Array<[string, unknown]> {
  return Object.entries(document).flatMap(
    ([name, value]): Array<[string, unknown]> =>
      isRecord(value) && Object.keys(value).length > 0
        ? flatten(value, `${prefix}${name}.`)
        : [[`${prefix}${name}`, value]],
  );
}

function statText(name: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.length === 0 ? '(none)' : value.map(String).join(', ');
  const text = formatValue(value);
  if (typeof value !== 'number') return text;
  if (/Ms$/.test(name) && value >= 1_000) return `${text} (${formatDuration(value)})`;
  if (/^memory\.|[bB]ytes/.test(name) && value >= 1_024) {
    return `${text} (${formatBytes(value)}${/PerSecond$/.test(name) ? '/s' : ''})`;
  }
  return text;
}

/** The factor in force, and the one a change under way moves to. */
function formatReplication({ replicas, target }: Record<string, unknown>): string {
  return target === undefined ? String(replicas) : `${String(replicas)} (changing to ${String(target)})`;
}

/** `replicas` with what `replication` adds to it: the cluster's factor when the member count caps it, a change. */
function replicasText(replicas: unknown, { replicas: factor, target }: Record<string, unknown>): string {
  const notes: string[] = [];
  if (factor !== undefined && factor !== replicas)
    notes.push(`the cluster's factor is ${String(factor)}, capped at the member count`);
  if (target !== undefined) notes.push(`changing to ${String(target)}`);
  return notes.length === 0 ? String(replicas) : `${String(replicas)} (${notes.join('; ')})`;
}

/** `72.0 MiB`: bytes in binary units, one decimal. */
export function formatBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let size = bytes / 1_024;
  let unit = 0;
  while (size >= 1_024 && unit < units.length - 1) {
    size /= 1_024;
    unit++;
  }
  return `${size.toFixed(1)} ${units[unit]}`;
}

/** `1h 2m 3s`, or `450 ms` under a second. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  let seconds = Math.floor(ms / 1_000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
  ] as const) {
    if (seconds >= size || parts.length > 0) {
      parts.push(`${Math.floor(seconds / size)}${unit}`);
      seconds %= size;
    }
  }
  parts.push(`${seconds}s`);
  return parts.join(' ');
}

/**
 * One `(error) …` line (more for a quorum failure, which also says what was required and which replicas failed,
 * and for a failed `mget` or `mset`, which lists the keys that failed).
 * Usage errors (bad arguments, unknown command) are shown without a class name: they are the shell talking.
 */
export function formatError(error: unknown): string {
  if (error instanceof UsageError) return `(error) ${error.message}`;
  if (!(error instanceof Error)) return `(error) ${String(error)}`;
  const head = `(error) ${error.name}: ${error.message}`;
  const data = (error as { data?: unknown }).data;
  if (isRecord(data) && Array.isArray(data.failedKeys))
    return [head, ...failedKeys(data.failedKeys)].join('\n');
  if (error.name !== 'QuorumNotReachedError' || !isRecord(data)) return head;
  return [head, ...quorumDetail(data)].join('\n');
}

function quorumDetail(data: Record<string, unknown>): string[] {
  const { required, acked, replicas, failed, timedOut } = data;
  const lines: string[] = [];
  if (typeof required === 'number' && typeof acked === 'number') {
    const of = Array.isArray(replicas) ? ` of ${replicas.length} replicas` : '';
    const why = timedOut === true ? ' before the timeout' : '';
    lines.push(`  required ${required}${of}, ${acked} acked${why}`);
  }
  if (Array.isArray(failed)) {
    const rows = failed.filter(isRecord).map((f) => [String(f.replica), String(f.reason)] as const);
    const width = Math.max(0, ...rows.map(([replica]) => replica.length));
    for (const [replica, reason] of rows) lines.push(`  ${replica.padEnd(width)}  failed: ${reason}`);
  }
  return lines;
}

/** Most failed keys of an `mget` or `mset` listed one a line; the rest are counted. */
const MAX_FAILED_KEYS_SHOWN = 10;

function failedKeys(failed: readonly unknown[]): string[] {
  const rows = failed
    .slice(0, MAX_FAILED_KEYS_SHOWN)
    .map((f) => (isRecord(f) ? [formatValue(f.key), String(f.reason)] : [formatValue(f), '?']));
  const width = Math.max(0, ...rows.map(([key]) => key?.length ?? 0));
  const lines = rows.map(([key = '', reason]) => `  ${key.padEnd(width)}  failed: ${reason}`);
  const more = failed.length - MAX_FAILED_KEYS_SHOWN;
  return more > 0 ? [...lines, `  … and ${more} more`] : lines;
}

function numbered(lines: readonly string[]): string {
  if (lines.length === 0) return '(empty)';
  const width = String(lines.length).length;
  return lines.map((line, i) => `${String(i + 1).padStart(width)}) ${line}`).join('\n');
}

function isKeyPage(value: unknown): value is KeyPage {
  return (
    isRecord(value) &&
    Array.isArray(value.keys) &&
    (typeof value.cursor === 'string' || value.cursor === null)
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
