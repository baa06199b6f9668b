import { withHelpAndErrors } from '@kvdb/client/cli';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BENCH_DESCRIPTION, type BenchArgs, benchBuilder } from '../command.js';

// Flags are validated where they are resolved (resolveBenchOptions), so that code and command line agree.
const cli = yargs(hideBin(process.argv))
  .scriptName('kvdb-bench')
  .command('$0 [operation]', BENCH_DESCRIPTION, benchBuilder, async (argv) => {
    const { benchHandler } = await import('../run-command.js');
    await benchHandler(argv as BenchArgs);
  })
  .parserConfiguration({ 'parse-positional-numbers': false });
await withHelpAndErrors(cli, 'kvdb-bench').parseAsync();
