/**
 * What a yargs command line declares, read back from the instance: the long options with their kinds, and the
 * options written in an argument list that it does not know.
 */
import leven, { closestMatch } from 'leven';

/** The part of yargs' `getOptions()` read here: a method every yargs instance has, though its types omit it. */
interface YargsOptionTable {
  key: Record<string, boolean>;
  alias: Record<string, string[]>;
  array: string[];
  boolean: string[];
  number: string[];
  choices: Record<string, unknown[]>;
  hiddenOptions: string[];
}

/** A long option: its name as written after `--`, and the kind of value it takes. */
export interface CliOption {
  name: string;
  type: 'string' | 'number' | 'boolean';
  array: boolean;
  /** The values allowed, when the option names them. */
  choices: readonly unknown[] | undefined;
  hidden: boolean;
  /** Its other long names (`members` for `cluster`), which variables and files may use too. */
  aliases: string[];
}

/** Options every yargs command line has, which no variable or file sets. */
const BUILT_IN = new Set(['help', 'version', 'config']);

function tableOf(cli: object): YargsOptionTable {
  return (cli as { getOptions(): YargsOptionTable }).getOptions();
}

/** The long options `cli` declares so far (aliases and built-ins left out), by name. */
export function cliOptions(cli: object): Map<string, CliOption> {
  const table = tableOf(cli);
  const aliases = new Set(Object.values(table.alias).flat());
  const options = new Map<string, CliOption>();
  for (const name of Object.keys(table.key)) {
    if (aliases.has(name) || BUILT_IN.has(name) || name.length < 2) continue;
    const type = table.number.includes(name) ? 'number' : table.boolean.includes(name) ? 'boolean' : 'string';
    options.set(name, {
      name,
      type,
      array: table.array.includes(name),
      choices: table.choices[name],
      hidden: table.hiddenOptions.includes(name),
      aliases: (table.alias[name] ?? []).filter((alias) => alias.length > 1),
    });
  }
  return options;
}

/** `authToken` → `auth-token`: yargs accepts the camelCase spelling of every dashed flag. */
export function kebabCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** An option as written in an argument list: `--port 1`, `--port=1`, `-P 1`, `-P1`. */
interface WrittenOption {
  /** As written, dashes included: `--port`, `-P`. */
  flag: string;
  name: string;
  /** The text after `=`, or the next word when it is no option. */
  value: string | undefined;
}

/** The options written in `args`, up to a `--`. Words that look like negative numbers are values. */
export function writtenOptions(args: readonly string[]): WrittenOption[] {
  const written: WrittenOption[] = [];
  for (let index = 0; index < args.length; index++) {
    const word = args[index] ?? '';
    if (word === '--') break;
    if (!word.startsWith('-') || word === '-' || /^-\d/.test(word)) continue;
    const next = args[index + 1];
    const nextValue = next !== undefined && (!next.startsWith('-') || /^-\d/.test(next)) ? next : undefined;
    if (word.startsWith('--')) {
      const [name = '', ...rest] = word.slice(2).split('=');
      written.push({ flag: `--${name}`, name, value: rest.length > 0 ? rest.join('=') : nextValue });
      continue;
    }
    // A group of short flags, the last of which may carry its value: `-abc`, `-P5878`.
    const letters = /^[A-Za-z]*/.exec(word.slice(1))?.[0] ?? '';
    const attached = word.slice(1 + letters.length).replace(/^=/, '');
    for (const [position, letter] of [...letters].entries()) {
      const last = position === letters.length - 1;
      const value = last ? (attached !== '' ? attached : nextValue) : undefined;
      written.push({ flag: `-${letter}`, name: letter, value });
    }
  }
  return written;
}

/**
 * One line for each option in `args` that `cli` does not know, with the nearest known long option when one is
 * close: `unknown option --prot (did you mean --port?)`.
 */
export function unknownOptionLines(cli: object, args: readonly string[]): string[] {
  const table = tableOf(cli);
  const known = (name: string) => table.key[name] === true || table.key[kebabCase(name)] === true;
  const booleans = new Set(table.boolean);
  const visible = [...cliOptions(cli).values()]
    .filter((option) => !option.hidden)
    .map((option) => option.name);
  const lines: string[] = [];
  for (const { flag, name } of writtenOptions(args)) {
    const negated = name.startsWith('no-') && booleans.has(name.slice(3));
    if (known(name) || negated) continue;
    const near = name.length > 1 ? nearest(name, visible) : undefined;
    const line = `unknown option ${flag}${near === undefined ? '' : ` (did you mean --${near}?)`}`;
    if (!lines.includes(line)) lines.push(line);
  }
  return lines;
}

/**
 * The candidate nearest to `name`, when it is near enough to be a likely typo: the dashed spelling of a camelCase
 * name, two letters swapped (`prot`), or a few letters off in a long name (a third of them).
 */
export function nearest(name: string, candidates: readonly string[]): string | undefined {
  const kebab = kebabCase(name);
  if (kebab !== name && candidates.includes(kebab)) return kebab;
  const letters = [...name].sort().join('');
  const swapped = candidates.find(
    (candidate) => [...candidate].sort().join('') === letters && leven(name, candidate) === 2,
  );
  return swapped ?? closestMatch(name, candidates, { maxDistance: Math.max(1, Math.floor(name.length / 3)) });
}
