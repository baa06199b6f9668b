/**
 * The shell's language, with no I/O: a line becomes tokens, tokens become a command. A bad line throws a
 * `UsageError` whose message is what the shell prints (`usage: set KEY VALUE`, `unknown command "x"`, …).
 */
import {
  CONSISTENCY_LEVELS,
  type Consistency,
  isTtl,
  type JsonValue,
  MAX_LIST_LIMIT,
  MAX_TTL_SECONDS,
  UsageError,
} from '@kvdb/core';

import { checkNumbers, type Token, tokenize } from './tokenize.js';

export { type Token, tokenize };

export type CallCommand =
  | { kind: 'call'; method: 'get' | 'pop'; params: { key: string; default?: JsonValue } }
  | { kind: 'call'; method: 'set'; params: { key: string; value: JsonValue; ttl?: number } }
  | { kind: 'call'; method: 'cas'; params: { key: string; value: JsonValue; expected?: JsonValue } }
  | { kind: 'call'; method: 'has' | 'locate' | 'ttl'; params: { key: string } }
  | { kind: 'call'; method: 'list_keys'; params: { prefix?: string; limit?: number; cursor?: string } }
  | { kind: 'call'; method: 'mget'; params: { keys: string[] } }
  | { kind: 'call'; method: 'mset'; params: { entries: Array<[string, JsonValue]> } }
  | {
      kind: 'call';
      method: 'ping' | 'list_members' | 'stats' | 'cluster_status';
      params: Record<string, never>;
    }
  | { kind: 'call'; method: 'leave'; params: { address?: string }; yes: boolean }
  | { kind: 'call'; method: 'set_replicas'; params: { replicas: number } };

export type ShellCommand =
  | { kind: 'empty' }
  | CallCommand
  | { kind: 'help'; topic?: string }
  | { kind: 'exit' }
  | { kind: 'consistency'; level?: Consistency }
  | { kind: 'connect'; host: string; port: number };

export type CommandName =
  | 'get'
  | 'set'
  | 'cas'
  | 'has'
  | 'pop'
  | 'ttl'
  | 'list_keys'
  | 'mget'
  | 'mset'
  | 'list_members'
  | 'locate'
  | 'stats'
  | 'status'
  | 'connect'
  | 'leave'
  | 'set_replicas'
  | 'ping'
  | 'consistency'
  | 'help'
  | 'exit';

export interface CommandSpec {
  name: CommandName;
  aliases: readonly string[];
  /** Argument synopsis, `[X]` for optional ones, `[X…]` for any number more. */
  args: string;
  summary: string;
  minArgs: number;
  maxArgs: number;
}

const spec = (name: CommandName, args: string, summary: string, aliases: string[] = []): CommandSpec => {
  const words = args === '' ? [] : args.split(' ');
  const optional = words.findIndex((word) => word.startsWith('['));
  const minArgs = optional === -1 ? words.length : optional;
  const maxArgs = args.includes('…') ? Number.POSITIVE_INFINITY : words.length;
  return { name, aliases, args, summary, minArgs, maxArgs };
};

/** Every shell command, in the order `help` lists them. */
export const COMMANDS: readonly CommandSpec[] = [
  spec('get', 'KEY [DEFAULT]', "Print KEY's value, or DEFAULT (else null) when it has none"),
  spec(
    'set',
    'KEY VALUE [ttl=SECONDS]',
    'Store VALUE under KEY; with ttl=SECONDS (60, 0.5, …), it expires that many seconds later',
  ),
  spec(
    'cas',
    'KEY VALUE [EXPECTED]',
    "Store VALUE if KEY's value equals EXPECTED, or, without EXPECTED, if KEY has none (a serial operation); print whether it did and the value after",
  ),
  spec('has', 'KEY', 'Print whether KEY has a value'),
  spec('pop', 'KEY [DEFAULT]', 'Remove KEY and print the value it held, or DEFAULT (else null)'),
  spec(
    'ttl',
    'KEY',
    "Print how long KEY's value has left before it expires; with --raw, as Redis's TTL: the seconds, -1 for no expiry, -2 for no value",
  ),
  spec(
    'list_keys',
    '[PREFIX [LIMIT [CURSOR]]]',
    'List every key (that starts with PREFIX), sorted; with LIMIT, one page of keys and the cursor to go on from ("" is no PREFIX)',
  ),
  spec('mget', 'KEY [KEY…]', 'Print the values of the KEYs in order (null for a key with none)'),
  spec(
    'mset',
    'KEY VALUE [KEY VALUE…]',
    'Store each VALUE under the KEY before it, each KEY once; not atomic: a failure names the keys not stored',
  ),
  spec('list_members', '', 'List the cluster members and their status'),
  spec('locate', 'KEY', 'List the replicas that hold KEY, primary first'),
  spec(
    'stats',
    '',
    'Print the counters of the node the shell is connected to, nested ones by dotted name (requests.total)',
  ),
  spec(
    'status',
    '',
    "Show every member's address, state, keys, version and uptime, as the connected node sees the cluster",
  ),
  spec(
    'connect',
    'HOST:PORT',
    'Talk to the node at HOST:PORT from now on, once it answers (else stay on this one)',
  ),
  spec(
    'leave',
    '[ADDRESS] [--yes]',
    'Take the connected node out of the cluster for good (it hands its data over, then exits), or remove ADDRESS, a member that is down; asks first on a terminal, elsewhere needs --yes',
  ),
  spec(
    'set_replicas',
    'N',
    "Change the cluster's replication factor to N; answers once the new replicas hold their data (stats shows a change under way)",
  ),
  spec('ping', '', 'Check that the node answers'),
  spec(
    'consistency',
    '[one|quorum|all|serial]',
    'Set the level get, set, has, pop, ttl, mget and mset use, or print it (serial: linearizable per key)',
  ),
  spec('help', '[COMMAND]', 'List the commands, or describe one'),
  spec('exit', '', 'Leave the shell; Ctrl-D does too', ['quit']),
];

const byName = new Map<string, CommandSpec>(
  COMMANDS.flatMap((command) => [command.name, ...command.aliases].map((name) => [name, command] as const)),
);

export function usage(command: CommandSpec): string {
  return command.args === '' ? command.name : `${command.name} ${command.args}`;
}

const HELP_NOTES = [
  'Command names are case-insensitive. A value that is valid JSON is parsed as JSON (1, true, null,',
  '{"name": "Ada Lovelace"}: a word that starts with { or [ runs to its matching bracket); anything else',
  'is a string. "Double quotes" always make a string (inside, \\" is a quote and \\\\ a backslash);',
  "'single quotes' keep everything inside as typed, as in a POSIX shell, and the word is then read as",
  'above (\'{"a": 1}\' is an object, \'"1"\' the string 1). A number a double cannot hold exactly',
  '(12345678901234567890) is refused: quote it to store a string. Keys are always strings.',
  'Blank lines and lines starting with # are skipped.',
];

/** The command table with notes on quoting and values, under `heading`. */
export function helpText(heading = 'Commands:'): string {
  const width = Math.max(...COMMANDS.map((command) => usage(command).length));
  const indent = ' '.repeat(width + 4);
  const rows = COMMANDS.map((command) => {
    const aliases = command.aliases.length > 0 ? ` (alias: ${command.aliases.join(', ')})` : '';
    const lines = wrapWords(`${command.summary}${aliases}`, HELP_COLUMNS - indent.length);
    return `  ${usage(command).padEnd(width)}  ${lines.join(`\n${indent}`)}`;
  });
  return [heading, ...rows, '', ...HELP_NOTES].join('\n');
}

/** The width help is wrapped to, so a summary's continuation lines stay under it rather than under column 0. */
const HELP_COLUMNS = 100;

function wrapWords(text: string, columns: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > columns) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  return [...lines, line];
}

/** What `help` prints. */
export const HELP: string = helpText();

/** `help COMMAND`: the usage and summary of one command. */
export function helpFor(topic: string): string {
  const command = lookup(topic);
  if (command === undefined) throw unknownCommand(topic);
  const aliases = command.aliases.length > 0 ? `\nalias: ${command.aliases.join(', ')}` : '';
  return `usage: ${usage(command)}\n${command.summary}${aliases}`;
}

/** Parses one line of the shell; blank lines and `#` comments are `{ kind: 'empty' }`. */
export function parseCommand(line: string): ShellCommand {
  const trimmed = line.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return { kind: 'empty' };
  return parseTokens(tokenize(trimmed));
}

/** Parses words that are already split, as the command line of `kvdb get KEY` gives them. */
export function parseTokens(tokens: readonly Token[]): ShellCommand {
  const [head, ...args] = tokens;
  if (head === undefined) return { kind: 'empty' };
  const command = lookup(head.text);
  if (command === undefined) throw unknownCommand(head.text);
  if (args.length < command.minArgs || args.length > command.maxArgs) {
    throw new UsageError(`usage: ${usage(command)}`);
  }
  const key = args[0]?.text ?? '';
  // Read only by the commands that take a VALUE: a word elsewhere is never refused for holding a number.
  const value = (): JsonValue | undefined => (args[1] === undefined ? undefined : parseValue(args[1]));
  switch (command.name) {
    case 'get':
    case 'pop': {
      const fallback = value();
      return {
        kind: 'call',
        method: command.name,
        params: fallback === undefined ? { key } : { key, default: fallback },
      };
    }
    case 'set':
      return {
        kind: 'call',
        method: 'set',
        params: { key, value: value() as JsonValue, ...setOptions(command, args.slice(2)) },
      };
    case 'cas': {
      const expected = args[2] === undefined ? undefined : parseValue(args[2]);
      const params = { key, value: value() as JsonValue };
      return {
        kind: 'call',
        method: 'cas',
        params: expected === undefined ? params : { ...params, expected },
      };
    }
    case 'has':
    case 'locate':
    case 'ttl':
      return { kind: 'call', method: command.name, params: { key } };
    case 'list_keys':
      return { kind: 'call', method: 'list_keys', params: listKeysParams(command, args) };
    case 'mget':
      return { kind: 'call', method: 'mget', params: { keys: args.map((arg) => arg.text) } };
    case 'mset':
      return { kind: 'call', method: 'mset', params: { entries: pairs(command, args) } };
    case 'ping':
    case 'list_members':
    case 'stats':
      return { kind: 'call', method: command.name, params: {} };
    case 'status':
      return { kind: 'call', method: 'cluster_status', params: {} };
    case 'connect':
      return { kind: 'connect', ...hostAndPort(command, key) };
    case 'leave': {
      const isYes = (arg: Token) => !arg.quoted && arg.text === '--yes';
      const [address, ...rest] = args.filter((arg) => !isYes(arg));
      if (rest.length > 0) throw new UsageError(`usage: ${usage(command)}`);
      return {
        kind: 'call',
        method: 'leave',
        params: address === undefined ? {} : { address: address.text },
        yes: args.some(isYes),
      };
    }
    case 'set_replicas':
      return { kind: 'call', method: 'set_replicas', params: { replicas: wholeNumber(command, key) } };
    case 'consistency':
      return args[0] === undefined
        ? { kind: 'consistency' }
        : { kind: 'consistency', level: parseLevel(command, args[0]) };
    case 'help': {
      if (args[0] === undefined) return { kind: 'help' };
      const topic = lookup(args[0].text);
      if (topic === undefined) throw unknownCommand(args[0].text);
      return { kind: 'help', topic: topic.name };
    }
    case 'exit':
      return { kind: 'exit' };
  }
}

/**
 * A quoted token is a string; an unquoted one is JSON when it parses as JSON, else the plain string. JSON holding a
 * number a double cannot hold as typed is refused (`checkNumbers`), rather than stored rounded.
 */
export function parseValue(token: Token): JsonValue {
  if (token.quoted) return token.text;
  let value: JsonValue;
  try {
    value = JSON.parse(token.text) as JsonValue;
  } catch {
    return token.text;
  }
  checkNumbers(token.text);
  return value;
}

/** `[PREFIX [LIMIT [CURSOR]]]`: an empty PREFIX or CURSOR (`""`) is none; LIMIT must be a whole number in range. */
function listKeysParams(
  command: CommandSpec,
  args: readonly Token[],
): { prefix?: string; limit?: number; cursor?: string } {
  const [prefix, limit, cursor] = args;
  const params: { prefix?: string; limit?: number; cursor?: string } = {};
  if (prefix !== undefined && prefix.text !== '') params.prefix = prefix.text;
  if (limit !== undefined) {
    const value = /^\d+$/.test(limit.text) ? Number(limit.text) : Number.NaN;
    if (!(value >= 1 && value <= MAX_LIST_LIMIT)) {
      throw new UsageError(
        `LIMIT must be a whole number from 1 to ${MAX_LIST_LIMIT}; usage: ${usage(command)}`,
      );
    }
    params.limit = value;
  }
  if (cursor !== undefined && cursor.text !== '') params.cursor = cursor.text;
  return params;
}

/** `KEY VALUE [KEY VALUE…]` as `[key, value]` pairs, each value read as `set` reads its VALUE. */
function pairs(command: CommandSpec, args: readonly Token[]): Array<[string, JsonValue]> {
  if (args.length % 2 !== 0) throw new UsageError(`every KEY needs a VALUE; usage: ${usage(command)}`);
  const entries: Array<[string, JsonValue]> = [];
  for (let i = 0; i < args.length; i += 2) {
    entries.push([args[i]?.text ?? '', parseValue(args[i + 1] as Token)]);
  }
  return entries;
}

/** The words after `set KEY VALUE`: `ttl=SECONDS`, a number above 0 (fractions too) up to MAX_TTL_SECONDS. */
function setOptions(command: CommandSpec, words: readonly Token[]): { ttl?: number } {
  const options: { ttl?: number } = {};
  for (const word of words) {
    const [, seconds] = /^ttl=(.*)$/i.exec(word.text) ?? [];
    if (seconds === undefined) throw new UsageError(`usage: ${usage(command)}`);
    const ttl = /^\d*\.?\d+$/.test(seconds) ? Number(seconds) : Number.NaN;
    if (!isTtl(ttl)) {
      throw new UsageError(
        `SECONDS must be a number above 0 and at most ${MAX_TTL_SECONDS}; usage: ${usage(command)}`,
      );
    }
    options.ttl = ttl;
  }
  return options;
}

/** A whole number from 1 up, or a `UsageError` with the command's usage. */
function wholeNumber(command: CommandSpec, text: string): number {
  if (!/^[1-9]\d{0,5}$/.test(text))
    throw new UsageError(`N must be a whole number from 1 up; usage: ${usage(command)}`);
  return Number(text);
}

/** `HOST:PORT` (`[::1]:5878` for IPv6), or a `UsageError` with the command's usage. */
function hostAndPort(command: CommandSpec, text: string): { host: string; port: number } {
  const [, bracketed, plain, port = ''] = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text) ?? [];
  const host = bracketed ?? plain;
  const number = Number(port);
  if (host === undefined || !(number >= 1 && number <= 65_535)) {
    throw new UsageError(`expected HOST:PORT, a port from 1 to 65535; usage: ${usage(command)}`);
  }
  return { host, port: number };
}

function parseLevel(command: CommandSpec, token: Token): Consistency {
  const level = token.text.toLowerCase() as Consistency;
  if (!CONSISTENCY_LEVELS.includes(level)) throw new UsageError(`usage: ${usage(command)}`);
  return level;
}

function lookup(name: string): CommandSpec | undefined {
  return byName.get(name.toLowerCase());
}

function unknownCommand(name: string): UsageError {
  return new UsageError(`unknown command ${JSON.stringify(name)}; type help for the list`);
}
