/**
 * `@kvdb/client/cli`: what the command lines that talk to a node share (`kvdb`, and `kvdb-bench` in this
 * repository), so that their connection flags, help and errors stay alike.
 */
import { DEFAULT_HOST, DEFAULT_PORT } from '@kvdb/core';
import { DEFAULT_CLIENT_TIMEOUT_MS } from './constants.js';

export { SETTINGS_HELP, withHelpAndErrors, withSettings } from '@kvdb/core/cli';
export { DEFAULT_CLIENT_TIMEOUT_MS };

/** `-H`, `-P`, `--timeout` and `--auth-token`: how a command line reaches a node. */
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
} as const;
