/** The `kvdb-bench` command line: its options and help. What it does is in run-command.ts, loaded on use. */
import { CONNECTION_OPTIONS, type TlsArgs } from '@kvdb/client/cli';
import type { Argv } from 'yargs';
import {
  DEFAULT_BENCH_DURATION_MS,
  DEFAULT_CONCURRENCY,
  DEFAULT_KEYSPACE,
  DEFAULT_VALUE_SIZE,
} from './constants.js';
import { DEFAULT_RECORD_SIZE } from './core-workloads.js';
import { BENCH_OPERATIONS, type RawBenchArgs } from './options.js';

export interface BenchArgs extends RawBenchArgs, TlsArgs {
  json?: boolean;
  histogram?: boolean;
  reference?: boolean;
  'compare-reference'?: boolean;
  rounds?: number;
}

export const BENCH_DESCRIPTION =
  'Benchmark nodes: throughput and latency percentiles of set, get, a mix, or a YCSB core workload';

/** The operation and every option, with `-H`, `-P`, `--timeout` and `--auth-token` as the `kvdb` shell has them. */
export function benchBuilder<T>(command: Argv<T>) {
  return command
    .options(CONNECTION_OPTIONS)
    .positional('operation', {
      choices: BENCH_OPERATIONS,
      defaultDescription: 'set',
      describe: 'What to send: set, get, or a mix of both (see --ratio); or leave it out and give --workload',
    })
    .options({
      targets: {
        alias: 't',
        type: 'string',
        array: true,
        describe: 'Nodes to spread the load over, host:port[,host:port…] or repeated (default: -H:-P)',
      },
      concurrency: {
        alias: 'c',
        type: 'number',
        defaultDescription: String(DEFAULT_CONCURRENCY),
        describe: 'Requests in flight at once, one connection each, spread over the targets',
      },
      duration: {
        alias: 'd',
        type: 'string',
        defaultDescription: `${DEFAULT_BENCH_DURATION_MS / 1_000}s`,
        describe: 'How long to run: 10s, 500ms, 2m',
      },
      requests: {
        alias: 'n',
        type: 'number',
        describe: 'Stop after this many requests instead of a duration',
      },
      ratio: { type: 'string', defaultDescription: '9:1', describe: 'get:set of the mixed operation' },
      workload: {
        type: 'string',
        defaultDescription: 'none, the operation',
        describe:
          'A YCSB core workload instead of an operation, on 1 KB records (10 fields of 100 characters) and ' +
          'zipfian keys (θ 0.99, scrambled as YCSB does). a: 50% reads, 50% updates; b: 95% reads, 5% updates; ' +
          'c: reads only; d: 95% reads favouring the newest records, 5% inserts; e: 95% scans, 5% inserts; ' +
          'f: 50% reads, 50% read-modify-writes (a get, then a set of the same key, timed as one). Inserts ' +
          'take new keys past the keyspace. A scan of N records (N uniform 1–100) from key:S is one mget of ' +
          'key:S … key:S+N-1: kvdb has no range read, and list_keys pages through keys without their values, ' +
          'in hash order on a cluster',
      },
      rate: {
        type: 'string',
        defaultDescription: 'none, a closed loop',
        describe:
          'Open loop: start this many operations per second, across all connections and workers, on a fixed ' +
          'timetable whatever the replies do, and time each from when it was meant to start, so a stalled or ' +
          'overloaded node shows in every operation that waited (no coordinated omission). Without it, each ' +
          'connection sends when its last reply is in',
      },
      keyspace: {
        alias: 'k',
        type: 'number',
        defaultDescription: String(DEFAULT_KEYSPACE),
        describe: 'Distinct keys, key:0 … key:N-1, drawn uniformly (zipfian with --workload)',
      },
      'value-size': {
        type: 'number',
        defaultDescription: `${DEFAULT_VALUE_SIZE}, ${DEFAULT_RECORD_SIZE} with --workload`,
        describe: 'Characters in each value set; with --workload, in the 10 fields of a record together',
      },
      warmup: {
        type: 'boolean',
        defaultDescription: 'on for get, mixed and --workload',
        describe:
          'Set every key once, unmeasured, before the run, so reads hit (YCSB’s load phase; --no-warmup to skip)',
      },
      'warmup-time': {
        type: 'string',
        defaultDescription: '0',
        describe:
          'Then run the load this long, unmeasured, so the nodes have compiled their hot code: 3s, 500ms',
      },
      workers: {
        alias: 'w',
        type: 'number',
        defaultDescription: '1',
        describe: 'Threads generating load, each with its own event loop, for more load than one can drive',
      },
      consistency: {
        type: 'string',
        choices: ['one', 'quorum', 'all', 'serial'],
        describe:
          'Consistency level of every request (default: the node’s, quorum); serial runs a Paxos round each',
      },
      json: { type: 'boolean', describe: 'Print one JSON object with every figure, and no progress bar' },
      histogram: { type: 'boolean', describe: 'Add a latency distribution chart to the report' },
      reference: {
        type: 'boolean',
        describe: 'Benchmark the reference server (bare node:http + Map) that this starts, not a node',
      },
      'compare-reference': {
        type: 'boolean',
        describe: 'Benchmark the reference server, then the targets, and print target ÷ reference',
      },
      rounds: {
        type: 'number',
        defaultDescription: '1',
        describe:
          'With --compare-reference: alternate reference and target this many times, splitting the run',
      },
    })
    .example('$0 set -P 5878', 'sets for 10 s, 32 in flight, on one node')
    .example('$0 get -t 127.0.0.1:5878,127.0.0.1:5879,127.0.0.1:5880 -d 30s', 'gets over three nodes')
    .example('$0 mixed --ratio 3:1 -n 100000 --json', '100,000 requests, 3 gets a set, as JSON')
    .example('$0 --workload a -t 127.0.0.1:5878,127.0.0.1:5879,127.0.0.1:5880', 'YCSB A over three nodes')
    .example('$0 get --rate 5000 -d 30s', '5,000 gets a second, timed from their intended starts')
    .example('$0 set --compare-reference -P 5878', 'the node as a share of a bare node:http server')
    .example('$0 get --compare-reference --rounds 5 -d 20s', '…alternating 4 s slices, median ratio');
}
