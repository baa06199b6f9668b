import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import yargs from 'yargs';
import { lastOfRepeated, unknownOptionLines, withSettings } from '../src/cli.js';

const OPTIONS = {
  host: { alias: 'H', type: 'string', default: '127.0.0.1' },
  cluster: { alias: ['C', 'members'], type: 'string', default: '' },
  port: { alias: 'P', type: 'number', default: 5878 },
  'auth-token': { type: 'string' },
  'tls-client-auth': { type: 'boolean', default: false },
  'log-level': { type: 'string', choices: ['debug', 'info'], default: 'info' },
  route: { type: 'string', array: true, hidden: true },
} as const;

interface Parsed {
  host: string;
  cluster: string;
  port: number;
  'auth-token'?: string;
  'tls-client-auth': boolean;
  'log-level': string;
  route?: string[];
}

describe('command-line settings: flags, then KVDB_* variables, then --config FILE, then defaults', () => {
  let dir: string;
  let warnings: string[];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kvdb-cli-'));
    warnings = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const file = (content: unknown): string => {
    const path = join(dir, 'kvdb.json');
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };
  // Async, so that a failure yargs throws at once becomes a rejection like one it throws later.
  const parse = async (args: string[], env: Record<string, string> = {}): Promise<Parsed> => {
    const cli = yargs(args).options(OPTIONS).strict();
    return withSettings(cli, 'kvdb-test', { env, warn: (line) => warnings.push(line) })
      .fail((message, error) => {
        throw error ?? new Error(message);
      })
      .parseAsync() as Promise<Parsed>;
  };

  it('takes each option from the first source that gives it', async () => {
    const config = file({ host: '10.0.0.1', port: 1, 'auth-token': 'file', 'log-level': 'debug' });
    const env = { KVDB_PORT: '2', KVDB_AUTH_TOKEN: 'env', KVDB_CONFIG: config };
    expect(await parse(['-P', '3'], env)).to.include({
      port: 3,
      'auth-token': 'env',
      'log-level': 'debug',
      host: '10.0.0.1',
      'tls-client-auth': false,
    });
    expect(await parse([], env)).to.include({ port: 2, P: 2, host: '10.0.0.1' });
    expect(await parse(['--config', config])).to.include({ port: 1, 'auth-token': 'file' });
    expect(await parse([], { KVDB_PORT: '2' })).to.include({ port: 2, host: '127.0.0.1' });
    expect(await parse([])).to.include({ port: 5878, 'log-level': 'info' });
  });

  it('reads booleans, lists and choices from text, and leaves empty variables unset', async () => {
    const env = {
      KVDB_TLS_CLIENT_AUTH: 'true',
      KVDB_ROUTE: 'a:1=b:2',
      KVDB_LOG_LEVEL: 'debug',
      KVDB_HOST: '',
    };
    expect(await parse([], env)).to.deep.include({
      'tls-client-auth': true,
      route: ['a:1=b:2'],
      'log-level': 'debug',
      host: '127.0.0.1',
    });
    expect(await parse(['--config', file({ route: ['x=y'], 'tls-client-auth': true })])).to.deep.include({
      route: ['x=y'],
      'tls-client-auth': true,
    });
  });

  it('takes an option under its other long names too, once', async () => {
    expect(await parse([], { KVDB_MEMBERS: 'a:1' })).to.include({ cluster: 'a:1' });
    expect(await parse(['--config', file({ members: 'b:2' })])).to.include({ cluster: 'b:2' });
    await expectFailure(
      parse([], { KVDB_CLUSTER: 'a:1', KVDB_MEMBERS: 'b:2' }),
      'KVDB_MEMBERS: --cluster is set by another variable too',
    );
    const twice = file({ cluster: 'a:1', members: 'b:2' });
    await expectFailure(
      parse(['--config', twice]),
      `config file ${twice}: "members": --cluster is set by another key too`,
    );
  });

  it('ignores variables that name no option, warning only about near misses', async () => {
    const parsed = await parse([], { KVDB_SIM_SEED: '7', KVDB_PROT: '9', KVDB_VERSION: '1', OTHER: 'x' });
    expect(parsed.port).to.equal(5878);
    expect(warnings).to.deep.equal([
      'kvdb-test: warning: KVDB_PROT names no option and is ignored (did you mean KVDB_PORT?)',
    ]);
  });

  it('refuses a variable of the wrong kind, naming it', async () => {
    for (const [env, message] of [
      [{ KVDB_PORT: 'abc' }, 'KVDB_PORT: expected a number, got "abc"'],
      [{ KVDB_TLS_CLIENT_AUTH: 'yes' }, 'KVDB_TLS_CLIENT_AUTH: expected true, false, 1 or 0, got "yes"'],
      [{ KVDB_LOG_LEVEL: 'loud' }, 'KVDB_LOG_LEVEL: expected one of debug, info, got "loud"'],
    ] as const) {
      await expectFailure(parse([], env), message);
    }
  });

  it('names the config file that fails and says why', async () => {
    const missing = join(dir, 'missing.json');
    await expectFailure(
      parse(['--config', missing]),
      `cannot read config file ${missing}: no such file or directory`,
    );
    const broken = file('{\n  "port": 1,\n}');
    await expectFailure(
      parse(['--config', broken]),
      new RegExp(`^config file ${broken} is not valid JSON: .* \\(line 3, column 1\\)$`),
    );
    await expectFailure(
      parse(['--config', file([1])]),
      `config file ${join(dir, 'kvdb.json')}: expected a JSON object of options, got an array`,
    );
    const wrong = file({ prot: 1, authToken: 'x', port: '1', route: [1], help: true });
    await expectFailure(
      parse(['--config', wrong]),
      [
        `config file ${wrong}: unknown key "prot" (did you mean "port"?)`,
        `config file ${wrong}: unknown key "authToken" (did you mean "auth-token"?)`,
        `config file ${wrong}: "port": expected a number, got "1"`,
        `config file ${wrong}: "route": expected a string, got a number`,
        `config file ${wrong}: unknown key "help"`,
      ].join('\n'),
    );
  });
});

describe('unknownOptionLines', () => {
  const cli = () => yargs([]).options(OPTIONS);

  it('names each unknown option as written, with the nearest known long option when one is close', () => {
    const args = ['--prot', '1', '--hots=x', '-Z', '--authToken', 't', '--no-tls-client-auth', '--zzzzzz'];
    expect(unknownOptionLines(cli(), args)).to.deep.equal([
      'unknown option --prot (did you mean --port?)',
      'unknown option --hots (did you mean --host?)',
      'unknown option -Z',
      'unknown option --zzzzzz',
    ]);
  });

  it('knows aliases, short groups with values, negative numbers and words after --', () => {
    const args = ['-P5878', '-H', 'h', '--port=-1', '-1', 'word', '--', '--anything'];
    expect(unknownOptionLines(cli(), args)).to.deep.equal([]);
    expect(unknownOptionLines(cli(), ['--route', 'x', '--rout', 'y'])).to.deep.equal([
      'unknown option --rout',
    ]);
  });
});

describe('lastOfRepeated', () => {
  it('keeps the last value of a flag given twice, under any of its names, and every value of a list', async () => {
    const cli = yargs([
      '--auth-token',
      'a',
      '--auth-token',
      'b',
      '-P',
      '1',
      '--port',
      '2',
      '--route',
      'x',
      '--route',
      'y',
    ])
      .options(OPTIONS)
      .strict();
    const argv = lastOfRepeated(cli, (await cli.parseAsync()) as unknown as Parsed);
    expect([argv['auth-token'], argv.port, argv.route]).to.deep.equal(['b', 2, ['x', 'y']]);
  });
});

async function expectFailure(promise: Promise<unknown>, message: string | RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught as Error,
  );
  expect(error, 'a failure').to.be.instanceOf(Error);
  if (typeof message === 'string') expect(error?.message).to.equal(message);
  else expect(error?.message).to.match(message);
}
