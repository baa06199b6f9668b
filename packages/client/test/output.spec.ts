import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterStatus, KeyPage } from '@kvdb/core';
import { expect } from 'chai';
import { COMPLETION_MAX_KEYS, complete, MORE } from '../src/shell/complete.js';
import { historyFile, loadHistory, saveHistory } from '../src/shell/history.js';
import { formatTable, render } from '../src/shell/output.js';
import { type ShellClient, ShellSession } from '../src/shell/session.js';

const status: ClusterStatus = {
  self: '127.0.0.1:5878',
  at: 0,
  replication: { replicas: 3 },
  ring: { id: 'r', vnodes: 8 },
  events: [],
  members: [
    {
      address: '127.0.0.1:5878',
      status: 'alive',
      phase: 'normal',
      share: 0.5,
      arcs: [[0, 0.5]],
      stats: {
        address: '127.0.0.1:5878',
        keys: 1234,
        tombstones: 0,
        hints: 0,
        members: 2,
        replicas: 2,
        uptimeMs: 3_723_000,
        version: '0.1.0',
      },
    },
    { address: '127.0.0.1:15879', status: 'dead', phase: 'leaving', share: 0.5, arcs: [], stats: null },
  ],
};

describe('status and the member tables', () => {
  it('lines up every member in columns under a header, numbers right-aligned, the answering node starred', () => {
    expect(render('human', 'cluster_status', status).split('\n')).to.deep.equal([
      'ADDRESS           STATE          KEYS  VERSION  UPTIME     RING',
      '127.0.0.1:5878 *  alive          1234  0.1.0    1h 2m 3s  50.0%',
      '127.0.0.1:15879   dead, leaving     -  -        -         50.0%',
      '(* answered: the cluster as 127.0.0.1:5878 sees it; replication 3)',
    ]);
  });

  it('gives status as tab-separated rows in raw mode and without the ring arcs in json mode', () => {
    expect(render('raw', 'cluster_status', status)).to.equal(
      '127.0.0.1:5878\talive\t1234\t0.1.0\t1h 2m 3s\t50.0%\n127.0.0.1:15879\tdead, leaving\t-\t-\t-\t50.0%',
    );
    const document = JSON.parse(render('json', 'cluster_status', status));
    expect(document.members[0]).to.not.have.property('arcs');
    expect(document.members[0].stats.keys).to.equal(1234);
  });

  it('gives stats flattened, as tab-separated name and bare value in raw mode, and whole in json mode', () => {
    const stats = { keys: 2, replicas: 1, replication: { replicas: 3 }, requests: { total: 9, errors: 0 } };
    expect(render('raw', 'stats', stats).split('\n')).to.deep.equal([
      'keys\t2',
      'replicas\t1',
      'replication.replicas\t3',
      'requests.total\t9',
      'requests.errors\t0',
    ]);
    expect(JSON.parse(render('json', 'stats', stats))).to.deep.equal(stats);
  });

  it("gives ttl bare in raw mode, as Redis's TTL: the seconds, -1 for no expiry, -2 for no value", () => {
    expect(render('raw', 'ttl', { exists: true, ttl: 12.5 })).to.equal('12.5');
    expect(render('raw', 'ttl', { exists: true, ttl: null })).to.equal('-1');
    expect(render('raw', 'ttl', { exists: false, ttl: null })).to.equal('-2');
    expect(render('json', 'ttl', { exists: true, ttl: null })).to.equal('{"exists":true,"ttl":null}');
  });

  it('shows list_members as a table', () => {
    const members = [
      { address: '127.0.0.1:5878', status: 'alive' },
      { address: 'db2:5878', status: 'suspect', answered: false },
    ];
    expect(render('human', 'list_members', members)).to.equal(
      'ADDRESS         STATE\n127.0.0.1:5878  alive\ndb2:5878        suspect (never answered)',
    );
    expect(
      formatTable(
        [
          ['A', 'N'],
          ['x', '10'],
          ['yy', '2'],
        ],
        [1],
      ),
    ).to.equal('A    N\nx   10\nyy   2');
  });
});

describe('history', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kvdb-history-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lives in ~/.kvdb_history, or where KVDB_HISTORY_FILE says, or nowhere when that is empty', () => {
    expect(historyFile({}, '/home/ada')).to.equal('/home/ada/.kvdb_history');
    expect(historyFile({ KVDB_HISTORY_FILE: '/tmp/h' }, '/home/ada')).to.equal('/tmp/h');
    expect(historyFile({ KVDB_HISTORY_FILE: '' }, '/home/ada')).to.equal(undefined);
  });

  it('saves oldest first, private to the user, and loads newest first, at most the size kept', () => {
    const file = join(dir, 'sub', 'history');
    saveHistory(file, ['get c', 'get b', 'get a'], 2);
    expect(readFileSync(file, 'utf8')).to.equal('get b\nget c\n');
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    writeFileSync(file, 'one\n\ntwo\nthree\n');
    expect(loadHistory(file, 2)).to.deep.equal(['three', 'two']);
    expect(loadHistory(join(dir, 'missing'))).to.deep.equal([]);
  });
});

describe('completion', () => {
  const client = (keys: string[] | 'hang') =>
    ({
      listKeysPage: ({ prefix = '' }: { prefix?: string }): Promise<KeyPage> =>
        keys === 'hang'
          ? new Promise(() => {})
          : Promise.resolve({ keys: keys.filter((key) => key.startsWith(prefix)), cursor: null }),
    }) as unknown as ShellClient;

  it('completes command names, then keys after get and pop from the node and those seen', async () => {
    const session = new ShellSession({ client: client(['user:1', 'user:2', 'other']) });
    session.seenKeys.add('user:9');
    expect(await complete(session, 'li')).to.deep.equal([['list_keys', 'list_members'], 'li']);
    expect(await complete(session, 'ST')).to.deep.equal([['stats', 'status'], 'ST']);
    expect(await complete(session, 'get us')).to.deep.equal([['user:1', 'user:2', 'user:9'], 'us']);
    expect(await complete(session, 'pop o')).to.deep.equal([['other'], 'o']);
    expect(await complete(session, 'set user:1 us')).to.deep.equal([[], 'us']);
    expect(await complete(session, 'ping x')).to.deep.equal([[], 'x']);
  });

  /**
   * A cluster's listing: keys in ring order (here by their reversed text), pages of at most 30 keys whatever the
   * limit, and an empty page (not the last) after every third, as ring segments without keys give.
   */
  const cluster = (keys: string[]) => {
    const ring = [...keys].sort((a, b) => ([...a].reverse().join('') < [...b].reverse().join('') ? -1 : 1));
    const asked: Array<{ prefix?: string; limit?: number }> = [];
    const client = {
      listKeysPage: async (options: {
        prefix?: string;
        limit?: number;
        cursor?: string;
      }): Promise<KeyPage> => {
        asked.push(options);
        const under = ring.filter((key) => key.startsWith(options.prefix ?? ''));
        const [at, page] = (options.cursor ?? '0/0').split('/').map(Number) as [number, number];
        if (page % 3 === 2) return { keys: [], cursor: `${at}/${page + 1}` };
        const keys = under.slice(at, at + Math.min(30, options.limit ?? 30));
        const next = at + keys.length;
        return { keys, cursor: next < under.length ? `${next}/${page + 1}` : null };
      },
    } as unknown as ShellClient;
    return { client, asked };
  };

  it("completes a short prefix from the node's whole listing under it, sorted, not a page in ring order", async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `g${i + 1}`);
    const { client, asked } = cluster(keys);
    const [candidates, partial] = await complete(new ShellSession({ client }), 'get g1');
    const under = keys.filter((key) => key.startsWith('g1')).sort();
    expect(partial).to.equal('g1');
    expect(candidates).to.deep.equal(under);
    expect(candidates.slice(0, 3)).to.deep.equal(['g1', 'g10', 'g100']);
    expect(asked.every((options) => options.prefix === 'g1')).to.equal(true);
  });

  it('lists the keys it took and says there are more when the prefix holds more than it takes', async () => {
    const keys = Array.from({ length: COMPLETION_MAX_KEYS + 5 }, (_, i) => `k${i}`);
    const [candidates] = await complete(new ShellSession({ client: cluster(keys).client }), 'has k');
    expect(candidates).to.have.length(COMPLETION_MAX_KEYS + 2);
    expect(candidates.slice(-2)).to.deep.equal(['', MORE]);
    const shown = candidates.slice(0, -2);
    expect(shown).to.deep.equal([...shown].sort());
  });

  it('offers the keys seen when the node does not answer in time', async () => {
    const session = new ShellSession({ client: client('hang') });
    session.seenKeys.add('seen');
    expect(await complete(session, 'get s')).to.deep.equal([['seen'], 's']);
  });
});
