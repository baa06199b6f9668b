import { SETTINGS_HELP, withHelpAndErrors, withSettings } from '@kvdb/client/cli';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BENCH_DESCRIPTION, type BenchArgs, benchBuilder } from '../command.js';

// Flags are validated where they are resolved (resolveBenchOptions), so that code and command line agree.
const cli = yargs(hideBin(process.argv))
  .scriptName('kvdb-bench')
  // The settings read the options the builder declares, so they come after them.
  .command(
    '$0 [operation]',
    BENCH_DESCRIPTION,
    (command) => withSettings(benchBuilder(command), 'kvdb-bench').epilog(SETTINGS_HELP),
    async (argv) => {
      const { benchHandler } = await import('../run-command.js');
      await benchHandler(argv as BenchArgs);
    },
  )
  .parserConfiguration({ 'parse-positional-numbers': false });
await withHelpAndErrors(cli, 'kvdb-bench').parseAsync();
