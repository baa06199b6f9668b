import { MAX_TTL_SECONDS, UsageError } from '@kvdb/core';
import { defined } from '@kvdb/core/testing';
import { expect } from 'chai';
import {
  COMMANDS,
  HELP,
  helpFor,
  parseCommand,
  parseTokens,
  parseValue,
  tokenize,
} from '../src/shell/commands.js';

const words = (line: string): string[] => tokenize(line).map((token) => token.text);

function usageError(line: string): string {
  try {
    parseCommand(line);
  } catch (error) {
    expect(error).to.be.instanceOf(UsageError);
    return (error as Error).message;
  }
  expect.fail(`expected ${JSON.stringify(line)} to be refused`);
}

describe('tokenize', () => {
  it('splits at any run of whitespace and ignores it at the ends', () => {
    expect(tokenize('  get \t a   ')).to.deep.equal([
      { text: 'get', quoted: false },
      { text: 'a', quoted: false },
    ]);
  });

  it('gives no tokens for a blank line', () => {
    expect(tokenize('')).to.deep.equal([]);
    expect(tokenize('   \t')).to.deep.equal([]);
  });

  it('keeps a double-quoted word whole, spaces included, and marks it quoted', () => {
    expect(tokenize('set "two words" "a b"')).to.deep.equal([
      { text: 'set', quoted: false },
      { text: 'two words', quoted: true },
      { text: 'a b', quoted: true },
    ]);
  });

  it('reads \\" and \\\\ inside quotes as a quote and a backslash', () => {
    expect(words('set k "say \\"hi\\""')).to.deep.equal(['set', 'k', 'say "hi"']);
    expect(words('set k "C:\\\\dir"')).to.deep.equal(['set', 'k', 'C:\\dir']);
    expect(words('"\\\\\\""')).to.deep.equal(['\\"']);
  });

  it('keeps other backslashes inside quotes as they are', () => {
    expect(words('"a\\nb"')).to.deep.equal(['a\\nb']);
  });

  it('keeps backslashes and quotes inside an unquoted word as they are', () => {
    expect(words('set k {"a":1} C:\\dir it"s')).to.deep.equal(['set', 'k', '{"a":1}', 'C:\\dir', 'it"s']);
  });

  it('gives an empty quoted word for ""', () => {
    expect(tokenize('set k ""')[2]).to.deep.equal({ text: '', quoted: true });
  });

  it('refuses an unterminated quote, including one whose closing quote is escaped', () => {
    for (const line of ['get "abc', 'get "abc\\"', 'get "abc\\', 'set "a" "b']) {
      expect(() => tokenize(line), line).to.throw(UsageError, /unterminated quoted string/);
    }
  });

  it('refuses text stuck to a closing quote', () => {
    expect(() => tokenize('get "a"b')).to.throw(UsageError, /after the closing quote/);
  });

  it('reads a single-quoted word as typed, spaces and double quotes included, as an unquoted word', () => {
    expect(tokenize(`set obj '{"a": 1}' 'it\\s'`)).to.deep.equal([
      { text: 'set', quoted: false },
      { text: 'obj', quoted: false },
      { text: '{"a": 1}', quoted: false },
      { text: 'it\\s', quoted: false },
    ]);
    expect(tokenize("get ''")[1]).to.deep.equal({ text: '', quoted: false });
    expect(() => tokenize("set k 'open")).to.throw(UsageError, /unterminated quoted string/);
  });

  it('runs an unquoted word that starts with { or [ to its matching bracket, past spaces and brackets in strings', () => {
    expect(words('set user {"name": "Ada Lovelace", "tags": ["a b", "}"]} ttl=5')).to.deep.equal([
      'set',
      'user',
      '{"name": "Ada Lovelace", "tags": ["a b", "}"]}',
      'ttl=5',
    ]);
    expect(words('mset a [1, 2] b {"q": "say \\"}\\""}')).to.deep.equal([
      'mset',
      'a',
      '[1, 2]',
      'b',
      '{"q": "say \\"}\\""}',
    ]);
    expect(() => tokenize('set k {"a": [1, 2}')).to.throw(UsageError, /unexpected \}/);
    expect(() => tokenize('set k {"a": [1, 2]')).to.throw(UsageError, /missing \} to close/);
    expect(words('set k [1]x [::1]:5878')).to.deep.equal(['set', 'k', '[1]x', '[::1]:5878']);
  });
});

describe('parseValue', () => {
  const unquoted = (text: string) => parseValue({ text, quoted: false });

  it('parses unquoted JSON', () => {
    expect(unquoted('1')).to.equal(1);
    expect(unquoted('-2.5')).to.equal(-2.5);
    expect(unquoted('true')).to.equal(true);
    expect(unquoted('false')).to.equal(false);
    expect(unquoted('null')).to.equal(null);
    expect(unquoted('[1,2]')).to.deep.equal([1, 2]);
    expect(unquoted('{"a":1}')).to.deep.equal({ a: 1 });
  });

  it('keeps unquoted text that is not JSON as a string', () => {
    expect(unquoted('hello')).to.equal('hello');
    expect(unquoted('007')).to.equal('007');
    expect(unquoted('{a:1}')).to.equal('{a:1}');
    expect(unquoted('True')).to.equal('True');
  });

  it('refuses numbers a double cannot hold as typed, saying to quote them, and takes those it can', () => {
    for (const text of [
      '1e999',
      '[1,-1e999]',
      '12345678901234567890',
      '{"n":9007199254740993}',
      '0.12345678901234567891',
    ]) {
      expect(() => unquoted(text), text).to.throw(UsageError, /does not fit a double exactly.*quote it/);
    }
    expect(() => unquoted('12345678901234567890')).to.throw(/stored as 12345678901234567000/);
    expect(unquoted('9007199254740992')).to.equal(2 ** 53);
    expect(unquoted('[0.1, 1.50, 1e3, -0, 2.5e-3]')).to.deep.equal([0.1, 1.5, 1000, -0, 0.0025]);
    expect(unquoted('{"big": "12345678901234567890"}')).to.deep.equal({ big: '12345678901234567890' });
    expect(parseValue({ text: '12345678901234567890', quoted: true })).to.equal('12345678901234567890');
  });

  it('always takes a quoted token as a string', () => {
    for (const text of ['1', 'true', 'null', '[1,2]', '{"a":1}']) {
      expect(parseValue({ text, quoted: true })).to.equal(text);
    }
  });
});

describe('parseCommand', () => {
  it('gives empty for blank lines and # comments', () => {
    for (const line of ['', '   ', '# a comment', '   #indented', '#get a']) {
      expect(parseCommand(line), line).to.deep.equal({ kind: 'empty' });
    }
  });

  it('parses get with and without a default', () => {
    expect(parseCommand('get a')).to.deep.equal({ kind: 'call', method: 'get', params: { key: 'a' } });
    expect(parseCommand('get a 0')).to.deep.equal({
      kind: 'call',
      method: 'get',
      params: { key: 'a', default: 0 },
    });
    expect(parseCommand('get a "0"')).to.deep.equal({
      kind: 'call',
      method: 'get',
      params: { key: 'a', default: '0' },
    });
  });

  it('parses pop with and without a default', () => {
    expect(parseCommand('pop a')).to.deep.equal({ kind: 'call', method: 'pop', params: { key: 'a' } });
    expect(parseCommand('pop a null')).to.deep.equal({
      kind: 'call',
      method: 'pop',
      params: { key: 'a', default: null },
    });
  });

  it('parses set with JSON and string values', () => {
    expect(parseCommand('set a 1')).to.deep.equal({
      kind: 'call',
      method: 'set',
      params: { key: 'a', value: 1 },
    });
    expect(parseCommand('set a "1"')).to.deep.equal({
      kind: 'call',
      method: 'set',
      params: { key: 'a', value: '1' },
    });
    expect(parseCommand('set "two words" "a b"')).to.deep.equal({
      kind: 'call',
      method: 'set',
      params: { key: 'two words', value: 'a b' },
    });
    expect(parseCommand('set a {"x":[1,true]}')).to.deep.equal({
      kind: 'call',
      method: 'set',
      params: { key: 'a', value: { x: [1, true] } },
    });
    expect(parseCommand('set a hello')).to.deep.equal({
      kind: 'call',
      method: 'set',
      params: { key: 'a', value: 'hello' },
    });
  });

  it('never parses a key as JSON', () => {
    expect(parseCommand('get 1')).to.deep.equal({ kind: 'call', method: 'get', params: { key: '1' } });
    expect(parseCommand('set null true')).to.deep.equal({
      kind: 'call',
      method: 'set',
      params: { key: 'null', value: true },
    });
    expect(parseCommand('has {"a":1}')).to.deep.equal({
      kind: 'call',
      method: 'has',
      params: { key: '{"a":1}' },
    });
  });

  it('keeps __proto__ as an ordinary key', () => {
    expect(parseCommand('set __proto__ 1')).to.deep.equal({
      kind: 'call',
      method: 'set',
      params: { key: '__proto__', value: 1 },
    });
  });

  it('parses has and locate', () => {
    expect(parseCommand('has a')).to.deep.equal({ kind: 'call', method: 'has', params: { key: 'a' } });
    expect(parseCommand('locate a')).to.deep.equal({ kind: 'call', method: 'locate', params: { key: 'a' } });
  });

  it('parses the commands without arguments', () => {
    for (const method of ['ping', 'list_keys', 'list_members', 'stats']) {
      expect(parseCommand(method)).to.deep.equal({ kind: 'call', method, params: {} });
    }
  });

  it('parses list_keys with a prefix, a limit and a cursor, an empty prefix or cursor being none', () => {
    const listKeys = (params: object) => ({ kind: 'call', method: 'list_keys', params });
    expect(parseCommand('list_keys user:')).to.deep.equal(listKeys({ prefix: 'user:' }));
    expect(parseCommand('list_keys "" 100')).to.deep.equal(listKeys({ limit: 100 }));
    expect(parseCommand('list_keys u 10000 "u 9"')).to.deep.equal(
      listKeys({ prefix: 'u', limit: 10_000, cursor: 'u 9' }),
    );
    expect(parseCommand('list_keys u 5 ""')).to.deep.equal(listKeys({ prefix: 'u', limit: 5 }));
    expect(
      parseTokens([
        { text: 'list_keys', quoted: false },
        { text: '', quoted: false },
      ]),
    ).to.deep.equal(listKeys({}));
  });

  it('refuses a list_keys LIMIT that is not a whole number from 1 to 10000', () => {
    for (const limit of ['0', '10001', '-1', '1.5', '1e3', 'ten', '""', '99999999999999999999']) {
      expect(usageError(`list_keys p ${limit}`), limit).to.equal(
        'LIMIT must be a whole number from 1 to 10000; usage: list_keys [PREFIX [LIMIT [CURSOR]]]',
      );
    }
  });

  it('parses exit and its alias quit', () => {
    expect(parseCommand('exit')).to.deep.equal({ kind: 'exit' });
    expect(parseCommand('quit')).to.deep.equal({ kind: 'exit' });
  });

  it('parses consistency with and without a level, in any case', () => {
    expect(parseCommand('consistency')).to.deep.equal({ kind: 'consistency' });
    expect(parseCommand('consistency one')).to.deep.equal({ kind: 'consistency', level: 'one' });
    expect(parseCommand('consistency QUORUM')).to.deep.equal({ kind: 'consistency', level: 'quorum' });
    expect(parseCommand('CONSISTENCY All')).to.deep.equal({ kind: 'consistency', level: 'all' });
  });

  it('parses help with and without a topic, resolving aliases', () => {
    expect(parseCommand('help')).to.deep.equal({ kind: 'help' });
    expect(parseCommand('help SET')).to.deep.equal({ kind: 'help', topic: 'set' });
    expect(parseCommand('help quit')).to.deep.equal({ kind: 'help', topic: 'exit' });
  });

  it('takes command names in any case', () => {
    expect(parseCommand('GET a')).to.deep.equal({ kind: 'call', method: 'get', params: { key: 'a' } });
    expect(parseCommand('List_Keys')).to.deep.equal({ kind: 'call', method: 'list_keys', params: {} });
    expect(parseCommand('QUIT')).to.deep.equal({ kind: 'exit' });
  });

  it('keeps the case of keys and values', () => {
    expect(parseCommand('SET Key Value')).to.deep.equal({
      kind: 'call',
      method: 'set',
      params: { key: 'Key', value: 'Value' },
    });
  });

  it('refuses an unknown command, naming it', () => {
    expect(usageError('bogus 1 2')).to.equal('unknown command "bogus"; type help for the list');
    expect(usageError('help bogus')).to.match(/unknown command "bogus"/);
  });

  it('refuses wrong argument counts with the usage of the command', () => {
    const cases: Array<[string, string]> = [
      ['get', 'usage: get KEY [DEFAULT]'],
      ['get a b c', 'usage: get KEY [DEFAULT]'],
      ['pop', 'usage: pop KEY [DEFAULT]'],
      ['pop a b c', 'usage: pop KEY [DEFAULT]'],
      ['set a', 'usage: set KEY VALUE [ttl=SECONDS]'],
      ['set a b c', 'usage: set KEY VALUE [ttl=SECONDS]'],
      ['set a b ttl=1 ttl=2', 'usage: set KEY VALUE [ttl=SECONDS]'],
      ['set "two words" a ttl', 'usage: set KEY VALUE [ttl=SECONDS]'],
      ['ttl', 'usage: ttl KEY'],
      ['ttl a b', 'usage: ttl KEY'],
      ['has', 'usage: has KEY'],
      ['has a b', 'usage: has KEY'],
      ['locate', 'usage: locate KEY'],
      ['locate a b', 'usage: locate KEY'],
      ['list_keys a 1 c d', 'usage: list_keys [PREFIX [LIMIT [CURSOR]]]'],
      ['list_members a', 'usage: list_members'],
      ['stats a', 'usage: stats'],
      ['ping a', 'usage: ping'],
      ['exit now', 'usage: exit'],
      ['quit now', 'usage: exit'],
      ['help get set', 'usage: help [COMMAND]'],
      ['consistency one two', 'usage: consistency [one|quorum|all|serial]'],
      ['consistency two', 'usage: consistency [one|quorum|all|serial]'],
    ];
    for (const [line, message] of cases) expect(usageError(line), line).to.equal(message);
  });

  it('parses set with a ttl in seconds, fractions too, and ttl', () => {
    expect(parseCommand('set a 1 ttl=60')).to.deep.equal({
      kind: 'call',
      method: 'set',
      params: { key: 'a', value: 1, ttl: 60 },
    });
    expect(parseCommand('set a 1 TTL=0.5')).to.deep.equal({
      kind: 'call',
      method: 'set',
      params: { key: 'a', value: 1, ttl: 0.5 },
    });
    expect(parseCommand('TTL a')).to.deep.equal({ kind: 'call', method: 'ttl', params: { key: 'a' } });
  });

  it('refuses a ttl that is no number of seconds above 0 and up to the maximum', () => {
    for (const bad of ['0', '-1', '', 'abc', '1e3', '1.', 'Infinity', String(MAX_TTL_SECONDS + 1)]) {
      expect(usageError(`set a 1 ttl=${bad}`), bad).to.equal(
        `SECONDS must be a number above 0 and at most ${MAX_TTL_SECONDS}; usage: set KEY VALUE [ttl=SECONDS]`,
      );
    }
  });

  it('refuses a line with an unterminated quote', () => {
    expect(usageError('set a "b')).to.match(/^unterminated quoted string/);
  });
});

describe('parseTokens', () => {
  it('takes unquoted words as a command line gives them, spaces kept', () => {
    const unquoted = (text: string) => ({ text, quoted: false });
    expect(parseTokens(['set', 'two words', '[1,2]'].map(unquoted))).to.deep.equal({
      kind: 'call',
      method: 'set',
      params: { key: 'two words', value: [1, 2] },
    });
    expect(parseTokens([])).to.deep.equal({ kind: 'empty' });
  });
});

describe('help', () => {
  it('lists every command with its usage and summary', () => {
    const words = HELP.replace(/\s+/g, ' ');
    for (const command of COMMANDS) {
      expect(HELP).to.include(command.name);
      expect(words).to.include(command.summary);
    }
    expect(HELP).to.include('get KEY [DEFAULT]');
    expect(HELP).to.include('consistency [one|quorum|all|serial]');
    expect(HELP).to.include('quit');
  });

  it('lines up the summaries in one column, wrapped lines too, within 100 columns', () => {
    const lines = HELP.split('\n');
    const rows = lines.slice(1, lines.indexOf(''));
    const start = (row: string) => row.search(/\S/);
    const column = defined(rows[0]).indexOf(defined(COMMANDS[0]).summary.split(' ')[0] ?? '');
    const commandRows = rows.filter((row) => start(row) === 2);
    expect(commandRows).to.have.length(COMMANDS.length);
    for (const row of rows) {
      expect(row.length).to.be.at.most(100);
      if (start(row) !== 2) expect(start(row)).to.equal(column);
      else expect(row[column - 1]).to.equal(' ');
    }
    expect(rows.length).to.be.above(COMMANDS.length);
  });

  it('describes one command, by name or alias', () => {
    expect(helpFor('set')).to.equal(
      'usage: set KEY VALUE [ttl=SECONDS]\nStore VALUE under KEY; with ttl=SECONDS (60, 0.5, …), it expires that many seconds later',
    );
    expect(helpFor('QUIT')).to.match(/^usage: exit\n/);
    expect(() => helpFor('nope')).to.throw(UsageError);
  });

  it('parses leave with and without an address', () => {
    expect(parseCommand('leave')).to.deep.equal({ kind: 'call', method: 'leave', params: {}, yes: false });
    expect(parseCommand('LEAVE 127.0.0.1:5880')).to.deep.equal({
      kind: 'call',
      method: 'leave',
      params: { address: '127.0.0.1:5880' },
      yes: false,
    });
    expect(parseCommand('leave --yes 127.0.0.1:5880')).to.deep.include({ yes: true });
    expect(parseCommand('leave "--yes"')).to.deep.include({ params: { address: '--yes' }, yes: false });
    expect(() => parseCommand('leave a b')).to.throw('usage: leave [ADDRESS] [--yes]');
  });

  it('parses status, and connect with HOST:PORT', () => {
    expect(parseCommand('status')).to.deep.equal({ kind: 'call', method: 'cluster_status', params: {} });
    expect(parseCommand('connect 127.0.0.1:5879')).to.deep.equal({
      kind: 'connect',
      host: '127.0.0.1',
      port: 5879,
    });
    expect(parseCommand('connect [::1]:5879')).to.deep.equal({ kind: 'connect', host: '::1', port: 5879 });
    for (const bad of ['connect', 'connect 5879', 'connect host:0', 'connect host:70000', 'connect ::1:5']) {
      expect(() => parseCommand(bad), bad).to.throw(UsageError, /usage: connect HOST:PORT/);
    }
  });

  it('parses set_replicas N, N a whole number from 1', () => {
    expect(parseCommand('set_replicas 3')).to.deep.equal({
      kind: 'call',
      method: 'set_replicas',
      params: { replicas: 3 },
    });
    for (const bad of [
      'set_replicas 0',
      'set_replicas -1',
      'set_replicas 2.5',
      'set_replicas x',
      'set_replicas 1e3',
    ]) {
      expect(() => parseCommand(bad), bad).to.throw(UsageError, 'N must be a whole number from 1 up');
    }
    expect(() => parseCommand('set_replicas')).to.throw('usage: set_replicas N');
  });
});

describe('mget and mset', () => {
  it('parse any number of keys, and of KEY VALUE pairs whose values are read as set reads them', () => {
    expect(parseCommand('mget a "two words" {"k":1}')).to.deep.equal({
      kind: 'call',
      method: 'mget',
      params: { keys: ['a', 'two words', '{"k":1}'] },
    });
    expect(parseCommand('MSET a 1 "b c" "1" d [1,2] e text')).to.deep.equal({
      kind: 'call',
      method: 'mset',
      params: {
        entries: [
          ['a', 1],
          ['b c', '1'],
          ['d', [1, 2]],
          ['e', 'text'],
        ],
      },
    });
    const many = Array.from({ length: 300 }, (_, i) => `k${i}`);
    expect(parseCommand(`mget ${many.join(' ')}`)).to.deep.include({ params: { keys: many } });
  });

  it('refuse no key, and a KEY without its VALUE, with the usage', () => {
    expect(usageError('mget')).to.equal('usage: mget KEY [KEY…]');
    expect(usageError('mset')).to.equal('usage: mset KEY VALUE [KEY VALUE…]');
    expect(usageError('mset a')).to.equal('usage: mset KEY VALUE [KEY VALUE…]');
    expect(usageError('mset a 1 b')).to.equal('every KEY needs a VALUE; usage: mset KEY VALUE [KEY VALUE…]');
  });

  it('are listed by help with their usage', () => {
    expect(HELP).to.match(/\n {2}mget KEY \[KEY…\] +Print the values of the KEYs in order/);
    expect(helpFor('mset')).to.match(/^usage: mset KEY VALUE \[KEY VALUE…\]\n/);
  });
});
