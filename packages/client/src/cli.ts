/**
 * `@kvdb/client/cli`: what the command lines that talk to a node share (`kvdb`, and `kvdb-bench` in this
 * repository), so that their connection flags, help and errors stay alike.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_HOST, DEFAULT_PORT, reasonOf, UsageError } from '@kvdb/core';
import { DEFAULT_CLIENT_TIMEOUT_MS } from './constants.js';
import type { KVClientTls } from './kv-client.js';

export { SETTINGS_HELP, withHelpAndErrors, withSettings } from '@kvdb/core/cli';
export { DEFAULT_CLIENT_TIMEOUT_MS };

/** `-H`, `-P`, `--timeout`, `--auth-token` and the `--tls` flags: how a command line reaches a node. */
export const CONNECTION_OPTIONS = {
  host: { alias: 'H', type: 'string', default: DEFAULT_HOST, describe: 'Host of the node to talk to' },
  port: { alias: 'P', type: 'number', default: DEFAULT_PORT, describe: 'Port of the node to talk to' },
  timeout: {
    type: 'number',
    defaultDescription: String(DEFAULT_CLIENT_TIMEOUT_MS),
    describe: 'Milliseconds to wait for each reply',
  },
  'auth-token': {
    type: 'string',
    describe: 'Token for nodes started with --auth-token (or set KVDB_AUTH_TOKEN)',
  },
  tls: {
    type: 'boolean',
    describe:
      "Speak TLS (https) to a node started with --tls-cert, trusting the system's CAs (--tls-ca and --tls-cert imply it; or set KVDB_TLS=1)",
  },
  'tls-ca': {
    type: 'string',
    describe: "CA certificates (PEM file) that sign the node's certificate (or set KVDB_TLS_CA)",
  },
  'tls-cert': {
    type: 'string',
    describe:
      "This client's certificate (PEM file), for nodes started with --tls-client-auth; with --tls-key (or set KVDB_TLS_CERT)",
  },
  'tls-key': {
    type: 'string',
    describe: 'The private key of --tls-cert (unencrypted PEM file) (or set KVDB_TLS_KEY)',
  },
} as const;

/** The `--tls` flags as parsed. */
export interface TlsArgs {
  tls?: boolean;
  'tls-ca'?: string;
  'tls-cert'?: string;
  'tls-key'?: string;
}

/** TLS settings as PEM text: what `KVClientTls` takes, and what can be posted to a worker thread. */
export type TlsPem = Pick<KVClientTls, 'rejectUnauthorized'> & { ca?: string; cert?: string; key?: string };

/**
 * The TLS settings the `--tls` flags ask for (or their `KVDB_TLS*` variables, which `withSettings` reads), with the
 * files read; undefined for plain HTTP. A `UsageError` names the flag and the file that cannot be read, or a
 * certificate without its key.
 */
export function tlsFromArgs(argv: TlsArgs): TlsPem | undefined {
  const file = (flag: 'tls-ca' | 'tls-cert' | 'tls-key') => argv[flag] || undefined;
  const [ca, cert, key] = [file('tls-ca'), file('tls-cert'), file('tls-key')];
  const on = argv.tls ?? false;
  if (!on && ca === undefined && cert === undefined && key === undefined) return undefined;
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError(
      `Expected --tls-cert and --tls-key together (a client certificate and its key), got only --${cert === undefined ? 'tls-key' : 'tls-cert'}`,
    );
  }
  const read = (flag: string, path: string | undefined) => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read --${flag} ${path}: ${reasonOf(error)}`, { cause: error });
    }
  };
  const pem: TlsPem = {};
  const [caPem, certPem, keyPem] = [read('tls-ca', ca), read('tls-cert', cert), read('tls-key', key)];
  if (caPem !== undefined) pem.ca = caPem;
  if (certPem !== undefined) pem.cert = certPem;
  if (keyPem !== undefined) pem.key = keyPem;
  return pem;
}
