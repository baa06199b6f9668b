import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnavailableError } from '@kvdb/core';
import { storeCompliance } from '@kvdb/core/store-compliance';
import { expect } from 'chai';
import { DataDirError, DiskStore } from '../src/disk-store.js';

const identity = { cluster: 'test', address: '127.0.0.1:5878' };
const dirs: string[] = [];
const freshDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'kvdb-disk-'));
  dirs.push(dir);
  return dir;
};

after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

storeCompliance('DiskStore', () => DiskStore.open(freshDir(), identity));

describe('DiskStore on disk', () => {
  const v = (wall: number) => ({ wall, counter: 0, node: 'n' });

  it('keeps records, tombstones and counts across close and reopen', async () => {
    const dir = freshDir();
    const first = await DiskStore.open(dir, identity);
    await first.merge('kept', { version: v(1), value: { nested: ['a', 1, null] } });
    await first.merge('popped', { version: v(1), value: 'x' });
    await first.merge('popped', { version: v(2), deleted: true });
    await first.close();

    const second = await DiskStore.open(dir, identity);
    try {
      expect(await second.get('kept')).to.deep.equal({ version: v(1), value: { nested: ['a', 1, null] } });
      expect(await second.get('popped')).to.deep.equal({ version: v(2), deleted: true });
      expect(await second.counts()).to.deep.equal({ live: 1, tombstones: 1 });
      expect((await second.merge('popped', { version: v(1), value: 'stale' })).applied).to.equal(false);
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
    await first.merge('kept', { version: v(1), value: 'before' });
    await first.put('127.0.0.1:5879', 'hinted', { version: v(1), value: 'hint' });
    await first.close();
    const refused = [
      first.merge('kept', { version: v(2), value: 'after' }),
      first.merge('new', { version: v(2), value: 'after' }),
      first.remove('kept', v(1)),
      first.put('127.0.0.1:5879', 'hinted', { version: v(2), value: 'after' }),
      first.delete('127.0.0.1:5879', 'hinted'),
    ].map((call) =>
      call.then(
        () => 'written',
        (error: unknown) => error,
      ),
    );
    for (const outcome of await Promise.all(refused)) expect(outcome).to.be.instanceOf(UnavailableError);
    expect(() => [...first.load()]).to.throw(UnavailableError);
    // lmdb-js would end the process from a callback of its own a turn after a write to a closed environment.
    await new Promise((resolve) => setImmediate(resolve));

    const second = await DiskStore.open(dir, identity);
    try {
      expect(await second.get('kept')).to.deep.equal({ version: v(1), value: 'before' });
      expect(await second.get('new')).to.equal(undefined);
      expect([...second.load()]).to.deep.equal([
        ['127.0.0.1:5879', 'hinted', { version: v(1), value: 'hint' }],
      ]);
    } finally {
      await second.close();
    }
  });

  it('keeps hints across close and reopen, and forgets delivered ones', async () => {
    const dir = freshDir();
    const first = await DiskStore.open(dir, identity);
    await first.put('127.0.0.1:5879', 'a key', { version: v(3), value: 1 });
    await first.put('127.0.0.1:5879', 'gone', { version: v(3), deleted: true });
    await first.put('127.0.0.1:5880', 'a key', { version: v(4), value: 2 });
    await first.delete('127.0.0.1:5879', 'gone');
    await first.close();

    const second = await DiskStore.open(dir, identity);
    try {
      expect([...second.load()]).to.have.deep.members([
        ['127.0.0.1:5879', 'a key', { version: v(3), value: 1 }],
        ['127.0.0.1:5880', 'a key', { version: v(4), value: 2 }],
      ]);
      expect(await second.counts()).to.deep.equal({ live: 0, tombstones: 0 });
    } finally {
      await second.close();
    }
  });
});
