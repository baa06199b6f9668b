/**
 * `@kvdb/core/cli`: what every kvdb command line (`kvdb-server`, `kvdb`, `kvdb-bench`) does alike: options also
 * from `KVDB_*` variables and a `--config` file, unknown options and bad values named first and briefly,
 * `--version`, `-h`/`--help`, and exit status 2 for a usage error.
 */
import type { Argv } from 'yargs';
import { cliOptions, unknownOptionLines, writtenOptions } from './cli-options.js';
import { KVDB_VERSION } from './constants.js';

export { type CliOption, cliOptions, unknownOptionLines } from './cli-options.js';
export { SETTINGS_HELP, type SettingsInit, variableName, withSettings } from './cli-settings.js';

/**
 * The end of every kvdb command line: unknown options refused, `--version`, `-h`/`--help` at the terminal's width,
 * and a usage error printed as `NAME: message` (an unknown option first, with the nearest known one), then
 * `see NAME --help`, with exit status 2. `args` are the words the command line was given, to name what was written.
 */
export function withHelpAndErrors<T>(cli: Argv<T>, name: string, args = process.argv.slice(2)): Argv<T> {
  return cli
    .strict()
    .locale('en')
    .version(KVDB_VERSION)
    .help()
    .alias('help', 'h')
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .check((argv) => {
      for (const option of cliOptions(cli).values()) {
        const values = [argv[option.name]].flat();
        if (option.type === 'number' && values.some((value) => Number.isNaN(value))) {
          throw new Error(
            `Expected \`--${option.name}\` to be a number, got ${written(cli, args, option.name)}`,
          );
        }
      }
      return true;
    })
    .fail((message, error) => {
      if (error && !message) throw error;
      const unknown = unknownOptionLines(cli, args);
      const lines = unknown.length > 0 ? unknown : message.split('\n');
      // Continuation lines (indented, as yargs writes them) stay under the line they continue.
      const prefixed = lines.map((line) => (/^\s/.test(line) ? line : `${name}: ${line}`));
      console.error([...prefixed, `see ${name} --help`].join('\n'));
      process.exit(2);
    });
}

/** What was written for the option `name` (under any of its names), quoted. */
function written(cli: object, args: readonly string[], name: string): string {
  const aliases =
    (cli as { getOptions(): { alias: Record<string, string[]> } }).getOptions().alias[name] ?? [];
  const names = new Set([name, ...aliases]);
  const found = writtenOptions(args).find((option) => names.has(option.name));
  return JSON.stringify(found?.value ?? '');
}

/**
 * Keeps the last value of a flag that takes one but was given more than once (yargs makes it an array), as most
 * command lines do: a wrapper script may add a flag after those it was given. For a command line with no
 * positional words (they would look like a repeated flag).
 */
export function lastOfRepeated<T extends object>(cli: object, argv: T): T {
  const repeatable = new Set<string>();
  for (const option of cliOptions(cli).values()) {
    if (!option.array) continue;
    for (const name of [option.name, ...option.aliases]) {
      repeatable.add(name);
      repeatable.add(name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase()));
    }
  }
  const values = argv as Record<string, unknown>;
  for (const [key, value] of Object.entries(values)) {
    if (key !== '_' && Array.isArray(value) && !repeatable.has(key)) values[key] = value.at(-1);
  }
  return argv;
}
