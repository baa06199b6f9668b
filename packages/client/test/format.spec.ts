import {
  ConnectionError,
  type MultiKeyFailure,
  type QuorumFailure,
  QuorumNotReachedError,
  TimeoutError,
  UsageError,
} from '@kvdb/core';
import { expect } from 'chai';
import {
  formatDuration,
  formatError,
  formatKeyPage,
  formatMembers,
  formatReplicas,
  formatResult,
  formatStats,
  formatValue,
} from '../src/shell/format.js';

describe('formatValue and get/pop results', () => {
  it('shows values as JSON, so strings and numbers look different', () => {
    expect(formatResult('get', 'a b')).to.equal('"a b"');
    expect(formatResult('get', '1')).to.equal('"1"');
    expect(formatResult('get', 1)).to.equal('1');
    expect(formatResult('get', { x: 1 })).to.equal('{"x":1}');
    expect(formatResult('pop', [1, 'a'])).to.equal('[1,"a"]');
    expect(formatResult('get', null)).to.equal('null');
    expect(formatResult('get', false)).to.equal('false');
  });

  it('escapes quotes and newlines inside strings', () => {
    expect(formatValue('say "hi"\n')).to.equal('"say \\"hi\\"\\n"');
  });

  it('shows a missing value as null', () => {
    expect(formatValue(undefined)).to.equal('null');
  });
});

describe('formatResult', () => {
  it('shows an mset as OK and the values of an mget numbered', () => {
    expect(formatResult('mset', true)).to.equal('OK');
    expect(formatResult('mget', ['a', null, { b: 1 }])).to.equal('1) "a"\n2) null\n3) {"b":1}');
    expect(formatResult('mget', 'odd')).to.equal('"odd"');
  });

  it('shows a set as OK', () => {
    expect(formatResult('set', true)).to.equal('OK');
  });

  it('shows has as true or false', () => {
    expect(formatResult('has', true)).to.equal('true');
    expect(formatResult('has', false)).to.equal('false');
  });

  it('shows ping as its word', () => {
    expect(formatResult('ping', 'pong')).to.equal('pong');
  });

  it('numbers keys, quoted as JSON', () => {
    expect(formatResult('list_keys', ['a', 'two words'])).to.equal('1) "a"\n2) "two words"');
  });

  it('right-aligns the numbers from the tenth key on', () => {
    const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
    const lines = formatResult('list_keys', keys).split('\n');
    expect(lines[0]).to.equal(' 1) "k0"');
    expect(lines[9]).to.equal('10) "k9"');
  });

  it('says (empty) for no keys', () => {
    expect(formatResult('list_keys', [])).to.equal('(empty)');
  });

  it('shows a page of keys with its cursor, or the end of the listing', () => {
    expect(formatResult('list_keys', { keys: ['a', 'b'], cursor: 'b' })).to.equal(
      '1) "a"\n2) "b"\ncursor: "b"',
    );
    expect(formatResult('list_keys', { keys: ['c'], cursor: null })).to.equal('1) "c"\n(end of the listing)');
    expect(formatKeyPage({ keys: [], cursor: 'x"y' }, { prefix: 'p', limit: 5 })).to.equal(
      '(empty)\ncursor: "x\\"y" (next page: list_keys "p" 5 "x\\"y")',
    );
    expect(formatKeyPage({ keys: ['k'], cursor: 'k' }, { limit: 1 })).to.equal(
      '1) "k"\ncursor: "k" (next page: list_keys "" 1 "k")',
    );
  });

  it('shows a result of an unexpected shape as JSON', () => {
    expect(formatResult('list_keys', { keys: [] })).to.equal('{"keys":[]}');
    expect(formatResult('stats', 'up')).to.equal('"up"');
    expect(formatResult('set', false)).to.equal('false');
  });

  it('dispatches list_members, locate and stats to their formats', () => {
    expect(formatResult('list_members', [])).to.equal('(empty)');
    expect(formatResult('locate', ['a:1'])).to.equal('1) a:1 (primary)');
    expect(formatResult('stats', { keys: 1 })).to.equal('keys: 1');
  });
});

describe('formatMembers', () => {
  it('lines up the statuses after the longest address', () => {
    expect(
      formatMembers([
        { address: '127.0.0.1:5878', status: 'alive' },
        { address: '10.0.0.7:5878', status: 'suspect' },
      ]),
    ).to.equal('127.0.0.1:5878  alive\n10.0.0.7:5878   suspect');
  });

  it('says which members have never answered', () => {
    expect(
      formatMembers([
        { address: '127.0.0.1:5878', status: 'alive', phase: 'normal' },
        { address: '127.0.0.1:5899', status: 'dead', answered: false },
      ]),
    ).to.equal('127.0.0.1:5878  alive\n127.0.0.1:5899  dead (never answered)');
  });
});

describe('formatReplicas', () => {
  it('numbers the replicas and marks the first as the primary', () => {
    expect(formatReplicas(['a:1', 'b:2', 'c:3'])).to.equal('1) a:1 (primary)\n2) b:2\n3) c:3');
  });

  it('says (empty) for no replicas', () => {
    expect(formatReplicas([])).to.equal('(empty)');
  });
});

describe('formatStats', () => {
  it('lines up the values and shows the uptime as a duration too', () => {
    expect(formatStats({ address: '127.0.0.1:5878', keys: 2, uptimeMs: 61_000, version: '0.1.0' })).to.equal(
      ['address:  127.0.0.1:5878', 'keys:     2', 'uptimeMs: 61000 (1m 1s)', 'version:  0.1.0'].join('\n'),
    );
  });

  it('shows the replication in force, and the factor a change under way moves to', () => {
    expect(formatStats({ replication: { replicas: 2 } })).to.equal('replication: 2');
    expect(formatStats({ replication: { replicas: 2, target: 3 } })).to.equal(
      'replication: 2 (changing to 3)',
    );
  });

  it('flattens nested counters to dotted names, lined up, with bytes in units', () => {
    const stats = {
      keys: 7,
      memory: { rss: 75_497_472, heapUsed: 512 },
      handoff: { joining: [], leaving: ['127.0.0.1:5880'], segments: { pending: 2, done: 1 } },
      requests: { total: 6409, totalMs: 2_500, coordinated: { replica: 3, other: 1 } },
    };
    expect(formatStats(stats).split('\n')).to.deep.equal([
      'keys:                         7',
      'memory.rss:                   75497472 (72.0 MiB)',
      'memory.heapUsed:              512',
      'handoff.joining:              (none)',
      'handoff.leaving:              127.0.0.1:5880',
      'handoff.segments.pending:     2',
      'handoff.segments.done:        1',
      'requests.total:               6409',
      'requests.totalMs:             2500 (2s)',
      'requests.coordinated.replica: 3',
      'requests.coordinated.other:   1',
    ]);
  });

  it('says a byte rate per second', () => {
    expect(formatStats({ handoff: { bytesFetched: 4_194_304, bytesPerSecond: 2_097_152 } })).to.equal(
      'handoff.bytesFetched:   4194304 (4.0 MiB)\nhandoff.bytesPerSecond: 2097152 (2.0 MiB/s)',
    );
  });

  it("says replicas once: the factor in force, with the cluster's when the member count caps it", () => {
    expect(formatStats({ replicas: 2, replication: { replicas: 2 } })).to.equal('replicas: 2');
    expect(formatStats({ members: 1, replicas: 1, replication: { replicas: 3 } })).to.equal(
      "members:  1\nreplicas: 1 (the cluster's factor is 3, capped at the member count)",
    );
    expect(formatStats({ replicas: 2, replication: { replicas: 2, target: 3 } })).to.equal(
      'replicas: 2 (changing to 3)',
    );
  });
});

describe('formatDuration', () => {
  it('reads in the largest units that apply', () => {
    expect(formatDuration(450)).to.equal('450 ms');
    expect(formatDuration(5_000)).to.equal('5s');
    expect(formatDuration(3_600_000)).to.equal('1h 0m 0s');
    expect(formatDuration(90_061_000)).to.equal('1d 1h 1m 1s');
  });
});

describe('formatError', () => {
  it('shows a KVError as (error) Name: message', () => {
    expect(formatError(new TimeoutError('get to a:1 timed out after 5000 ms'))).to.equal(
      '(error) TimeoutError: get to a:1 timed out after 5000 ms',
    );
    expect(formatError(new ConnectionError('cannot reach kvdb'))).to.equal(
      '(error) ConnectionError: cannot reach kvdb',
    );
  });

  it('shows a shell error without a class name', () => {
    expect(formatError(new UsageError('usage: set KEY VALUE'))).to.equal('(error) usage: set KEY VALUE');
  });

  it('shows something thrown that is not an Error', () => {
    expect(formatError('boom')).to.equal('(error) boom');
  });

  it('spells out what a quorum failure required, got and which replicas failed', () => {
    const failure: QuorumFailure = {
      operation: 'set',
      key: 'a',
      required: 2,
      acked: 1,
      replicas: ['10.0.0.1:5878', '10.0.0.22:5878', '10.0.0.3:5878'],
      failed: [
        { replica: '10.0.0.22:5878', reason: 'connection refused' },
        { replica: '10.0.0.3:5878', reason: 'timed out' },
      ],
      timedOut: false,
    };
    const error = QuorumNotReachedError.fromFailure(failure);
    expect(formatError(error).split('\n')).to.deep.equal([
      `(error) QuorumNotReachedError: ${error.message}`,
      '  required 2 of 3 replicas, 1 acked',
      '  10.0.0.22:5878  failed: connection refused',
      '  10.0.0.3:5878   failed: timed out',
    ]);
  });

  it('says when a quorum failure timed out', () => {
    const error = QuorumNotReachedError.fromFailure({
      operation: 'get',
      required: 3,
      acked: 2,
      replicas: ['a:1', 'b:2', 'c:3'],
      failed: [],
      timedOut: true,
    });
    expect(formatError(error).split('\n')[1]).to.equal(
      '  required 3 of 3 replicas, 2 acked before the timeout',
    );
  });

  it('lists the keys a failed mget or mset names, ten at most', () => {
    const failedKeys = Array.from({ length: 12 }, (_, i) => ({
      index: i * 2,
      key: i === 0 ? 'long key' : `k${i}`,
      code: 1001,
      reason: `set "k${i}" failed`,
    }));
    const data: MultiKeyFailure = { operation: 'mset', keys: 24, failedKeys };
    const error = new QuorumNotReachedError('mset failed for 12 of 24 keys; the first: …', { data });
    const lines = formatError(error).split('\n');
    expect(lines.slice(0, 3)).to.deep.equal([
      '(error) QuorumNotReachedError: mset failed for 12 of 24 keys; the first: …',
      '  "long key"  failed: set "k0" failed',
      '  "k1"        failed: set "k1" failed',
    ]);
    expect(lines).to.have.length(12);
    expect(lines.at(-1)).to.equal('  … and 2 more');
  });

  it('shows a quorum failure without data as one line', () => {
    expect(formatError(new QuorumNotReachedError('no quorum'))).to.equal(
      '(error) QuorumNotReachedError: no quorum',
    );
  });
});
