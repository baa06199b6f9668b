import type { Consistency } from '@kvdb/core';
import type { KVClient } from '../kv-client.js';
import {
  type CallCommand,
  HELP,
  helpFor,
  parseCommand,
  parseTokens,
  type ShellCommand,
  type Token,
} from './commands.js';
import { formatError, formatKeyPage, formatResult } from './format.js';

/** The part of `KVClient` the shell uses; tests hand in a fake. */
export type ShellClient = Pick<
  KVClient,
  | 'ping'
  | 'get'
  | 'set'
  | 'cas'
  | 'has'
  | 'pop'
  | 'mget'
  | 'mset'
  | 'ttl'
  | 'listKeys'
  | 'listKeysPage'
  | 'listMembers'
  | 'locate'
  | 'stats'
  | 'leave'
  | 'setReplicas'
>;

export interface ShellSessionComponents {
  client: ShellClient;
}

export interface ShellSessionInit {
  /**
   * Consistency level for get, set, has, pop and ttl until a `consistency` command changes it; unset leaves the
   * choice to the server.
   * @default undefined (the server's default, quorum)
   */
  consistency?: Consistency;
}

/** What running one line gave: the text to print (maybe empty), whether it failed, whether to leave the shell. */
export interface Outcome {
  text: string;
  ok: boolean;
  exit: boolean;
}

/** The level a server uses when a request names none. */
const SERVER_DEFAULT_CONSISTENCY: Consistency = 'quorum';

/**
 * Runs shell commands against a client and remembers what outlives one command (the consistency level).
 * Never rejects: every failure comes back as an outcome with `ok: false` and an `(error) …` text.
 */
export class ShellSession {
  consistency: Consistency | undefined;
  private readonly client: ShellClient;

  constructor(components: ShellSessionComponents, init: ShellSessionInit = {}) {
    this.client = components.client;
    this.consistency = init.consistency;
  }

  /** Parses and runs one line as typed at the prompt. */
  runLine(line: string): Promise<Outcome> {
    return this.run(() => parseCommand(line));
  }

  /** Runs words already split by the caller's shell (`kvdb get KEY`): none of them count as quoted. */
  runWords(words: readonly string[]): Promise<Outcome> {
    return this.run(() => parseTokens(words.map((text): Token => ({ text, quoted: false }))));
  }

  private async run(parse: () => ShellCommand): Promise<Outcome> {
    try {
      return await this.execute(parse());
    } catch (error) {
      return { text: formatError(error), ok: false, exit: false };
    }
  }

  private async execute(command: ShellCommand): Promise<Outcome> {
    switch (command.kind) {
      case 'empty':
        return done('');
      case 'exit':
        return { text: '', ok: true, exit: true };
      case 'help':
        return done(command.topic === undefined ? HELP : helpFor(command.topic));
      case 'consistency':
        if (command.level === undefined) {
          return done(`consistency: ${this.consistency ?? `${SERVER_DEFAULT_CONSISTENCY} (server default)`}`);
        }
        this.consistency = command.level;
        return done(`consistency set to ${command.level}`);
      case 'call':
        if (command.method === 'list_keys' && command.params.limit !== undefined) {
          const { prefix, limit, cursor } = command.params;
          return done(
            formatKeyPage(await this.client.listKeysPage({ prefix, limit, cursor }), { prefix, limit }),
          );
        }
        return done(formatResult(command.method, await this.call(command)));
    }
  }

  private call(command: CallCommand): Promise<unknown> {
    const options = this.consistency === undefined ? {} : { consistency: this.consistency };
    switch (command.method) {
      case 'get':
        return this.client.get(command.params.key, command.params.default, options);
      case 'pop':
        return this.client.pop(command.params.key, command.params.default, options);
      case 'set': {
        const { key, value, ttl } = command.params;
        return this.client.set(key, value, ttl === undefined ? options : { ...options, ttl });
      }
      case 'has':
        return this.client.has(command.params.key, options);
      case 'ttl':
        return this.client.ttl(command.params.key, options);
      case 'cas': {
        const { key, value } = command.params;
        const expected = 'expected' in command.params ? { expected: command.params.expected } : {};
        return this.client.cas(key, value, expected);
      }
      case 'mget':
        return this.client.mget(command.params.keys, options);
      case 'mset':
        return this.client.mset(command.params.entries, options);
      case 'locate':
        return this.client.locate(command.params.key);
      case 'ping':
        return this.client.ping();
      case 'list_keys':
        return this.client.listKeys(
          command.params.prefix === undefined ? {} : { prefix: command.params.prefix },
        );
      case 'list_members':
        return this.client.listMembers();
      case 'stats':
        return this.client.stats();
      case 'leave':
        return this.client.leave(command.params.address);
      case 'set_replicas':
        return this.client.setReplicas(command.params.replicas);
    }
  }
}

function done(text: string): Outcome {
  return { text, ok: true, exit: false };
}
