import {
  DEFAULT_READ_REPAIR_CHANCE,
  DEFAULT_STREAM_THROUGHPUT,
  DEFAULT_TIMINGS,
  DEFAULT_TOMBSTONE_GRACE_MS,
  TIMING_PRESETS,
} from '@kvdb/coordinator';
import {
  DEFAULT_HASHER,
  DEFAULT_HOST,
  DEFAULT_MAX_BATCH,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_KEY_BYTES,
  DEFAULT_MAX_VALUE_BYTES,
  DEFAULT_PORT,
  DEFAULT_REPLICAS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_VNODES,
  parseMemberList,
} from '@kvdb/core';
import { lastOfRepeated, SETTINGS_HELP, withHelpAndErrors, withSettings } from '@kvdb/core/cli';
import { DEFAULT_FSYNC_INTERVAL_MS } from '@kvdb/store-level';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { DEFAULT_CLUSTER_NAME, DEFAULT_LOG_LEVEL } from '../config.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../logger.js';
import { KVNode } from '../node.js';

const MIB = 1_048_576;

/** How to start a new cluster: the -C rule (see `ClusterNodeInit.seeds`), with commands that follow it. */
const FOUNDING_HELP = [
  'A new cluster: start each founding member with -C listing all of them, itself included (one that lists only',
  'others joins a running cluster instead, and is not ready until it reaches one). Three nodes on this machine:',
  '  kvdb-server -P 5878 -C 127.0.0.1:5878,127.0.0.1:5879,127.0.0.1:5880',
  '  kvdb-server -P 5879 -C 127.0.0.1:5878,127.0.0.1:5879,127.0.0.1:5880',
  '  kvdb-server -P 5880 -C 127.0.0.1:5878,127.0.0.1:5879,127.0.0.1:5880',
  'On three hosts, the same -C on each, with its own -H (and the same -R):',
  '  kvdb-server -H 10.0.0.5 -R 3 -C 10.0.0.5:5878,10.0.0.6:5878,10.0.0.7:5878',
  '',
].join('\n');

const cli = yargs(hideBin(process.argv))
  .scriptName('kvdb-server')
  .usage(
    '$0 [options]\n\nRuns one kvdb node: a replicated key-value store that speaks JSON-RPC 2.0 over HTTP POST /.\n' +
      'Start one per host:port, and name the members with -C (itself included, to found a cluster; one member, to join it); any node answers any request.',
  )
  .example('$0 -P 5878', 'a cluster of one node, on 127.0.0.1:5878')
  .example('$0 -P 5881 -C 127.0.0.1:5878', 'join a running cluster through one of its members')
  .options({
    host: { alias: 'H', type: 'string', default: DEFAULT_HOST, describe: 'Interface to listen on' },
    port: { alias: 'P', type: 'number', default: DEFAULT_PORT, describe: 'Port to listen on' },
    cluster: {
      alias: ['C', 'members'],
      type: 'string',
      default: '',
      describe:
        'Comma-separated host:port of the members. Listing this node too (or no one) makes it a founding member, ' +
        'owning its ranges at once; listing only others makes it join: it fetches its ranges before serving them',
    },
    replicas: {
      alias: 'R',
      type: 'number',
      describe: `Replication factor: copies of each key, capped at the member count. Give the founding members of a new cluster the same -R (${DEFAULT_REPLICAS} if none is given); a node that joins or restarts takes the cluster's (the founding members' -R, or the last set by set_replicas), so leave it out there: given and different, the node refuses to start and names both`,
    },
    advertise: {
      type: 'string',
      describe:
        'host:port other members reach this node at: its identity on the ring (default: --host:--port; required when --host is a wildcard, 0.0.0.0 or ::)',
    },
    vnodes: {
      type: 'number',
      default: DEFAULT_VNODES,
      describe: 'Virtual nodes per member on the hash ring',
    },
    hasher: {
      type: 'string',
      default: DEFAULT_HASHER,
      describe: 'Ring hash function (any node:crypto digest)',
    },
    timeout: {
      type: 'number',
      default: DEFAULT_REQUEST_TIMEOUT_MS,
      describe: 'Milliseconds a request waits for its quorum before failing',
    },
    'read-repair-chance': {
      type: 'number',
      default: DEFAULT_READ_REPAIR_CHANCE,
      describe:
        'Share of reads (0 to 1) that ask every replica, so that read repair reaches those outside the quorum; anti-entropy repairs them anyway',
    },
    'max-key-bytes': {
      type: 'number',
      default: DEFAULT_MAX_KEY_BYTES,
      describe: 'Largest key, in UTF-8 bytes',
    },
    'max-value-bytes': {
      type: 'number',
      default: DEFAULT_MAX_VALUE_BYTES,
      describe: 'Largest value, in bytes of its JSON text',
    },
    'max-body-bytes': {
      type: 'number',
      default: DEFAULT_MAX_BODY_BYTES,
      describe: 'Largest HTTP request body; larger ones are refused unread',
    },
    'max-batch': {
      type: 'number',
      default: DEFAULT_MAX_BATCH,
      describe: 'Most requests in one JSON-RPC batch',
    },
    'data-dir': {
      alias: 'D',
      type: 'string',
      describe: 'Keep data durably in this directory (LevelDB); without it the node is in memory',
    },
    'fsync-interval': {
      type: 'number',
      default: DEFAULT_FSYNC_INTERVAL_MS,
      describe:
        'With --data-dir: ms at most between acknowledging a write and flushing it to the disk; 0 flushes each commit before acknowledging it',
    },
    'auth-token': {
      type: 'string',
      describe:
        'Require Authorization: Bearer <token> on every request to POST /; also on peer streams when no --peer-token is set',
    },
    'peer-token': {
      type: 'string',
      describe:
        'Token the nodes present to each other to open peer streams, the only way to the peer.* methods. Give every node the same one and no client; without it the auth token opens peer streams',
    },
    'tls-cert': {
      type: 'string',
      describe:
        "Speak TLS: this node's certificate (PEM file, its chain after it), valid for the host in --advertise. With --tls-key the port serves HTTPS to clients and TLS to peers, and the node dials its peers with TLS, presenting this certificate. SIGHUP reads the files again",
    },
    'tls-key': { type: 'string', describe: 'The private key of --tls-cert (unencrypted PEM file)' },
    'tls-ca': {
      type: 'string',
      describe:
        "CA certificates (PEM file) that verify peers' certificates, and clients' with --tls-client-auth (default: the system's CAs)",
    },
    'tls-client-auth': {
      type: 'boolean',
      default: false,
      describe: 'Mutual TLS: require every client and peer to present a certificate signed by --tls-ca',
    },
    'stream-throughput': {
      type: 'number',
      default: DEFAULT_STREAM_THROUGHPUT / MIB,
      describe:
        'MiB/s that background transfers (range fetches of joins and leaves, rebalancing, hint replay, anti-entropy) send together, on average; 0 = unthrottled',
    },
    'tombstone-grace': {
      type: 'number',
      default: DEFAULT_TOMBSTONE_GRACE_MS / 1_000,
      describe:
        'Seconds before a tombstone every replica holds is collected; hints older than this are dropped. A node down longer must rejoin with an empty --data-dir',
    },
    route: {
      type: 'string',
      array: true,
      hidden: true,
      describe:
        'ADDRESS=HOST:PORT: reach member ADDRESS through HOST:PORT (a proxy; for fault-injection tests)',
    },
    'cluster-name': {
      type: 'string',
      default: DEFAULT_CLUSTER_NAME,
      describe:
        'Name of the cluster (1-64 printable ASCII characters, no space at either end): nodes of another cluster, and a data dir written by one, are refused',
    },
    timings: {
      type: 'string',
      choices: Object.keys(TIMING_PRESETS),
      default: DEFAULT_TIMINGS,
      describe:
        'Failure detection and repair intervals: lan (probe 1 s, dead ~6 s after silence) or local (probe 0.4 s, dead ~2 s); the time to dead grows with log10 of the member count above 10',
    },
    'log-level': {
      type: 'string',
      choices: LOG_LEVELS,
      default: DEFAULT_LOG_LEVEL,
      describe: 'Least severe log line printed; debug also logs each client request (method, outcome, ms)',
    },
    'log-format': {
      type: 'string',
      choices: LOG_FORMATS,
      describe:
        'Log lines on stderr as JSON objects, or pretty (readable); default: pretty on a terminal, else json',
    },
  })
  .epilog(FOUNDING_HELP)
  .epilog(SETTINGS_HELP);
const argv = lastOfRepeated(
  cli,
  await withHelpAndErrors(withSettings(cli, 'kvdb-server'), 'kvdb-server').parseAsync(),
);

let node: KVNode | undefined;
let stopping = false;
// Certificates renewed in place: new connections take the new files; a failed read keeps the old ones. Installed
// before the start, so that a reload during a long data-dir load does not end the process; the files being read
// at start then, there is nothing to reload.
process.on('SIGHUP', () => {
  if (!stopping) node?.reloadTls();
});
try {
  node = await KVNode.start(
    {
      host: argv.host,
      port: argv.port,
      advertise: argv.advertise,
      members: parseMemberList(argv.cluster),
      replicas: argv.replicas,
      vnodes: argv.vnodes,
      hasher: argv.hasher,
      timeoutMs: argv.timeout,
      readRepairChance: argv['read-repair-chance'],
      logLevel: argv['log-level'] as LogLevel,
      logFormat: argv['log-format'] as LogFormat | undefined,
      timings: argv.timings,
      dataDir: argv['data-dir'],
      fsyncIntervalMs: argv['fsync-interval'],
      tombstoneGraceMs: argv['tombstone-grace'] * 1_000,
      streamThroughput: argv['stream-throughput'] * MIB,
      routes: (argv.route ?? []).map((route) => {
        const [member = '', via = ''] = route.split('=');
        return [member, via] as [string, string];
      }),
      authToken: argv['auth-token'],
      peerToken: argv['peer-token'],
      clusterName: argv['cluster-name'],
      tlsCert: argv['tls-cert'],
      tlsKey: argv['tls-key'],
      tlsCa: argv['tls-ca'],
      tlsClientAuth: argv['tls-client-auth'],
      limits: {
        maxKeyBytes: argv['max-key-bytes'],
        maxValueBytes: argv['max-value-bytes'],
        maxBodyBytes: argv['max-body-bytes'],
        maxBatch: argv['max-batch'],
      },
    },
    {
      onLeft: () => shutdown('left the cluster', { announce: false }),
      // After the start has resolved (a refusal may come first), so that `node` is set.
      onRefused: (error) =>
        setImmediate(() => {
          console.error(`kvdb-server: cannot start: ${error.message}`);
          shutdown('refused to join', { announce: false, code: 1 });
        }),
    },
  );
} catch (error) {
  const reason =
    (error as NodeJS.ErrnoException).code === 'EADDRINUSE'
      ? `${argv.host}:${argv.port} is already in use`
      : (error as Error).message;
  console.error(`kvdb-server: cannot start: ${reason}`);
  process.exit(1);
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

/** Graceful stop: in-flight requests finish and the members hear this node is going (unless it has left). */
function shutdown(reason: string, { announce = true, code = 0 } = {}): void {
  if (stopping || node === undefined) return;
  stopping = true;
  const started = node;
  started.log.info(`${reason}: shutting down`);
  // Past the stop's own bounds: 5 s for requests in flight, two probe intervals for the announce, 2 s for
  // background work.
  const force = setTimeout(() => process.exit(1), 15_000);
  force.unref();
  started.stop({ announce }).then(
    () => process.exit(code),
    () => process.exit(1),
  );
}
