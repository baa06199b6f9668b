import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataDirError, toJsonText, UnavailableError } from '@kvdb/core';
import { storeCompliance } from '@kvdb/core/testing';
import { expect } from 'chai';
import sinon from 'sinon';
import { DiskStore } from '../src/disk-store.js';
import { freshDir, holdBatches, identity, levelOf, spyBatches, turns, turnsUntil, v } from './utils.js';

storeCompliance('DiskStore', () => DiskStore.open(freshDir(), identity));

describe('DiskStore on disk', () => {
  it('keeps records, tombstones, expiries and counts across close and reopen', async () => {
    const dir = freshDir();
    const first = await DiskStore.open(dir, identity);
    await first.merge('kept', { version: v(1), value: toJsonText({ nested: ['a', 1, null] }) });
    await first.merge('expiring', { version: v(1), value: toJsonText('soon'), expires: 5_000 });
    await first.merge('popped', { version: v(1), value: toJsonText('x') });
    await first.merge('popped', { version: v(2), deleted: true });
    await first.close();

    const second = await DiskStore.open(dir, identity);
    try {
      expect(await second.get('kept')).to.deep.equal({
        version: v(1),
        value: toJsonText({ nested: ['a', 1, null] }),
      });
      expect(await second.get('popped')).to.deep.equal({ version: v(2), deleted: true });
      expect(await second.get('expiring')).to.deep.equal({
        version: v(1),
        value: toJsonText('soon'),
        expires: 5_000,
      });
      expect(second.headSync('expiring')).to.deep.equal({ version: v(1), expires: 5_000 });
      expect(await second.counts()).to.deep.equal({ live: 2, tombstones: 1 });
      expect(second.loaded).to.include({ records: 3, hints: 0 });
      expect((await second.merge('popped', { version: v(1), value: toJsonText('stale') })).applied).to.equal(
        false,
      );
    } finally {
      await second.close();
    }
  });

  it('refuses a data dir written by another cluster or another address, naming both', async () => {
    const dir = freshDir();
    await (await DiskStore.open(dir, identity)).close();
    const otherCluster = await DiskStore.open(dir, { ...identity, cluster: 'other' }).catch(
      (e: unknown) => e,
    );
    expect(otherCluster).to.be.instanceOf(DataDirError);
    expect((otherCluster as Error).message)
      .to.contain('"test"')
      .and.contain('"other"');
    const otherAddress = await DiskStore.open(dir, { ...identity, address: '127.0.0.1:5999' }).catch(
      (e: unknown) => e,
    );
    expect(otherAddress).to.be.instanceOf(DataDirError);
    expect((otherAddress as Error).message)
      .to.contain('127.0.0.1:5878')
      .and.contain('127.0.0.1:5999');
    const reopened = await DiskStore.open(dir, identity);
    await reopened.close();
  });

  it('after close, refuses writes of records and hints without ending the process, and keeps what it had', async () => {
    const dir = freshDir();
    const first = await DiskStore.open(dir, identity);
    await first.merge('kept', { version: v(1), value: toJsonText('before') });
    await first.put('127.0.0.1:5879', 'hinted', { version: v(1), value: toJsonText('hint') });
    await first.close();
    const refused = [
      first.merge('kept', { version: v(2), value: toJsonText('after') }),
      first.merge('new', { version: v(2), value: toJsonText('after') }),
      first.remove('kept', v(1)),
      first.put('127.0.0.1:5879', 'hinted', { version: v(2), value: toJsonText('after') }),
      first.delete('127.0.0.1:5879', 'hinted'),
    ].map((call) =>
      call.then(
        () => 'written',
        (error: unknown) => error,
      ),
    );
    for (const outcome of await Promise.all(refused)) expect(outcome).to.be.instanceOf(UnavailableError);
    expect(() => [...first.load()]).to.throw(UnavailableError);
    // A write reaching a closed LevelDB would fail a turn later; nothing may be left to do so.
    await turns(1);

    const second = await DiskStore.open(dir, identity);
    try {
      expect(await second.get('kept')).to.deep.equal({ version: v(1), value: toJsonText('before') });
      expect(await second.get('new')).to.equal(undefined);
      expect([...second.load()]).to.deep.equal([
        ['127.0.0.1:5879', 'hinted', { version: v(1), value: toJsonText('hint') }],
      ]);
    } finally {
      await second.close();
    }
  });

  it('keeps hints across close and reopen, and forgets delivered ones', async () => {
    const dir = freshDir();
    const first = await DiskStore.open(dir, identity);
    await first.put('127.0.0.1:5879', 'a key', { version: v(3), value: toJsonText(1) });
    await first.put('127.0.0.1:5879', 'gone', { version: v(3), deleted: true });
    await first.put('127.0.0.1:5880', 'a key', { version: v(4), value: toJsonText(2), expires: 9 });
    await first.delete('127.0.0.1:5879', 'gone');
    await first.close();

    const second = await DiskStore.open(dir, identity);
    try {
      expect([...second.load()]).to.have.deep.members([
        ['127.0.0.1:5879', 'a key', { version: v(3), value: toJsonText(1) }],
        ['127.0.0.1:5880', 'a key', { version: v(4), value: toJsonText(2), expires: 9 }],
      ]);
      expect(await second.counts()).to.deep.equal({ live: 0, tombstones: 0 });
      expect(second.loaded).to.include({ records: 0, hints: 2 });
    } finally {
      await second.close();
    }
  });

  it('keeps the last range fetch progress stored across close and reopen, and has none at first', async () => {
    const dir = freshDir();
    const first = await DiskStore.open(dir, identity);
    expect(first.loadFill()).to.equal(undefined);
    await first.saveFill({ fill: 'ring-a', from: [[3, ['10.0.0.1:5878']]], cut: [] });
    const last = {
      fill: 'ring-b',
      from: [[0, ['10.0.0.1:5878', '10.0.0.2:5878']]] as Array<[number, string[]]>,
      cut: [['10.0.0.3:5878', [0, 7], 'key:41']] as Array<[string, number[], string]>,
    };
    await first.saveFill(last);
    await first.close();

    const second = await DiskStore.open(dir, identity);
    try {
      expect(second.loadFill()).to.deep.equal(last);
      expect(await second.counts()).to.deep.equal({ live: 0, tombstones: 0 });
    } finally {
      await second.close();
    }
  });

  it("keeps serial rounds' states across close and reopen, and forgets one it is told to", async () => {
    const dir = freshDir();
    const first = await DiskStore.open(dir, identity);
    expect([...first.loadPaxos()]).to.deep.equal([]);
    const ballot = { wall: 5, counter: 1, node: '10.0.0.1:5878' };
    const kept = {
      promised: ballot,
      accepted: { ballot, record: { value: toJsonText('v'), version: ballot }, basis: null },
    };
    await first.savePaxos('k', { promised: ballot });
    await first.savePaxos('k', kept);
    await first.savePaxos('gone', { promised: ballot });
    await first.savePaxos('gone', undefined);
    await first.close();

    const second = await DiskStore.open(dir, identity);
    try {
      expect([...second.loadPaxos()]).to.deep.equal([['k', kept]]);
      expect(await second.counts(), 'no record among them').to.deep.equal({ live: 0, tombstones: 0 });
    } finally {
      await second.close();
    }
  });

  it('keeps the last replication setting stored across close and reopen, and has none at first', async () => {
    const dir = freshDir();
    const first = await DiskStore.open(dir, identity);
    expect(first.loadReplication()).to.equal(undefined);
    await first.saveReplication({ replicas: 2, target: 3, stamp: 5, by: identity.address });
    await first.saveReplication({ replicas: 3, stamp: 6, by: identity.address });
    await first.close();

    const second = await DiskStore.open(dir, identity);
    try {
      expect(second.loadReplication()).to.deep.equal({ replicas: 3, stamp: 6, by: identity.address });
      expect(await second.counts()).to.deep.equal({ live: 0, tombstones: 0 });
    } finally {
      await second.close();
    }
  });
});

describe('DiskStore commits', () => {
  let store: DiskStore;

  afterEach(async () => {
    sinon.restore();
    await store?.close();
  });

  it('commits writes made together in one LevelDB batch', async () => {
    store = await DiskStore.open(freshDir(), identity);
    const batch = spyBatches(store);
    const keys = Array.from({ length: 20 }, (_, i) => `key ${i}`);
    const results = await Promise.all(
      keys.map((key) => store.merge(key, { version: v(1), value: toJsonText(key) })),
    );
    expect(results.every((result) => result.applied)).to.equal(true);
    expect(batch.callCount).to.equal(1);
    // Each record, and its head under a key of its own.
    expect(batch.firstCall.args[0]).to.have.length(40);
  });

  it('resolves a merge that keeps nothing only once the write that beat it is committed', async () => {
    store = await DiskStore.open(freshDir(), identity);
    const { release, held } = holdBatches(store);
    const settled: string[] = [];
    const newer = store.merge('k', { version: v(2), value: toJsonText('new') }).then((result) => {
      settled.push('newer');
      return result;
    });
    const older = store.merge('k', { version: v(1), value: toJsonText('old') }).then((result) => {
      settled.push('older');
      return result;
    });
    await turnsUntil(held);
    await turns(20);
    expect(settled, 'settled before the commit').to.deep.equal([]);
    release();
    expect((await older).applied).to.equal(false);
    expect((await newer).applied).to.equal(true);
    expect(settled).to.have.members(['newer', 'older']);
  });

  it('fsyncs each commit before it resolves with fsyncIntervalMs 0', async () => {
    store = await DiskStore.open(freshDir(), identity, { fsyncIntervalMs: 0 });
    const batch = spyBatches(store);
    await store.merge('a', { version: v(1), value: toJsonText(1) });
    await store.merge('b', { version: v(1), value: toJsonText(2) });
    expect(batch.args.map((args) => args[1])).to.deep.equal([{ sync: true }, { sync: true }]);
  });

  it('fsyncs within fsyncIntervalMs of a commit, with a commit of its own when no other comes', async () => {
    store = await DiskStore.open(freshDir(), identity, { fsyncIntervalMs: 1_000 });
    const clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const batch = spyBatches(store);
    const sync = () => batch.args.map(([, options]) => options.sync);
    const keysOf = (call: number) => batch.getCall(call).args[0].map((operation) => operation.key);
    await store.merge('a', { version: v(1), value: toJsonText(1) });
    await store.merge('b', { version: v(1), value: toJsonText(2) });
    expect(sync()).to.deep.equal([false, false]);
    await clock.tickAsync(999);
    expect(sync(), 'flushed before the interval').to.deep.equal([false, false]);
    await clock.tickAsync(1);
    await turnsUntil(() => batch.callCount === 3);
    expect(sync()).to.deep.equal([false, false, true]);
    expect(keysOf(2)).to.deep.equal(['meta/flushed']);

    // A commit after the flush starts a new interval; when it ends with a commit waiting, that one is fsynced.
    await store.merge('c', { version: v(1), value: toJsonText(3) });
    const waiting = store.merge('e', { version: v(1), value: toJsonText(5) });
    clock.tick(1_000);
    await waiting;
    expect(sync()).to.deep.equal([false, false, true, false, true]);
    expect(keysOf(4)).to.deep.equal(['r/e', 'k/e']);
    await clock.tickAsync(5_000);
    await turns(20);
    expect(batch.callCount, 'a flush with nothing to flush').to.equal(5);
  });

  it('fsyncs at close what the interval had not', async () => {
    store = await DiskStore.open(freshDir(), identity, { fsyncIntervalMs: 60_000 });
    const put = sinon.spy(levelOf(store), 'put') as unknown as sinon.SinonSpy<[string, string, object]>;
    await store.merge('a', { version: v(1), value: toJsonText(1) });
    await store.close();
    expect(put.calledOnce).to.equal(true);
    expect(put.firstCall.args[2]).to.deep.equal({ sync: true });
  });

  it('stops at a failed commit: the writers and every later call get the cause, counts still answer', async () => {
    store = await DiskStore.open(freshDir(), identity);
    await store.merge('kept', { version: v(1), value: toJsonText('before') });
    sinon.stub(levelOf(store), 'batch').rejects(new Error('No space left on device'));
    const failed = await store
      .merge('new', { version: v(1), value: toJsonText('lost') })
      .catch((e: unknown) => e);
    expect(failed).to.be.instanceOf(UnavailableError);
    expect((failed as Error).message).to.contain('No space left on device');
    for (const call of [
      () => store.get('kept'),
      () => store.put('m', 'k', { version: v(1), value: toJsonText(1) }),
    ]) {
      const later = await call().catch((e: unknown) => e);
      expect(later).to.be.instanceOf(UnavailableError);
      expect((later as Error).message).to.contain('No space left on device');
    }
    expect(() => store.scanKeys({ limit: 10 })).to.throw(UnavailableError);
    expect(await store.counts()).to.have.keys('live', 'tombstones');
  });

  it('refuses a data dir held by another open store, and one in the LMDB format of earlier builds', async () => {
    const dir = freshDir();
    store = await DiskStore.open(dir, identity);
    const held = await DiskStore.open(dir, identity).catch((e: unknown) => e);
    expect(held).to.be.instanceOf(DataDirError);
    expect((held as Error).message)
      .to.contain(dir)
      .and.contain('in use by another kvdb-server');

    const old = freshDir();
    writeFileSync(join(old, 'data.mdb'), '');
    const lmdb = await DiskStore.open(old, identity).catch((e: unknown) => e);
    expect(lmdb).to.be.instanceOf(DataDirError);
    expect((lmdb as Error).message)
      .to.contain('format 1')
      .and.contain('empty --data-dir');
  });
});
