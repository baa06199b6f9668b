import { UsageError } from '@kvdb/core';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import {
  CONNECTION_OPTIONS,
  SETTINGS_HELP,
  type TlsArgs,
  tlsFromArgs,
  withHelpAndErrors,
  withSettings,
} from '../cli.js';
import { KVClient } from '../kv-client.js';
import { helpText } from '../shell/commands.js';
import { greeting } from '../shell/greeting.js';
import { HISTORY_ENV, historyFile } from '../shell/history.js';
import { runShell } from '../shell/repl.js';
import { ShellSession } from '../shell/session.js';

interface ShellArgs extends TlsArgs {
  host: string;
  port: number;
  nodes: string | undefined;
  timeout: number | undefined;
  'auth-token': string | undefined;
  json: boolean | undefined;
  raw: boolean | undefined;
  yes: boolean | undefined;
  words: string[] | undefined;
  _: Array<string | number>;
}

/**
 * The default command: the shell, or with words after the options, that one shell command. yargs runs it when the
 * first word names no other command.
 */
async function shell(argv: ShellArgs): Promise<void> {
  let tls: ReturnType<typeof tlsFromArgs>;
  try {
    tls = tlsFromArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`kvdb: ${error.message}`);
    process.exitCode = 2;
    return;
  }
  const common = { timeoutMs: argv.timeout, authToken: argv['auth-token'], tls };
  const connect = (host: string, port: number) => new KVClient({ host, port, ...common });
  // With -n, a client of every node given, with its failover and routing; `connect` later picks one node.
  const nodes = (argv.nodes ?? '')
    .split(',')
    .map((node) => node.trim())
    .filter((node) => node !== '');
  const first = () => (nodes.length > 0 ? new KVClient({ nodes, ...common }) : connect(argv.host, argv.port));
  let client: KVClient;
  try {
    client = first();
  } catch (error) {
    console.error(`kvdb: ${(error as Error).message}`);
    process.exitCode = 2;
    return;
  }
  const init = {
    format: argv.json ? 'json' : argv.raw ? 'raw' : 'human',
    yes: argv.yes,
    nodes: nodes.length > 0 ? nodes : [client.address],
  } as const;
  try {
    // Words after `--` land in `_`, so `kvdb -- set k -x` can pass words that look like options.
    const words = [...(argv.words ?? []), ...argv._.map(String)];
    if (words.length > 0) {
      const outcome = await new ShellSession({ client, connect }, init).runWords(words);
      // --json prints an error as a document on stdout, where `| jq` reads it.
      const stream = outcome.ok || init.format === 'json' ? process.stdout : process.stderr;
      if (outcome.text !== '') stream.write(`${outcome.text}\n`);
      process.exitCode = outcome.ok ? 0 : 1;
      return;
    }
    const terminal = process.stdin.isTTY === true && process.stdout.isTTY === true;
    const ok = await runShell({
      ...init,
      client,
      connect,
      reopen: first,
      input: process.stdin,
      output: process.stdout,
      errors: process.stderr,
      terminal,
      // The node's answer, or a note that it did not come, capped so that the prompt comes anyway.
      greeting: init.format === 'human' ? (signal: AbortSignal) => greeting(client, signal) : undefined,
      historyFile: terminal ? historyFile() : undefined,
    });
    if (!terminal && !ok) process.exitCode = 1;
  } finally {
    await client.close();
  }
}

const cli = yargs(hideBin(process.argv))
  .scriptName('kvdb')
  .usage(
    '$0 [options] [COMMAND [ARGS...]]\n\nThe kvdb shell: type commands at a `>> ` prompt, pipe a script into it, or run one ' +
      'command and exit.\nAny node of a cluster answers any command.',
  )
  .options(CONNECTION_OPTIONS)
  .options({
    nodes: {
      alias: 'n',
      type: 'string',
      describe:
        'Comma-separated host:port of several nodes (instead of -H/-P): the shell learns the cluster from them, sends each key to one of its replicas, and fails over when a node goes down',
    },
    json: {
      type: 'boolean',
      describe:
        'Print each result as one JSON document on a line, and errors as {"error": …}: for scripts and jq',
    },
    raw: {
      type: 'boolean',
      describe:
        'Print bare values: strings without quotes, lists one item a line, tables as tab-separated rows, ttl as seconds (-1: no expiry, -2: no value, as in Redis)',
    },
    yes: {
      alias: 'y',
      type: 'boolean',
      describe: 'Run leave without asking (needed for leave in a script or a one-shot command)',
    },
  })
  .conflicts('json', 'raw')
  .command(
    '$0 [words..]',
    'Open the shell, or run one shell command and exit (status 1 if it failed). A piped script exits 1 if any line failed, naming each on stderr (line 3: (error) …)',
    (command) =>
      command.positional('words', {
        type: 'string',
        array: true,
        describe: 'A shell command and its arguments, e.g. get mykey',
      }),
    (argv) => shell(argv),
  )
  // `bench` is no shell command, and the benchmark is a binary of its own: say so rather than send it to a node.
  .command(
    'bench [args..]',
    false,
    (command) => command.strict(false),
    () => {
      const words = process.argv.slice(2);
      words.splice(words.indexOf('bench'), 1);
      console.error(
        `kvdb: the benchmark is kvdb-bench, not kvdb bench: ${['kvdb-bench', ...words].join(' ')}`,
      );
      process.exit(2);
    },
  )
  .example('$0 -P 5878', 'open the shell on the node at 127.0.0.1:5878')
  .example('$0 -P 5878 get mykey', 'print one value and exit')
  .example(
    '$0 -n 10.0.0.5:5878,10.0.0.6:5878,10.0.0.7:5878',
    'the shell over a cluster, failing over between nodes',
  )
  .example('$0 set greeting \'"hello"\'', 'store the string "hello" (quote JSON-looking strings twice)')
  .example('$0 -- set offset -1', 'words that look like options go after --')
  .example('$0 < script.kvdb', 'run a script, one command a line')
  .example('$0 --json status | jq .members', "the cluster's members and their counters, as JSON")
  .example('$0 --raw get greeting', 'the bare value, for $(…) in a shell script')
  .example('$0 --yes leave', 'take the node out of the cluster for good, without asking')
  .example('$0 --tls-ca ca.pem -H db1.example.com', 'talk TLS to a node whose certificate ca.pem signed')
  .example(
    'kvdb-bench get -P 5878',
    'benchmark gets on one node: the benchmark is kvdb-bench (see its --help)',
  )
  .check((argv) => {
    if (!Number.isInteger(argv.port) || argv.port < 1 || argv.port > 65_535) {
      throw new Error('Expected `--port` to be an integer from 1 to 65535');
    }
    if (argv.nodes?.split(',').every((node) => node.trim() === '')) {
      throw new Error('Expected `--nodes` to list host:port of one node or more, comma-separated');
    }
    if (argv.timeout !== undefined && !(argv.timeout > 0)) {
      throw new Error('Expected `--timeout` to be a number of milliseconds above 0');
    }
    return true;
  })
  .parserConfiguration({ 'parse-positional-numbers': false })
  .epilog(helpText('Shell commands (at the prompt, or after the options to run just one):'))
  .epilog(
    `At a terminal, Tab completes commands and keys, and typed lines are kept in ~/.kvdb_history (set ${HISTORY_ENV} to move it, or to an empty string to keep none); Ctrl-C cancels a command, and at an empty prompt leaves.`,
  )
  .epilog(SETTINGS_HELP);
await withHelpAndErrors(withSettings(cli, 'kvdb'), 'kvdb').parseAsync();
