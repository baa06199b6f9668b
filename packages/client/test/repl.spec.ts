import { PassThrough } from 'node:stream';
import { text } from 'node:stream/consumers';
import { stripVTControlCharacters } from 'node:util';
import {
  type CasResult,
  type ClusterStatus,
  ConnectionError,
  type Consistency,
  compareKeys,
  type JsonValue,
  type KeyPage,
  type LeaveResult,
  type MemberInfo,
  type NodeStats,
  QuorumNotReachedError,
  type SetReplicasResult,
  TimeoutError,
  type TtlResult,
} from '@kvdb/core';
import { defined } from '@kvdb/core/testing';
import { expect } from 'chai';
import type { CallOptions, ListKeysOptions, ListKeysPageOptions, SetOptions } from '../src/kv-client.js';
import { GREETING_DEADLINE_MS, greeting } from '../src/shell/greeting.js';
import { PROMPT, runShell } from '../src/shell/repl.js';
import { type ShellClient, ShellSession } from '../src/shell/session.js';

interface Call {
  method: string;
  args: unknown[];
}

/**
 * A KVClient stand-in backed by a Map. Each call takes `turns(index)` event-loop turns to settle, so a shell that
 * overlapped calls would see later ones finish first; `inFlight`/`maxInFlight` record any overlap.
 */
class FakeClient implements ShellClient {
  readonly calls: Call[] = [];
  readonly data = new Map<string, JsonValue>();
  /** Method name → the error its next calls reject with. */
  readonly failures = new Map<string, Error>();
  turns: (index: number) => number = () => 0;
  inFlight = 0;
  maxInFlight = 0;

  ping(): Promise<'pong'> {
    return this.op('ping', [], () => 'pong' as const);
  }

  get<T extends JsonValue = JsonValue>(
    key: string,
    defaultValue?: T,
    options: CallOptions = {},
  ): Promise<T | null> {
    return this.op(
      'get',
      [key, defaultValue, options],
      () => this.data.get(key) ?? defaultValue ?? null,
    ) as Promise<T | null>;
  }

  set(key: string, value: JsonValue, options: SetOptions = {}): Promise<true> {
    return this.op('set', [key, value, options], () => {
      this.data.set(key, value);
      return true as const;
    });
  }

  cas(key: string, value: JsonValue, options: { expected?: JsonValue } = {}): Promise<CasResult> {
    return this.op('cas', [key, value, options], () => {
      const exists = this.data.has(key);
      const held = this.data.get(key) ?? null;
      const swapped =
        'expected' in options ? exists && JSON.stringify(held) === JSON.stringify(options.expected) : !exists;
      if (swapped) this.data.set(key, value);
      return { swapped, exists, current: this.data.get(key) ?? null };
    });
  }

  has(key: string, options: CallOptions = {}): Promise<boolean> {
    return this.op('has', [key, options], () => this.data.has(key));
  }

  pop<T extends JsonValue = JsonValue>(
    key: string,
    defaultValue?: T,
    options: CallOptions = {},
  ): Promise<T | null> {
    return this.op('pop', [key, defaultValue, options], () => {
      const value = this.data.get(key) ?? defaultValue ?? null;
      this.data.delete(key);
      return value as T | null;
    });
  }

  mget<T extends JsonValue = JsonValue>(
    keys: readonly string[],
    options: CallOptions = {},
  ): Promise<(T | null)[]> {
    return this.op('mget', [keys, options], () =>
      keys.map((key) => (this.data.get(key) ?? null) as T | null),
    );
  }

  mset(entries: Iterable<readonly [string, JsonValue]>, options: CallOptions = {}): Promise<true> {
    const pairs = [...entries];
    return this.op('mset', [pairs, options], () => {
      for (const [key, value] of pairs) this.data.set(key, value);
      return true as const;
    });
  }

  /** Every key the fake holds lives 1.5 s, but `forever`, which has no expiry. */
  ttl(key: string, options: CallOptions = {}): Promise<TtlResult> {
    return this.op('ttl', [key, options], () => {
      if (!this.data.has(key)) return { exists: false, ttl: null };
      return { exists: true, ttl: key === 'forever' ? null : 1.5 };
    });
  }

  listKeys(options: ListKeysOptions = {}): Promise<string[]> {
    return this.op('listKeys', [options], () => this.keysAfter(options.prefix, undefined));
  }

  /** Pages as a server does: the first `limit` keys after the cursor, and the last of them while more follow. */
  listKeysPage(options: ListKeysPageOptions = {}): Promise<KeyPage> {
    return this.op('listKeysPage', [options], () => {
      const after = this.keysAfter(options.prefix, options.cursor);
      const keys = after.slice(0, options.limit ?? 10_000);
      return { keys, cursor: keys.length < after.length ? (keys.at(-1) ?? null) : null };
    });
  }

  private keysAfter(prefix = '', cursor: string | undefined): string[] {
    return [...this.data.keys()]
      .filter((key) => key.startsWith(prefix) && (cursor === undefined || compareKeys(key, cursor) > 0))
      .sort(compareKeys);
  }

  /** The node answering, and two members that are down (for `leave ADDRESS`). */
  members: MemberInfo[] = [
    { address: '127.0.0.1:5878', status: 'alive' },
    { address: '127.0.0.1:5879', status: 'dead' },
    { address: '127.0.0.1:5999', status: 'dead' },
  ];

  listMembers(): Promise<MemberInfo[]> {
    return this.op('listMembers', [], () => this.members);
  }

  locate(key: string): Promise<string[]> {
    return this.op('locate', [key], () => ['127.0.0.1:5878', '127.0.0.1:5879']);
  }

  stats(): Promise<NodeStats> {
    return this.op('stats', [], () => ({
      address: '127.0.0.1:5878',
      keys: this.data.size,
      tombstones: 0,
      hints: 0,
      members: 1,
      replicas: 1,
      uptimeMs: 10,
      version: '0.1.0',
    }));
  }

  leave(address?: string): Promise<LeaveResult> {
    return this.op('leave', address === undefined ? [] : [address], () => ({
      left: address ?? '127.0.0.1:5878',
      handedOff: address === undefined ? this.data.size : 0,
    }));
  }

  setReplicas(replicas: number): Promise<SetReplicasResult> {
    return this.op('setReplicas', [replicas], () => ({ replicas, previous: 2 }));
  }

  clusterStatus(): Promise<ClusterStatus> {
    return this.op('clusterStatus', [], () => ({
      self: '127.0.0.1:5878',
      at: 0,
      replication: { replicas: 1 },
      members: [],
      ring: { id: 'r', vnodes: 1 },
      events: [],
    }));
  }

  closed = false;

  async close(): Promise<void> {
    this.closed = true;
  }

  private async op<T>(method: string, args: unknown[], answer: () => T): Promise<T> {
    const index = this.calls.push({ method, args }) - 1;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      for (let turn = this.turns(index); turn > 0; turn--)
        await new Promise((resolve) => setImmediate(resolve));
      const failure = this.failures.get(method);
      if (failure) throw failure;
      return answer();
    } finally {
      this.inFlight--;
    }
  }
}

interface Run {
  output: string;
  client: FakeClient;
}

/** Pipes `script` into a shell (ending the input) and collects all it printed. */
async function run(script: string, client = new FakeClient(), terminal = false): Promise<Run> {
  const input = new PassThrough();
  const output = new PassThrough();
  const printed = text(output);
  const done = runShell({ client, input, output, terminal });
  input.end(script);
  await done;
  output.end();
  return { output: await printed, client };
}

/** The command a listing line offers for its next page. */
const nextPage = (line: string | undefined): string =>
  defined(line?.match(/\(next page: (.*)\)$/)?.[1], 'a next-page command');

const consistencyOf = (call: Call | undefined): Consistency | undefined =>
  (call?.args.at(-1) as CallOptions | undefined)?.consistency;

describe('runShell', () => {
  it('runs a piped script and prints one readable result per command, without prompts', async () => {
    const { output } = await run(
      'set a 1\nget a\nset "two words" "a b"\nget "two words"\nhas a\nhas b\nlist_keys\nlocate a\nping\n',
    );
    expect(output).to.equal(
      [
        'OK',
        '1',
        'OK',
        '"a b"',
        'true',
        'false',
        '1) "a"\n2) "two words"',
        '1) 127.0.0.1:5878 (primary)\n2) 127.0.0.1:5879',
        'pong',
        '',
      ].join('\n'),
    );
    expect(output).not.to.include(PROMPT);
  });

  it('lists the keys under a prefix, and pages with LIMIT, printing the command for the next page', async () => {
    const client = new FakeClient();
    for (const key of ['user:3', 'user:1', 'other', 'user:2', 'user:"q"']) client.data.set(key, 1);
    const first = await run('list_keys user:\nlist_keys user: 2\n', client);
    expect(first.output.trimEnd().split('\n')).to.deep.equal([
      '1) "user:\\"q\\""',
      '2) "user:1"',
      '3) "user:2"',
      '4) "user:3"',
      '1) "user:\\"q\\""',
      '2) "user:1"',
      'cursor: "user:1" (next page: list_keys "user:" 2 "user:1")',
    ]);
    const next = nextPage(first.output.trimEnd().split('\n').at(-1));
    const second = await run(`${next}\n`, client);
    expect(second.output.trimEnd().split('\n')).to.deep.equal([
      '1) "user:2"',
      '2) "user:3"',
      '(end of the listing)',
    ]);
    expect(client.calls.map(({ method, args }) => [method, args[0]])).to.deep.equal([
      ['listKeys', { prefix: 'user:' }],
      ['listKeysPage', { prefix: 'user:', limit: 2, cursor: undefined }],
      ['listKeysPage', { prefix: 'user:', limit: 2, cursor: 'user:1' }],
    ]);
  });

  it('quotes a cursor so that the printed next-page command reads it back exactly', async () => {
    const client = new FakeClient();
    for (const key of ['a "quoted" \\ key', 'b']) client.data.set(key, 1);
    const first = await run('list_keys "" 1\n', client);
    const lines = first.output.trimEnd().split('\n');
    expect(lines[0]).to.equal('1) "a \\"quoted\\" \\\\ key"');
    const next = nextPage(lines[1]);
    expect((await run(`${next}\n`, client)).output.trimEnd()).to.equal('1) "b"\n(end of the listing)');
    expect(client.calls.at(-1)?.args[0]).to.deep.equal({
      prefix: undefined,
      limit: 1,
      cursor: 'a "quoted" \\ key',
    });
  });

  it('passes values to the client as parsed: JSON when unquoted, strings when quoted', async () => {
    const { client } = await run('set n 1\nset s "1"\nset o {"x":[true]}\nget missing 0\npop n\n');
    expect(client.data.get('s')).to.equal('1');
    expect(client.data.get('o')).to.deep.equal({ x: [true] });
    expect(client.calls.map((call) => call.args.slice(0, 2))).to.deep.equal([
      ['n', 1],
      ['s', '1'],
      ['o', { x: [true] }],
      ['missing', 0],
      ['n', undefined],
    ]);
  });

  it('runs commands strictly one after another, in input order, even when earlier calls are slower', async () => {
    const client = new FakeClient();
    const count = 40;
    client.turns = (index) => 2 * count - index;
    const lines = Array.from({ length: count }, (_, i) => `set k${i} ${i}\nget k${i}`);
    const { output } = await run(`${lines.join('\n')}\n`, client);
    expect(client.maxInFlight).to.equal(1);
    expect(client.calls.map((call) => `${call.method} ${call.args[0]}`)).to.deep.equal(
      Array.from({ length: count }, (_, i) => [`set k${i}`, `get k${i}`]).flat(),
    );
    expect(output.trimEnd().split('\n')).to.deep.equal(
      Array.from({ length: count }, (_, i) => ['OK', String(i)]).flat(),
    );
  });

  it('prints an error line for a bad line or a failed call, then goes on with the next', async () => {
    const client = new FakeClient();
    client.failures.set('has', new TimeoutError('has to 127.0.0.1:5878 timed out after 5000 ms'));
    const { output } = await run('bogus\nset a\nget "open\nhas a\nset a 2\nget a\n', client);
    expect(output.trimEnd().split('\n')).to.deep.equal([
      'line 1: (error) unknown command "bogus"; type help for the list',
      'line 2: (error) usage: set KEY VALUE [ttl=SECONDS]',
      'line 3: (error) unterminated quoted string: "open',
      'line 4: (error) TimeoutError: has to 127.0.0.1:5878 timed out after 5000 ms',
      'OK',
      '2',
    ]);
  });

  it('prints the details of a quorum failure and goes on', async () => {
    const client = new FakeClient();
    client.failures.set(
      'set',
      QuorumNotReachedError.fromFailure({
        operation: 'set',
        key: 'a',
        required: 2,
        acked: 1,
        replicas: ['a:1', 'b:2'],
        failed: [{ replica: 'b:2', reason: 'connection refused' }],
        timedOut: false,
      }),
    );
    const { output } = await run('set a 1\nping\n', client);
    const lines = output.trimEnd().split('\n');
    expect(lines[0]).to.match(/^line 1: \(error\) QuorumNotReachedError: set "a" failed/);
    expect(lines.slice(1)).to.deep.equal([
      '  required 2 of 2 replicas, 1 acked',
      '  b:2  failed: connection refused',
      'pong',
    ]);
  });

  it('survives a client that throws instead of rejecting', async () => {
    const client = new FakeClient();
    client.get = () => {
      throw new Error('thrown synchronously');
    };
    const { output } = await run('get a\nping\n', client);
    expect(output).to.equal('line 1: (error) Error: thrown synchronously\npong\n');
  });

  it('passes the consistency level to get, set, has, pop and ttl once set, and prints it', async () => {
    const { output, client } = await run(
      'get a\nconsistency\nconsistency ALL\nget a\nset a 1\nhas a\nttl a\npop a\nconsistency\nconsistency one\nget a\n',
    );
    expect(client.calls.map((call) => [call.method, consistencyOf(call)])).to.deep.equal([
      ['get', undefined],
      ['get', 'all'],
      ['set', 'all'],
      ['has', 'all'],
      ['ttl', 'all'],
      ['pop', 'all'],
      ['get', 'one'],
    ]);
    expect(output).to.include('consistency: quorum (server default)\nconsistency set to all\n');
    expect(output).to.include('consistency: all\nconsistency set to one\n');
  });

  it('runs mset and mget at the level set, printing OK and the values in order', async () => {
    const { output, client } = await run('mset a 1 "b c" "x y"\nconsistency all\nmget "b c" nothing a\n');
    expect(output.trimEnd().split('\n')).to.deep.equal([
      'OK',
      'consistency set to all',
      '1) "x y"',
      '2) null',
      '3) 1',
    ]);
    expect(client.calls.map((call) => [call.method, call.args[0], consistencyOf(call)])).to.deep.equal([
      [
        'mset',
        [
          ['a', 1],
          ['b c', 'x y'],
        ],
        undefined,
      ],
      ['mget', ['b c', 'nothing', 'a'], 'all'],
    ]);
  });

  it('runs cas with and without EXPECTED, printing whether it swapped and the value after', async () => {
    const { output } = await run('cas n 1\ncas n 2\ncas n 2 1\ncas n 3 {"x":1}\n');
    expect(output).to.equal('swapped: 1\nnot swapped: 1\nswapped: 2\nnot swapped: 2\n');
  });

  it('sets with a ttl beside the consistency level, and prints what ttl answers', async () => {
    const { output, client } = await run(
      'consistency one\nset a 1 ttl=2.5\nset forever 1\nttl a\nttl forever\nttl missing\n',
    );
    expect(client.calls.slice(0, 2).map((call) => call.args)).to.deep.equal([
      ['a', 1, { consistency: 'one', ttl: 2.5 }],
      ['forever', 1, { consistency: 'one' }],
    ]);
    expect(output).to.equal('consistency set to one\nOK\nOK\n1.5 s left\nno expiry\n(no value)\n');
  });

  it('keeps the level when a consistency command is refused', async () => {
    const { output, client } = await run('consistency one\nconsistency most\nget a\n');
    expect(output).to.include('(error) usage: consistency [one|quorum|all|serial]');
    expect(consistencyOf(client.calls[0])).to.equal('one');
  });

  it('stops at exit without waiting for the input to end, leaving later lines unread', async () => {
    const client = new FakeClient();
    const input = new PassThrough();
    const output = new PassThrough();
    const printed = text(output);
    const done = runShell({ client, input, output });
    input.write('set a 1\nexit\nset b 2\n');
    await done;
    output.end();
    expect(await printed).to.equal('OK\n');
    expect(client.calls.map((call) => call.args[0])).to.deep.equal(['a']);
  });

  it('takes quit as exit, in any case', async () => {
    const { client } = await run('QUIT\nping\n');
    expect(client.calls).to.deep.equal([]);
  });

  it('skips blank lines and comments', async () => {
    const { output, client } = await run('\n   \n# set a 1\n  # get a\nping\n\n');
    expect(output).to.equal('pong\n');
    expect(client.calls.map((call) => call.method)).to.deep.equal(['ping']);
  });

  it('runs a last line that has no newline, and CRLF lines', async () => {
    const { output } = await run('set a 1\r\nget a');
    expect(output).to.equal('OK\n1\n');
  });

  it('resolves on empty input', async () => {
    const { output, client } = await run('');
    expect(output).to.equal('');
    expect(client.calls).to.deep.equal([]);
  });

  it('prints help', async () => {
    const { output } = await run('help\nhelp set\n');
    expect(output).to.match(/^Commands:\n/);
    expect(output).to.include('list_members');
    expect(output).to.include('usage: set KEY VALUE [ttl=SECONDS]\nStore VALUE under KEY; with ttl=SECONDS');
  });

  it('resolves with an error line when the input fails', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const printed = text(output);
    const done = runShell({ client: new FakeClient(), input, output });
    input.destroy(new Error('input broke'));
    await done;
    output.end();
    expect(await printed).to.equal('(error) Error: input broke\n');
  });

  it('prompts with >> before each line when a person is typing', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const screen = new Screen(output);
    const done = runShell({ client: new FakeClient(), input, output, terminal: true });
    input.write('ping\nping\n');
    // The input stays open until both answers are in, as a terminal's does: Ctrl-D then ends it.
    await screen.until((shown) => shown.match(/pong\n/g)?.length === 2);
    input.end();
    await done;
    expect(screen.shown.startsWith(PROMPT)).to.equal(true);
    expect(screen.shown.split(PROMPT)).to.have.length(1 + 3);
  });

  it('leaves on Ctrl-D typed while a command waits, once it is done, without a prompt nobody can answer', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const screen = new Screen(output);
    const client = new FakeClient();
    let answer!: (pong: 'pong') => void;
    let asked!: () => void;
    const pinged = new Promise<void>((resolve) => {
      asked = resolve;
    });
    client.ping = () =>
      new Promise((resolve) => {
        answer = resolve;
        asked();
      });
    const done = runShell({ client, input, output, terminal: true });
    input.write('ping\n');
    await pinged;
    input.write('\x04');
    answer('pong');
    expect(await done).to.equal(true);
    // A prompt after readline closed would resume the input: at a terminal, the shell would then never exit.
    expect(input.isPaused()).to.equal(true);
    expect(screen.shown.split(PROMPT)).to.have.length(1 + 1);
    expect(screen.shown).to.match(/pong\n$/);
  });
});

/** What a terminal shows of `output`, escapes dropped, and a way to wait for what is to come. */
class Screen {
  shown = '';
  private readonly waiting = new Set<() => void>();

  constructor(output: PassThrough) {
    output.on('data', (chunk: Buffer) => {
      this.shown += stripVTControlCharacters(chunk.toString());
      for (const check of this.waiting) check();
    });
  }

  /** Resolves once `test` holds for what is shown (mocha's timeout bounds the wait). */
  until(test: (shown: string) => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (!test(this.shown)) return;
        this.waiting.delete(check);
        resolve();
      };
      this.waiting.add(check);
      check();
    });
  }
}

/** A greeting that waits until its signal aborts, then says `no answer yet`; `waiting` resolves once it started. */
function heldGreeting(): { greeting: (signal: AbortSignal) => Promise<string>; waiting: Promise<void> } {
  let started!: () => void;
  const waiting = new Promise<void>((resolve) => {
    started = resolve;
  });
  const greeting = (signal: AbortSignal) =>
    new Promise<string>((resolve) => {
      started();
      signal.addEventListener('abort', () => resolve('no answer yet'), { once: true });
    });
  return { greeting, waiting };
}

describe('the greeting at a terminal', () => {
  it('comes before the first prompt; Ctrl-C while it waits cuts it short, and the shell runs on', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const printed = text(output);
    const { greeting, waiting } = heldGreeting();
    const done = runShell({ client: new FakeClient(), input, output, terminal: true, greeting });
    await waiting;
    input.write('\x03');
    input.end('ping\n');
    expect(await done).to.equal(true);
    output.end();
    const screen = stripVTControlCharacters(await printed);
    // The line typed while the greeting waited (readline echoed it then) runs after it, not lost.
    expect(screen).to.contain(`no answer yet\n${PROMPT}pong\n`);
  });

  it('leaves on Ctrl-D typed while it waits, at once and without a prompt', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const screen = new Screen(output);
    const { greeting, waiting } = heldGreeting();
    const done = runShell({ client: new FakeClient(), input, output, terminal: true, greeting });
    await waiting;
    input.write('\x04');
    expect(await done).to.equal(true);
    expect(input.isPaused()).to.equal(true);
    expect(screen.shown).not.to.contain(PROMPT);
    expect(screen.shown).not.to.contain('no answer yet');
  });

  it("caps the node's answer at GREETING_DEADLINE_MS and says when it did not come", async () => {
    const asked: Array<{ deadlineMs?: number }> = [];
    const client = (stats: () => Promise<NodeStats>, deadlineMs = 10_000) => ({
      address: '127.0.0.1:5878',
      deadlineMs,
      stats: (options: { deadlineMs?: number }) => {
        asked.push(options);
        return stats();
      },
    });
    const answered = await greeting(
      client(() => new FakeClient().stats()),
      new AbortController().signal,
    );
    expect(answered).to.match(/^Connected to kvdb 0\.1\.0 at 127\.0\.0\.1:5878 \(1 member\)\. Type help/);
    const silent = () => Promise.reject(new TimeoutError('stats to 127.0.0.1:5878 timed out after 2000 ms'));
    expect((await greeting(client(silent, 300), new AbortController().signal)).split('\n')).to.deep.equal([
      '(error) TimeoutError: stats to 127.0.0.1:5878 timed out after 2000 ms',
      '127.0.0.1:5878 did not answer: commands go to it all the same (Ctrl-C cancels one that waits).',
      'Type help for the commands, exit or Ctrl-D to leave.',
    ]);
    expect(asked.map((options) => options.deadlineMs)).to.deep.equal([GREETING_DEADLINE_MS, 300]);
    const controller = new AbortController();
    controller.abort();
    expect(await greeting(client(silent), controller.signal)).to.match(
      /^\(interrupted\) stopped waiting for 127\.0\.0\.1:5878 to answer/,
    );
  });
});

describe('ShellSession', () => {
  it('runs words split by a command line as unquoted tokens', async () => {
    const client = new FakeClient();
    const session = new ShellSession({ client });
    expect(await session.runWords(['set', 'two words', '[1,2]'])).to.deep.equal({
      text: 'OK',
      ok: true,
      exit: false,
    });
    expect(client.data.get('two words')).to.deep.equal([1, 2]);
    expect(await session.runWords(['get', 'two words'])).to.deep.equal({
      text: '[1,2]',
      ok: true,
      exit: false,
    });
  });

  it('reports failures with ok false', async () => {
    const session = new ShellSession({ client: new FakeClient() });
    expect(await session.runWords(['get'])).to.deep.include({
      text: '(error) usage: get KEY [DEFAULT]',
      ok: false,
      exit: false,
    });
    expect((await session.runLine('bogus')).ok).to.equal(false);
  });

  it('reports exit and empty lines as successes with nothing to print', async () => {
    const session = new ShellSession({ client: new FakeClient() });
    expect(await session.runLine('exit')).to.deep.equal({ text: '', ok: true, exit: true });
    expect(await session.runLine('# note')).to.deep.equal({ text: '', ok: true, exit: false });
  });

  it('starts from the consistency level it is given', async () => {
    const client = new FakeClient();
    const session = new ShellSession({ client }, { consistency: 'one' });
    await session.runLine('has a');
    expect(consistencyOf(client.calls[0])).to.equal('one');
    expect((await session.runLine('consistency')).text).to.equal('consistency: one');
  });

  it('runs leave and says what was handed over', async () => {
    const client = new FakeClient();
    await client.set('a', 1);
    const { output } = await run('leave\nleave --yes\nleave 127.0.0.1:5999 --yes\n', client);
    expect(output).to.contain('line 1: (error) leave is for good: add --yes to run it without a terminal');
    expect(output).to.contain('127.0.0.1:5878 left the cluster (1 record(s) handed over)');
    expect(output).to.contain('127.0.0.1:5999 left the cluster (0 record(s) handed over)');
    expect(client.calls.filter((call) => call.method === 'leave').map((call) => call.args)).to.deep.equal([
      [],
      ['127.0.0.1:5999'],
    ]);
  });

  it('runs set_replicas with a whole number, says what changed, and refuses anything else unsent', async () => {
    const client = new FakeClient();
    const { output } = await run(
      'set_replicas 3\nset_replicas 2\nset_replicas 0\nset_replicas two\n',
      client,
    );
    expect(output).to.contain('replication is now 3 (was 2)');
    expect(output).to.contain('replication stays at 2');
    expect(output).to.contain('(error) N must be a whole number from 1 up; usage: set_replicas N');
    expect(client.calls.map((call) => call.args)).to.deep.equal([[3], [2]]);
  });
});

describe('the shell for scripts and people', () => {
  it('resolves with false when a piped line failed, true when none did', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const errors = new PassThrough();
    const failed = text(errors);
    const done = runShell({ client: new FakeClient(), input, output, errors });
    input.end('set a 1\nget\nget a\n');
    expect(await done).to.equal(false);
    errors.end();
    expect(await failed).to.equal('line 2: (error) usage: get KEY [DEFAULT]\n');
    const ok = runShell({ client: new FakeClient(), input: new PassThrough().end('ping\n'), output });
    expect(await ok).to.equal(true);
  });

  it('prints one JSON document a command in json mode, errors as {"error": …}', async () => {
    const session = new ShellSession({ client: new FakeClient() }, { format: 'json' });
    const texts = [];
    for (const line of [
      'set a {"x": [1, 2]}',
      'get a',
      'mget a b',
      'has a',
      'status',
      'consistency',
      'get',
    ]) {
      texts.push((await session.runLine(line)).text);
    }
    expect(texts.map((line) => JSON.parse(line))).to.deep.equal([
      true,
      { x: [1, 2] },
      [{ x: [1, 2] }, null],
      true,
      { self: '127.0.0.1:5878', at: 0, replication: { replicas: 1 }, members: [] },
      { consistency: null },
      { error: { name: 'UsageError', message: 'usage: get KEY [DEFAULT]' } },
    ]);
  });

  it('prints one JSON document a line of a script in json mode, a failed line too, and names it on stderr', async () => {
    const output = new PassThrough();
    const errors = new PassThrough();
    const [printed, failed] = [text(output), text(errors)];
    const input = new PassThrough().end('set a 1\nget\nget a\n');
    expect(await runShell({ client: new FakeClient(), input, output, errors, format: 'json' })).to.equal(
      false,
    );
    output.end();
    errors.end();
    expect(
      (await printed)
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line)),
    ).to.deep.equal([
      true,
      { error: { name: 'UsageError', message: 'usage: get KEY [DEFAULT]' }, line: 2 },
      1,
    ]);
    expect(await failed).to.equal('line 2: (error) usage: get KEY [DEFAULT]\n');
  });

  it('prints bare values in raw mode: strings unquoted, lists one item a line', async () => {
    const session = new ShellSession({ client: new FakeClient() }, { format: 'raw' });
    const texts = [];
    for (const line of ['set a "two words"', 'set b 2', 'get a', 'get b', 'mget a b c', 'list_keys']) {
      texts.push((await session.runLine(line)).text);
    }
    expect(texts).to.deep.equal(['OK', 'OK', 'two words', '2', 'two words\n2\nnull', 'a\nb']);
  });

  it('asks before leave when it can, and leaves only on yes', async () => {
    const client = new FakeClient();
    const questions: string[] = [];
    const answers = [false, true];
    const confirm = async (question: string) => {
      questions.push(question);
      return answers.shift() ?? false;
    };
    const session = new ShellSession({ client, confirm });
    expect(await session.runLine('leave')).to.deep.include({ ok: false, text: '(error) leave cancelled' });
    expect(await session.runLine('leave 127.0.0.1:5999')).to.deep.include({ ok: true });
    expect(questions).to.deep.equal([
      'Take the connected node out of the cluster for good? It hands its data over and shuts down. [y/N] ',
      'Remove 127.0.0.1:5999 from the cluster for good? [y/N] ',
    ]);
    expect(client.calls.filter((call) => call.method === 'leave')).to.have.length(1);
    await new ShellSession({ client }, { yes: true }).runLine('leave');
    expect(client.calls.filter((call) => call.method === 'leave')).to.have.length(2);
  });

  it('refuses leave ADDRESS at once, unsent and unasked, when ADDRESS is no member', async () => {
    const client = new FakeClient();
    client.members.push({ address: '127.0.0.1:5990', status: 'left' });
    const questions: string[] = [];
    const confirm = async (question: string) => {
      questions.push(question);
      return true;
    };
    const session = new ShellSession({ client, confirm });
    expect(await session.runLine('leave 127.0.0.1:6000')).to.deep.include({
      ok: false,
      text: '(error) 127.0.0.1:6000 is not a member of the cluster (list_members shows the members); nothing was removed',
    });
    expect((await session.runLine('leave 127.0.0.1:5990 --yes')).text).to.equal(
      '(error) 127.0.0.1:5990 has left the cluster already (list_members shows the members); nothing was removed',
    );
    expect((await session.runLine('leave nowhere')).text).to.match(/^\(error\) Expected a member address as/);
    expect(questions).to.deep.equal([]);
    expect(client.calls.filter((call) => call.method === 'leave')).to.have.length(0);
    expect((await session.runLine('leave 127.0.0.1:5879')).text).to.contain(
      '127.0.0.1:5879 left the cluster',
    );
    expect(questions).to.have.length(1);
  });

  it('names the node leave takes out, and with several nodes asks for an ADDRESS before asking anything', async () => {
    const client = new FakeClient();
    const questions: string[] = [];
    const confirm = async (question: string) => {
      questions.push(question);
      return false;
    };
    await new ShellSession({ client, confirm }, { nodes: ['127.0.0.1:5878'] }).runLine('leave');
    expect(questions).to.deep.equal([
      'Take 127.0.0.1:5878 out of the cluster for good? It hands its data over and shuts down. [y/N] ',
    ]);
    const several = new ShellSession({ client, confirm }, { nodes: ['127.0.0.1:5878', '127.0.0.1:5879'] });
    const outcome = await several.runLine('leave --yes');
    expect(outcome).to.deep.include({ ok: false });
    expect(outcome.text).to.contain('name the member (leave HOST:PORT), or connect HOST:PORT first');
    await several.runLine('leave');
    expect(questions).to.have.length(1);
    expect(client.calls.filter((call) => call.method === 'leave')).to.have.length(0);
    await several.runLine('leave 127.0.0.1:5879 --yes');
    expect(client.calls.filter((call) => call.method === 'leave')).to.have.length(1);
  });

  it('connects to another node, closing the client it replaces', async () => {
    const first = new FakeClient();
    const second = new FakeClient();
    const opened: string[] = [];
    const connect = (host: string, port: number) => {
      opened.push(`${host}:${port}`);
      return second;
    };
    const session = new ShellSession({ client: first, connect });
    expect((await session.runLine('connect 127.0.0.1:5999')).text).to.equal('connected to 127.0.0.1:5999');
    await session.runLine('set a 1');
    expect(opened).to.deep.equal(['127.0.0.1:5999']);
    expect(first.closed).to.equal(true);
    expect(second.data.get('a')).to.equal(1);
    const alone = await new ShellSession({ client: first }).runLine('connect 127.0.0.1:5999');
    expect(alone).to.deep.include({ ok: false });
  });

  it('stays on its node when the one named by connect does not answer', async () => {
    const first = new FakeClient();
    const dead = new FakeClient();
    dead.failures.set('ping', new ConnectionError('cannot reach kvdb at 127.0.0.1:5999: connection refused'));
    const session = new ShellSession({ client: first, connect: () => dead });
    const outcome = await session.runLine('connect 127.0.0.1:5999');
    expect(outcome).to.deep.include({ ok: false });
    expect(outcome.text).to.contain('cannot reach kvdb at 127.0.0.1:5999');
    expect(dead.closed).to.equal(true);
    expect(first.closed).to.equal(false);
    await session.runLine('set a 1');
    expect(first.data.get('a')).to.equal(1);
  });

  it('closes the client of a connect cancelled while it waits for the node to answer', async () => {
    const first = new FakeClient();
    const hanging = new FakeClient();
    hanging.ping = (options?: { signal?: AbortSignal }) =>
      new Promise((_, reject) =>
        options?.signal?.addEventListener('abort', () => reject(new Error('aborted'))),
      );
    const closed = new Promise<void>((resolve) => {
      const close = hanging.close.bind(hanging);
      hanging.close = () => close().finally(resolve);
    });
    const session = new ShellSession({ client: first, connect: () => hanging });
    const controller = new AbortController();
    const pending = session.runLine('connect 127.0.0.1:5999', controller.signal);
    controller.abort();
    expect((await pending).text).to.equal('(interrupted)');
    await closed; // else mocha's timeout fails the test
    expect((await session.runLine('ping')).text).to.equal('pong');
    expect(first.calls.map((call) => call.method)).to.deep.equal(['ping']);
  });

  it('settles a command as (interrupted) when its signal aborts, and runs the next', async () => {
    const client = new FakeClient();
    client.get = () => new Promise(() => {});
    const session = new ShellSession({ client });
    const controller = new AbortController();
    const pending = session.runLine('get a', controller.signal);
    controller.abort();
    expect(await pending).to.deep.equal({ text: '(interrupted)', ok: false, exit: false });
    expect((await session.runLine('ping')).text).to.equal('pong');
  });

  it('swaps in a new client after a cancelled command, closing the one whose request it dropped', async () => {
    const first = new FakeClient();
    first.get = () => new Promise(() => {});
    const second = new FakeClient();
    const session = new ShellSession({ client: first, reopen: () => second });
    const controller = new AbortController();
    const pending = session.runLine('get a', controller.signal);
    controller.abort();
    expect((await pending).text).to.equal('(interrupted)');
    expect(first.closed).to.equal(true);
    await session.runLine('ping');
    expect(second.calls.map((call) => call.method)).to.deep.equal(['ping']);
  });

  it('remembers the keys it has seen, the latest last, for completion', async () => {
    const session = new ShellSession({ client: new FakeClient() });
    for (const line of ['set a 1', 'mset b 1 c 2', 'get a', 'list_keys']) await session.runLine(line);
    expect([...session.seenKeys]).to.deep.equal(['a', 'b', 'c']);
  });
});
