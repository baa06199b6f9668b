import { type Consistency, formatAddress, parseAddress, UsageError } from '@kvdb/core';
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
import { formatError, formatKeyPage } from './format.js';
import { errorDocument, type OutputMode, render } from './output.js';

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
  | 'clusterStatus'
  | 'leave'
  | 'setReplicas'
  | 'close'
>;

export interface ShellSessionComponents {
  client: ShellClient;
  /**
   * Opens a client on the node at host:port, for `connect` (the session closes the client it replaces). Without it,
   * `connect` is refused.
   */
  connect?: (host: string, port: number) => ShellClient;
  /**
   * Opens a new client like `client`. A command cancelled by Ctrl-C swaps the client for a new one and closes the
   * old, so that the request in flight is dropped (its connection closed) and holds nothing open. Without it, the
   * answer to a cancelled request is ignored when it comes.
   */
  reopen?: () => ShellClient;
  /** Asks the person at the terminal a yes/no question, for `leave`; without it, `leave` runs only with --yes. */
  confirm?: (question: string) => Promise<boolean>;
}

export interface ShellSessionInit {
  /**
   * Consistency level for get, set, has, pop and ttl until a `consistency` command changes it; unset leaves the
   * choice to the server.
   * @default undefined (the server's default, quorum)
   */
  consistency?: Consistency;
  /**
   * How results print: `human` (readable), `json` (one JSON document a command, errors as `{"error":…}`) or `raw`
   * (bare values, one a line).
   * @default 'human'
   */
  format?: OutputMode;
  /**
   * Run `leave` without asking, as if every `leave` had --yes.
   * @default false
   */
  yes?: boolean;
  /**
   * The nodes the client was given (`host:port`): one is named in `leave`'s question; with several, `leave` needs
   * an ADDRESS, since none of them is "the connected node". `connect` makes it the one node connected to.
   * @default undefined: one node, unnamed
   */
  nodes?: readonly string[];
}

/** What running one line gave: the text to print (maybe empty), whether it failed, whether to leave the shell. */
export interface Outcome {
  text: string;
  ok: boolean;
  exit: boolean;
  /** What failed, for a caller that shows it otherwise (a script's line numbers). */
  error?: unknown;
}

/** The level a server uses when a request names none. */
const SERVER_DEFAULT_CONSISTENCY: Consistency = 'quorum';

/** Most keys a session remembers having seen, for completion. */
export const MAX_SEEN_KEYS = 1_000;

/** What a command cancelled by its signal (Ctrl-C) gives. */
export const INTERRUPTED = '(interrupted)';

/**
 * Runs shell commands against a client and remembers what outlives one command (the consistency level).
 * Never rejects: every failure comes back as an outcome with `ok: false` and an `(error) …` text.
 */
export class ShellSession {
  consistency: Consistency | undefined;
  /** The client commands go to; `connect` replaces it. */
  client: ShellClient;
  readonly format: OutputMode;
  /** Keys this session has named or listed, the latest last (at most MAX_SEEN_KEYS), for completion. */
  readonly seenKeys = new Set<string>();
  private readonly components: ShellSessionComponents;
  private readonly yes: boolean;
  private nodes: readonly string[] | undefined;
  private reopen: (() => ShellClient) | undefined;

  constructor(components: ShellSessionComponents, init: ShellSessionInit = {}) {
    this.components = components;
    this.client = components.client;
    this.reopen = components.reopen;
    this.consistency = init.consistency;
    this.format = init.format ?? 'human';
    this.yes = init.yes ?? false;
    this.nodes = init.nodes;
  }

  /**
   * Parses and runs one line as typed at the prompt. Aborting `signal` (Ctrl-C) settles it at once as
   * `(interrupted)`; a request already sent may still take effect on the node, and its answer is dropped.
   */
  runLine(line: string, signal?: AbortSignal): Promise<Outcome> {
    return this.run(() => parseCommand(line), signal);
  }

  /** Runs words already split by the caller's shell (`kvdb get KEY`): none of them count as quoted. */
  runWords(words: readonly string[]): Promise<Outcome> {
    return this.run(() => parseTokens(words.map((text): Token => ({ text, quoted: false }))));
  }

  /** Closes the client in use. */
  close(): Promise<void> {
    return this.client.close();
  }

  private async run(parse: () => ShellCommand, signal?: AbortSignal): Promise<Outcome> {
    try {
      return await untilAborted(this.execute(parse(), signal), signal);
    } catch (error) {
      if (error === INTERRUPTED) {
        if (this.reopen !== undefined) await this.swapClient(this.reopen());
        return { text: INTERRUPTED, ok: false, exit: false };
      }
      const text = this.format === 'json' ? errorDocument(error) : formatError(error);
      return { text, ok: false, exit: false, error };
    }
  }

  private async execute(command: ShellCommand, signal?: AbortSignal): Promise<Outcome> {
    const json = this.format === 'json';
    switch (command.kind) {
      case 'empty':
        return done('');
      case 'exit':
        return { text: '', ok: true, exit: true };
      case 'help': {
        const text = command.topic === undefined ? HELP : helpFor(command.topic);
        return done(json ? JSON.stringify(text) : text);
      }
      case 'consistency':
        if (command.level !== undefined) this.consistency = command.level;
        if (json) return done(JSON.stringify({ consistency: this.consistency ?? null }));
        if (command.level !== undefined) return done(`consistency set to ${command.level}`);
        return done(`consistency: ${this.consistency ?? `${SERVER_DEFAULT_CONSISTENCY} (server default)`}`);
      case 'connect':
        return done(await this.connect(command.host, command.port, signal));
      case 'call': {
        this.see(command);
        if (command.method === 'list_keys' && command.params.limit !== undefined) {
          const { prefix, limit, cursor } = command.params;
          const page = await this.client.listKeysPage({ prefix, limit, cursor });
          this.seeAll(page.keys);
          return done(
            this.format === 'human'
              ? formatKeyPage(page, { prefix, limit })
              : render(this.format, 'list_keys', page),
          );
        }
        if (command.method === 'leave') await this.confirmLeave(command);
        const result = await this.call(command);
        if (command.method === 'list_keys' && Array.isArray(result)) this.seeAll(result as string[]);
        return done(render(this.format, command.method, result));
      }
    }
  }

  private async connect(host: string, port: number, signal?: AbortSignal): Promise<string> {
    const open = this.components.connect;
    if (open === undefined) throw new UsageError('connect is not available here');
    const address = formatAddress(host, port);
    // A typo'd address must not cost the working connection: the new node answers first, or the shell stays put.
    const client = open(host, port);
    try {
      await client.ping(signal === undefined ? {} : { signal });
    } catch (error) {
      await client.close().catch(() => {});
      throw error;
    }
    this.reopen = () => open(host, port);
    this.nodes = [address];
    await this.swapClient(client);
    return this.format === 'json' ? JSON.stringify({ connected: address }) : `connected to ${address}`;
  }

  private async swapClient(client: ShellClient): Promise<void> {
    const previous = this.client;
    this.client = client;
    await previous.close().catch(() => {});
  }

  /** `leave` is for good: a person confirms it, anyone else says --yes. */
  private async confirmLeave(command: Extract<CallCommand, { method: 'leave' }>): Promise<void> {
    const { address } = command.params;
    const nodes = this.nodes ?? [];
    if (address === undefined && nodes.length > 1) {
      throw new UsageError(
        `leave without an ADDRESS takes out the one node the shell talks to, and it talks to ${nodes.length} (-n): name the member (leave HOST:PORT), or connect HOST:PORT first`,
      );
    }
    if (address !== undefined) await this.checkMember(address);
    if (command.yes || this.yes) return;
    const what =
      address === undefined
        ? `Take ${nodes[0] ?? 'the connected node'} out of the cluster for good? It hands its data over and shuts down.`
        : `Remove ${address} from the cluster for good?`;
    const confirm = this.components.confirm;
    if (confirm === undefined) {
      throw new UsageError(
        `leave is for good: add --yes to run it without a terminal (leave --yes, kvdb --yes leave)`,
      );
    }
    if (!(await confirm(`${what} [y/N] `))) throw new UsageError('leave cancelled');
  }

  /** Refuses an ADDRESS that is no member (a typo, one gone already) before anyone is asked to confirm it. */
  private async checkMember(address: string): Promise<void> {
    let named: string;
    try {
      named = parseAddress(address).address;
    } catch (error) {
      throw new UsageError(`${(error as Error).message}; usage: leave [ADDRESS] [--yes]`);
    }
    const member = (await this.client.listMembers()).find((m) => m.address === named);
    if (member === undefined || member.status === 'left') {
      const why = member === undefined ? 'is not a member of the cluster' : 'has left the cluster already';
      throw new UsageError(`${named} ${why} (list_members shows the members); nothing was removed`);
    }
  }

  private see(command: CallCommand): void {
    const { params } = command;
    if ('key' in params) this.seeAll([params.key]);
    if ('keys' in params) this.seeAll(params.keys);
    if ('entries' in params) this.seeAll(params.entries.map(([key]) => key));
  }

  private seeAll(keys: readonly string[]): void {
    for (const key of keys) {
      this.seenKeys.delete(key);
      this.seenKeys.add(key);
    }
    for (const key of this.seenKeys) {
      if (this.seenKeys.size <= MAX_SEEN_KEYS) break;
      this.seenKeys.delete(key);
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
      case 'cluster_status':
        return this.client.clusterStatus();
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

/** `work`, or a rejection with INTERRUPTED as soon as `signal` aborts. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(INTERRUPTED);
    if (signal.aborted) abort();
    signal.addEventListener('abort', abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}
