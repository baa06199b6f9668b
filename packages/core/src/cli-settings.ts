/**
 * Options from outside the command line: a `KVDB_<NAME>` variable and a `--config FILE` of JSON for every long
 * option, read from the options a yargs instance declares, so a new flag needs no code here.
 */
import { readFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import { type CliOption, cliOptions, nearest } from './cli-options.js';

/** Options for {@link withSettings}. */
export interface SettingsInit {
  /** Where the variables come from. @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** What every variable's name starts with, before `_`. @default 'KVDB' */
  prefix?: string;
  /** Where a warning about a variable that looks like a typo of an option's goes. @default console.error */
  warn?: (line: string) => void;
}

type Values = Record<string, unknown>;

/** The help's paragraph on the other sources of options. */
export const SETTINGS_HELP =
  'Every option can also be set in the environment, as KVDB_ and its long name in capitals with _ for - ' +
  '(KVDB_AUTH_TOKEN for --auth-token), or in a JSON file named by --config (or KVDB_CONFIG), keys as the long ' +
  'names. The command line wins, then the environment, then the file, then the defaults.';

/** `auth-token` → `KVDB_AUTH_TOKEN`. */
export function variableName(prefix: string, option: string): string {
  return `${prefix}_${option.toUpperCase().replaceAll('-', '_')}`;
}

/**
 * Gives every long option `cli` has declared so far two more sources: a `KVDB_<NAME>` variable and a key of a JSON
 * file named by `--config` (or `KVDB_CONFIG`). The command line wins, then the environment, then the file, then the
 * defaults. A value of the wrong kind, or an unknown key in the file, fails the parse with the variable or the file
 * named; a variable that names no option is ignored, with a warning when it is near one that does.
 */
export function withSettings<T>(cli: Argv<T>, name: string, init: SettingsInit = {}): Argv<T> {
  const env = init.env ?? process.env;
  const prefix = init.prefix ?? 'KVDB';
  const warn = init.warn ?? ((line: string) => console.error(line));
  const options = cliOptions(cli);
  const fromEnv = environmentValues(options, env, prefix);
  for (const line of fromEnv.warnings) warn(`${name}: warning: ${line}`);
  const configVariable = variableName(prefix, 'config');
  const configPath = env[configVariable] || undefined;
  return cli
    .option('config', {
      type: 'string',
      config: true,
      // Environment over file: yargs sets what a file gives before the objects of `.config(values)`.
      configParser: (path: string) => ({ ...fileValues(options, path), ...fromEnv.values }),
      describe: `A JSON file of options, keys as the long flag names: {"port": 5878, "auth-token": "…"} (or ${configVariable})`,
      ...(configPath === undefined ? {} : { default: configPath }),
    })
    .config(fromEnv.values)
    .check(() => {
      if (fromEnv.problems.length > 0) throw new Error(fromEnv.problems.join('\n'));
      return true;
    });
}

/** Each option under each of its long names (`cluster` and `members`), spelled by `spell`. */
function byName(
  options: ReadonlyMap<string, CliOption>,
  spell: (name: string) => string,
): Map<string, CliOption> {
  return new Map(
    [...options.values()].flatMap((option) =>
      [option.name, ...option.aliases].map((name) => [spell(name), option]),
    ),
  );
}

/** The values of the variables that name options, what is wrong with the others that do, and near misses. */
function environmentValues(
  options: ReadonlyMap<string, CliOption>,
  env: Readonly<Record<string, string | undefined>>,
  prefix: string,
): { values: Values; problems: string[]; warnings: string[] } {
  const byVariable = byName(options, (name) => variableName(prefix, name));
  const values: Values = {};
  const problems: string[] = [];
  const warnings: string[] = [];
  for (const [variable, text] of Object.entries(env)) {
    if (!variable.startsWith(`${prefix}_`) || text === undefined || text === '') continue;
    const option = byVariable.get(variable);
    if (option === undefined) {
      const near =
        variable === variableName(prefix, 'config') ? undefined : nearest(variable, [...byVariable.keys()]);
      if (near !== undefined)
        warnings.push(`${variable} names no option and is ignored (did you mean ${near}?)`);
      continue;
    }
    const value =
      option.name in values
        ? new Error(`--${option.name} is set by another variable too`)
        : fromText(option, text);
    if (value instanceof Error) problems.push(`${variable}: ${value.message}`);
    else values[option.name] = value;
  }
  return { values, problems, warnings };
}

function fromText(option: CliOption, text: string): unknown {
  if (option.type === 'number') {
    const number = Number(text);
    if (text.trim() === '' || !Number.isFinite(number)) return expected('a number', text);
    return checkChoice(option, number);
  }
  if (option.type === 'boolean') {
    if (text === 'true' || text === '1') return true;
    if (text === 'false' || text === '0') return false;
    return expected('true, false, 1 or 0', text);
  }
  const value = checkChoice(option, text);
  return option.array && !(value instanceof Error) ? [value] : value;
}

/** The options of a config file: one JSON object whose keys are long flag names. */
function fileValues(options: ReadonlyMap<string, CliOption>, path: string): Values {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as Error).message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
    throw new Error(`cannot read config file ${path}: ${reason}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`config file ${path} is not valid JSON: ${withLine((error as Error).message, text)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`config file ${path}: expected a JSON object of options, got ${describe(parsed)}`);
  }
  const values: Values = {};
  const problems: string[] = [];
  const byKey = byName(options, (name) => name);
  const names = [...options.values()].filter((option) => !option.hidden).map((option) => option.name);
  for (const [key, value] of Object.entries(parsed)) {
    const option = byKey.get(key);
    if (option === undefined) {
      const near = nearest(key, names);
      problems.push(`unknown key "${key}"${near === undefined ? '' : ` (did you mean "${near}"?)`}`);
      continue;
    }
    const checked =
      option.name in values
        ? new Error(`--${option.name} is set by another key too`)
        : fromJson(option, value);
    if (checked instanceof Error) problems.push(`"${key}": ${checked.message}`);
    else values[option.name] = checked;
  }
  if (problems.length > 0)
    throw new Error(problems.map((problem) => `config file ${path}: ${problem}`).join('\n'));
  return values;
}

/**
 * Why JSON text does not parse, without quoting it (V8 quotes the text around the fault, which may hold a
 * token): the fault, and its line and column where V8 gives an offset.
 */
function withLine(message: string, text: string): string {
  const fault = message.replace(/, (?:"|\.\.\.).*$/s, '').replace(/ in JSON at position \d+.*$/s, '');
  const position = /at position (\d+)/.exec(message);
  if (position === null) return fault;
  const before = text.slice(0, Number(position[1])).split('\n');
  return `${fault} (line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1})`;
}

function fromJson(option: CliOption, value: unknown): unknown {
  if (option.array && Array.isArray(value)) {
    const items = value.map((item) => fromJson({ ...option, array: false }, item));
    return items.find((item) => item instanceof Error) ?? items;
  }
  const kind = option.type === 'string' ? 'a string' : `a ${option.type}`;
  if (typeof value !== option.type || (typeof value === 'number' && !Number.isFinite(value))) {
    const what = option.array ? `${kind} or an array of them` : kind;
    // A string option may hold a secret (a token): what was given instead is named by its kind only.
    if (option.type === 'string') return new Error(`expected ${what}, got ${kindOf(value)}`);
    return expected(what, value);
  }
  return checkChoice(option, value);
}

function checkChoice(option: CliOption, value: unknown): unknown {
  if (option.choices === undefined || option.choices.includes(value)) return value;
  return expected(`one of ${option.choices.join(', ')}`, value);
}

function expected(what: string, got: unknown): Error {
  return new Error(`expected ${what}, got ${describe(got)}`);
}

function describe(value: unknown): string {
  return Array.isArray(value) || value === null ? kindOf(value) : JSON.stringify(value);
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  return value === null ? 'null' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
