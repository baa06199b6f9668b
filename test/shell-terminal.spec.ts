import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { SHELL_BIN, TestCluster } from './helpers/cluster.js';
import { Terminal } from './helpers/terminal.js';

/** The last line on the screen is an empty prompt: the shell waits for a command. */
const atPrompt = (screen: string): boolean => screen.split('\n').at(-1) === '>>';

describe('the kvdb shell in a real terminal (tmux), against a real cluster', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let home: string;
  let terminal: Terminal | undefined;

  before(async () => {
    cluster = await TestCluster.start({ size: 3, replicas: 2 });
  });

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'kvdb-shell-home-'));
  });

  afterEach(async () => {
    await terminal?.kill();
    terminal = undefined;
    rmSync(home, { recursive: true, force: true });
  });

  after(async () => {
    await cluster?.stop();
  });

  /** The shell on node 0 (more `args` after), its history in the test's own home. */
  async function shell(...args: string[]): Promise<Terminal> {
    const env: Record<string, string> = { HOME: home, KVDB_HISTORY_FILE: join(home, '.kvdb_history') };
    terminal = await Terminal.start(
      [process.execPath, SHELL_BIN, '-P', String(cluster.node(0).port), ...args],
      env,
    );
    await terminal.waitFor(atPrompt);
    return terminal;
  }

  it('takes JSON with spaces as one word, single quotes as in sh, and refuses a number a double would round', async () => {
    const term = await shell();
    expect(await term.enter('set user {"name": "Ada Lovelace", "tags": ["a b"]}')).to.equal('OK');
    expect(await term.enter(`set obj '{"a": 1}'`)).to.equal('OK');
    expect(await term.enter('get user')).to.equal('{"name":"Ada Lovelace","tags":["a b"]}');
    expect(await term.enter('get obj')).to.equal('{"a":1}');
    expect(await term.enter('set n 12345678901234567890')).to.equal(
      '(error) the number 12345678901234567890 does not fit a double exactly (it would be stored as 12345678901234567000); quote it to store it as a string: "12345678901234567890"',
    );
    expect(await term.enter('set n "12345678901234567890"')).to.equal('OK');
    expect(await cluster.client(1).get('n')).to.equal('12345678901234567890');
  });

  it('completes commands and keys with Tab', async () => {
    await cluster.client(1).set('tab:alpha', 1);
    await cluster.client(1).set('tab:beta', 2);
    const term = await shell();
    await term.type('lo', 'Tab');
    await term.waitFor(/>> locate$/);
    await term.type('', 'C-u');
    await term.type('get tab:a', 'Tab');
    await term.waitFor(/>> get tab:alpha$/);
    await term.type('', 'Enter');
    await term.waitFor(/get tab:alpha\s*\n1\n>>$/);
    // Two candidates: the first Tab stops at their common prefix, the second lists them. Two Tabs that reach the
    // shell in one read count as pasted text (readline completes only a Tab that ends its read): Tab again then.
    await term.type('pop tab:', 'Tab');
    const listed = (screen: string) => /tab:alpha\s+tab:beta/.test(screen);
    for (let attempt = 1; ; attempt++) {
      await term.type('', 'Tab');
      const shown = await term.waitFor(listed, 2_000).then(
        () => true,
        (error: Error) => (attempt < 5 ? false : Promise.reject(error)),
      );
      if (shown) break;
    }
  });

  it('keeps the history in ~/.kvdb_history across runs, Up recalling the last line', async () => {
    let term = await shell();
    expect(await term.enter('set history:k 7')).to.equal('OK');
    expect(await term.enter('get history:k')).to.equal('7');
    // The answer to leave's question is no command: it stays out of the history.
    await term.type('leave', 'Enter');
    await term.waitFor(/\[y\/N\]$/);
    await term.type('no', 'Enter');
    await term.waitFor(/leave cancelled\n>>$/);
    await term.type('exit', 'Enter');
    expect(await term.exited()).to.equal(0);
    expect(readFileSync(join(home, '.kvdb_history'), 'utf8')).to.equal(
      'set history:k 7\nget history:k\nleave\nexit\n',
    );
    await term.kill();
    term = await shell();
    await term.type('', 'Up', 'Up', 'Up');
    await term.waitFor(/>> get history:k$/);
    await term.type('', 'Enter');
    await term.waitFor(/>> get history:k\n7\n>>$/);
  });

  it('shows status as a table of every member, and one JSON document a command with --json', async () => {
    const term = await shell();
    const table = (await term.enter('status')).split('\n');
    expect(table[0]).to.match(/^ADDRESS\s+STATE\s+KEYS\s+VERSION\s+UPTIME\s+RING$/);
    expect(table).to.have.length(1 + 3 + 1);
    for (const node of cluster.nodes) {
      expect(table.join('\n')).to.match(
        new RegExp(`127\\.0\\.0\\.1:${node.port}( \\*)?\\s+alive\\s+\\d+\\s+\\S+\\s+\\d`),
      );
    }
    expect(table.at(-1)).to.match(
      /^\(\* answered: the cluster as 127\.0\.0\.1:\d+ sees it; replication 2\)$/,
    );
    await term.kill();
    await cluster.client(1).set('json:user', { name: 'Ada' });
    const json = await shell('--json');
    const status = JSON.parse(await json.enter('status'));
    expect(status.members.map((member: { address: string }) => member.address).sort()).to.deep.equal(
      [...cluster.addresses].sort(),
    );
    expect(
      status.members.every((member: { stats: { keys: number } }) => typeof member.stats.keys === 'number'),
    ).to.equal(true);
    expect(JSON.parse(await json.enter('get json:user'))).to.deep.equal({ name: 'Ada' });
    expect(JSON.parse(await json.enter('get'))).to.deep.equal({
      error: { name: 'UsageError', message: 'usage: get KEY [DEFAULT]' },
    });
  });

  describe('Ctrl-C', () => {
    let hanging: Server;
    const sockets = new Set<Socket>();

    before(async () => {
      // Takes connections and never answers: a call to it runs until Ctrl-C or the client's timeout.
      hanging = createServer((socket) => sockets.add(socket.on('close', () => sockets.delete(socket))));
      await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    });

    after(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => hanging.close(resolve));
    });

    it('gives the prompt soon, with a note, when the node takes the connection and never answers', async () => {
      const { port } = hanging.address() as { port: number };
      const env = { HOME: home, KVDB_HISTORY_FILE: '' };
      // The client's own deadline is a minute: only the greeting's cap brings the prompt within the wait below.
      terminal = await Terminal.start(
        [process.execPath, SHELL_BIN, '-P', String(port), '--timeout', '30000'],
        env,
      );
      const screen = await terminal.waitFor(atPrompt, 10_000);
      expect(screen).to.contain(`127.0.0.1:${port} did not answer: commands go to it all the same`);
      await terminal.type('exit', 'Enter');
      expect(await terminal.exited()).to.equal(0);
    });

    it('cancels the command in flight and returns to the prompt; at an empty prompt it leaves', async () => {
      const { port } = hanging.address() as { port: number };
      const term = await shell('--timeout', '30000');
      // connect waits for the node's answer to a ping, which never comes: Ctrl-C cancels it.
      await term.type(`connect 127.0.0.1:${port}`, 'Enter');
      await term.waitFor(/>> connect 127\.0\.0\.1:\d+$/);
      const started = Date.now();
      await term.type('', 'C-c');
      await term.waitFor(/>> connect 127\.0\.0\.1:\d+\n\(interrupted\)\n>>$/);
      expect(Date.now() - started).to.be.below(5_000);
      expect(await term.enter('get k')).to.equal('null');
      await term.enter(`connect 127.0.0.1:${cluster.node(1).port}`);
      expect(await term.enter('ping')).to.equal('pong');
      await term.type('', 'C-c');
      expect(await term.exited()).to.equal(0);
    });
  });

  it('asks before leave, and leaves nothing on no', async () => {
    const term = await shell();
    await term.type('leave', 'Enter');
    await term.waitFor(/Take 127\.0\.0\.1:\d+ out of the cluster for good\? .* \[y\/N\]$/);
    await term.type('n', 'Enter');
    await term.waitFor(/\[y\/N\] n\n\(error\) leave cancelled\n>>$/);
    await term.type(`leave 127.0.0.1:${cluster.node(2).port}`, 'Enter');
    await term.waitFor(/Remove 127\.0\.0\.1:\d+ from the cluster for good\? \[y\/N\]$/);
    await term.type('', 'C-c');
    await term.waitFor(/\[y\/N\]\n\(interrupted\)\n>>$/);
    const members = await cluster.client(1).listMembers();
    expect(members.map((member) => member.status)).to.deep.equal(['alive', 'alive', 'alive']);
    expect(await cluster.client(0).ping()).to.equal('pong');
  });
});
