import { ringKey } from '@kvdb/coordinator';
import { compareKeys, md5Hasher } from '@kvdb/core';
import { freePorts } from '@kvdb/server';
import { expect } from 'chai';
import { TestCluster } from './helpers/cluster.js';
import { runKvdb } from './helpers/run-kvdb.js';

describe('the kvdb shell through a pipe, against a real cluster', function () {
  this.timeout(30_000);
  let cluster: TestCluster;

  before(async () => {
    cluster = await TestCluster.start({ size: 3, replicas: 3 });
  });

  after(async () => {
    await cluster?.stop();
  });

  it('runs a piped script in order, prints readable results, and exits 1 naming the line that failed', async () => {
    const port = String(cluster.node(0).port);
    const script = [
      'set greeting "hello world"',
      'get greeting',
      'set "two words" "a b"',
      'get "two words"',
      'set n 42',
      'get n',
      'has n',
      'has nothing',
      'get nothing fallback',
      'bogus command',
      'pop n',
      'has n',
      'list_keys',
      'locate greeting',
      '',
    ].join('\n');
    const run = await runKvdb(['-H', '127.0.0.1', '-P', port], script);
    expect(run.code).to.equal(1);
    expect(run.stderr).to.equal('line 10: (error) unknown command "bogus"; type help for the list\n');
    const lines = run.stdout.split('\n');
    expect(lines.slice(0, 11)).to.deep.equal([
      'OK',
      '"hello world"',
      'OK',
      '"a b"',
      'OK',
      '42',
      'true',
      'false',
      '"fallback"',
      '42',
      'false',
    ]);
    expect(lines.slice(11, 13)).to.deep.equal(['1) "greeting"', '2) "two words"']);
    expect(lines[13]).to.match(/^1\) 127\.0\.0\.1:\d+ \(primary\)$/);
    expect(lines.slice(13, 16).join('\n')).to.contain(String(cluster.node(2).port));
    const clean = await runKvdb(['-P', port], 'get greeting\n# a comment\n\nping\n');
    expect(clean).to.deep.equal({ code: 0, stdout: '"hello world"\npong\n', stderr: '' });
  });

  it('lists the keys under a prefix, or one page of them with the command for the next', async () => {
    for (const key of ['page:c', 'page:a', 'page:e', 'page:b', 'page:d']) await cluster.client(0).set(key, 1);
    const port = String(cluster.node(1).port);
    const run = await runKvdb(['-P', port], 'list_keys page:\nlist_keys page: 2\n');
    expect(run.code).to.equal(0);
    // A whole listing comes sorted; pages of a cluster come in ring order, each ending with its next command.
    const ringOrder = ['page:a', 'page:b', 'page:c', 'page:d', 'page:e'].sort((a, b) =>
      compareKeys(ringKey(md5Hasher.hash(a), a), ringKey(md5Hasher.hash(b), b)),
    );
    const lines = run.stdout.split('\n');
    expect(lines.slice(0, 7)).to.deep.equal([
      '1) "page:a"',
      '2) "page:b"',
      '3) "page:c"',
      '4) "page:d"',
      '5) "page:e"',
      `1) "${ringOrder[0]}"`,
      `2) "${ringOrder[1]}"`,
    ]);
    const [, cursor] =
      /^cursor: "(r[0-9a-f]{12}[^"]*)" \(next page: list_keys "page:" 2 "\1"\)$/.exec(lines[7] ?? '') ?? [];
    expect(cursor, lines[7]).to.be.a('string');
    const next = await runKvdb(['-P', port, 'list_keys', 'page:', '2', cursor ?? ''], '');
    expect(next.stdout.split('\n').slice(0, 2)).to.deep.equal([
      `1) "${ringOrder[2]}"`,
      `2) "${ringOrder[3]}"`,
    ]);
    const bad = await runKvdb(['-P', port, 'list_keys', 'page:', 'many'], '');
    expect(bad.code).to.equal(1);
    expect(bad.stdout + bad.stderr).to.contain('LIMIT must be a whole number from 1 to 10000');
  });

  it('sees writes made through another node', async () => {
    await cluster.client(2).set('from-node-2', { via: 2 });
    const run = await runKvdb(['-P', String(cluster.node(1).port)], 'get from-node-2\n');
    expect(run.code).to.equal(0);
    expect(run.stdout.trim()).to.equal('{"via":2}');
  });

  it('runs one command given as words and exits 1 when it fails', async () => {
    const port = String(cluster.node(0).port);
    const ok = await runKvdb(['-P', port, 'get', 'greeting'], '');
    expect(ok).to.include({ code: 0 });
    expect(ok.stdout.trim()).to.equal('"hello world"');
    const bad = await runKvdb(['-P', port, 'set', 'only-a-key'], '');
    expect(bad.code).to.equal(1);
    expect(bad.stdout + bad.stderr).to.contain('usage: set KEY VALUE');
  });

  it('prints a numbered error line for each command an unreachable node fails, and exits 1', async () => {
    const [port] = await freePorts(1);
    const run = await runKvdb(['-P', String(port)], 'get a\nping\n');
    expect(run.code).to.equal(1);
    const errors = run.stderr.split('\n').filter((line) => line !== '');
    expect(errors).to.have.length(2);
    expect(errors[0]).to.match(/^line 1: \(error\) ConnectionError/);
    expect(errors[1]).to.match(/^line 2: \(error\) ConnectionError/);
  });

  it('prints JSON documents with --json and bare values with --raw, for scripts', async () => {
    const port = String(cluster.node(0).port);
    await cluster.client(1).set('script:user', { name: 'Ada Lovelace' });
    const json = await runKvdb(['-P', port, '--json'], 'get script:user\nstatus\nget\n');
    expect(json.code).to.equal(1);
    const [value, status, failed] = json.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(value).to.deep.equal({ name: 'Ada Lovelace' });
    expect(status.members).to.have.length(3);
    expect(failed).to.deep.equal({
      error: { name: 'UsageError', message: 'usage: get KEY [DEFAULT]' },
      line: 3,
    });
    expect(json.stderr).to.equal('line 3: (error) usage: get KEY [DEFAULT]\n');
    const one = await runKvdb(['-P', port, '--json', 'get'], '');
    expect(one).to.deep.include({ code: 1, stderr: '' });
    expect(JSON.parse(one.stdout)).to.have.nested.property('error.name', 'UsageError');
    const raw = await runKvdb(['-P', port, '--raw', 'get', 'greeting'], '');
    expect(raw).to.deep.include({ code: 0, stdout: 'hello world\n' });
    const both = await runKvdb(['-P', port, '--raw', '--json', 'ping'], '');
    expect(both.code).to.not.equal(0);
    expect(both.stderr).to.contain('mutually exclusive');
  });

  it('refuses leave without --yes off a terminal, and a number a double would round', async () => {
    const port = String(cluster.node(0).port);
    for (const run of [await runKvdb(['-P', port], 'leave\n'), await runKvdb(['-P', port, 'leave'], '')]) {
      expect(run.code).to.equal(1);
      expect(run.stderr).to.contain('leave is for good: add --yes');
    }
    const big = await runKvdb(['-P', port, 'set', 'big', '12345678901234567890'], '');
    expect(big.code).to.equal(1);
    expect(big.stderr).to.contain('quote it to store it as a string');
    expect(await cluster.client(0).has('big')).to.equal(false);
    expect((await cluster.client(0).listMembers()).map((member) => member.status)).to.deep.equal([
      'alive',
      'alive',
      'alive',
    ]);
  });
});
