import { KVDB_VERSION } from '@kvdb/core';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BENCH_DESCRIPTION, type BenchArgs, benchBuilder } from '../command.js';

// Flags are validated where they are resolved (resolveBenchOptions), so that code and command line agree.
await yargs(hideBin(process.argv))
  .scriptName('kvdb-bench')
  .command('$0 [operation]', BENCH_DESCRIPTION, benchBuilder, async (argv) => {
    const { benchHandler } = await import('../run-command.js');
    await benchHandler(argv as BenchArgs);
  })
  .parserConfiguration({ 'parse-positional-numbers': false })
  .strict()
  .version(KVDB_VERSION)
  .help()
  .alias('help', 'h')
  .wrap(Math.min(110, process.stdout.columns ?? 110))
  .fail((message, error, instance) => {
    if (error && !message) throw error;
    console.error(`${instance.help()}\n\nkvdb-bench: ${message}`);
    process.exit(2);
  })
  .parseAsync();
