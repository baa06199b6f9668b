import { DataDirError, type KVRecord, toJsonText, trustJsonText } from '@kvdb/core';
import { expect } from 'chai';
import { ClassicLevel } from 'classic-level';
import sinon from 'sinon';
import { DiskStore } from '../src/disk-store.js';
import { decodeRecord, encodeRecord } from '../src/record-codec.js';
import { freshDir, holdBatches, identity, levelOf, turnsUntil, v } from './utils.js';

/** A LevelDB of its own in `dir`, as another build would open it. */
async function rawLevel(dir: string): Promise<ClassicLevel<string, string>> {
  const level = new ClassicLevel<string, string>(dir, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
  await level.open();
  return level;
}

describe('DiskStore keydir: values on disk, keys and heads in memory', () => {
  const opened: DiskStore[] = [];
  /** Opens a store in `dir`, closed after the test (closing twice is harmless). */
  const openStore = async (dir = freshDir()) => {
    const store = await DiskStore.open(dir, identity);
    opened.push(store);
    return store;
  };

  afterEach(async () => {
    sinon.restore();
    await Promise.all(opened.splice(0).map((store) => store.close()));
  });

  it('answers a read while a write is uncommitted with the new record, and after a removal with none', async () => {
    const open = await openStore();
    await open.merge('k', { version: v(1), value: toJsonText('old') });
    await open.merge('gone', { version: v(1), value: toJsonText('x') });
    const { release, held } = holdBatches(open);
    const newer: KVRecord = { version: v(2), value: toJsonText({ list: [1, 2] }), expires: 9_000 };
    const writing = open.merge('k', newer);
    const removing = open.remove('gone', v(1));
    await turnsUntil(held);
    expect(await levelOf(open).get('r/k'), 'the disk, behind').to.contain('"old"');
    const read = await open.get('k');
    expect(read).to.deep.equal(newer);
    expect(await open.get('gone')).to.equal(undefined);
    expect(open.headSync('k')).to.deep.equal({ version: v(2), expires: 9_000 });
    release();
    expect((await writing).applied).to.equal(true);
    expect(await removing).to.equal(true);
    expect(await levelOf(open).get('r/gone')).to.equal(undefined);
    expect(await open.get('k'), 'from the disk').to.deep.equal(newer);
  });

  it('serves every record after close and reopen, reading only the heads to open', async () => {
    const dir = freshDir();
    const first = await openStore(dir);
    const expected = new Map<string, KVRecord>();
    const keys = Array.from({ length: 2_500 }, (_, i) => `key:${(i * 7_919) % 2_500}`);
    await Promise.all(
      keys.map((key, i) => {
        const record: KVRecord =
          i % 7 === 0
            ? { version: v(i + 1), deleted: true }
            : {
                version: v(i + 1),
                value: toJsonText({ i, text: 'é\n'.repeat(i % 40) }),
                ...(i % 5 === 0 ? { expires: 1e13 } : {}),
              };
        expected.set(key, record);
        return first.merge(key, record);
      }),
    );
    for (const [i, key] of keys.entries()) {
      if (i % 11 !== 0) continue;
      expect(await first.remove(key, v(i + 1))).to.equal(true);
      expected.delete(key);
    }
    await first.close();

    const iterators = sinon.spy(ClassicLevel.prototype, 'iterator');
    const second = await openStore(dir);
    const read = iterators.args.map(([options]) => (options as { gte: string }).gte);
    expect(read, 'ranges read to open').to.not.include('r/');
    expect(second.loaded.records).to.equal(expected.size);
    const counts = await second.counts();
    expect(counts.live + counts.tombstones).to.equal(expected.size);
    for (const key of keys) expect(await second.get(key), key).to.deep.equal(expected.get(key));
    expect(second.scanKeys({ limit: 5_000 }).map(([key]) => key)).to.deep.equal([...expected.keys()].sort());
  });

  it('reads a data dir of format 2 (whole records, no heads of their own) and upgrades it', async () => {
    const dir = freshDir();
    // Format 2 kept values parsed: each reads back as its JSON text.
    const records: Array<[string, object, KVRecord]> = [
      [
        'live',
        { version: v(1), value: { nested: ['a\nb', 1, null] } },
        { version: v(1), value: toJsonText({ nested: ['a\nb', 1, null] }) },
      ],
      [
        'expiring',
        { version: v(2), value: 'soon', expires: 5_000 },
        { version: v(2), value: toJsonText('soon'), expires: 5_000 },
      ],
      ['popped', { version: v(3), deleted: true }, { version: v(3), deleted: true }],
    ];
    const ballot = v(6);
    const state = {
      promised: ballot,
      accepted: { ballot, record: { version: ballot, value: 'chosen' }, basis: null },
    };
    const old = await rawLevel(dir);
    await old.batch([
      { type: 'put', key: 'meta/identity', value: JSON.stringify({ ...identity, format: 2 }) },
      ...records.map(([key, record]) => ({
        type: 'put' as const,
        key: `r/${key}`,
        value: JSON.stringify(record),
      })),
      { type: 'put', key: 'h/127.0.0.1:5879\0hinted', value: JSON.stringify({ version: v(4), value: [1] }) },
      { type: 'put', key: 'p/serial', value: JSON.stringify(state) },
    ]);
    await old.close();

    const first = await openStore(dir);
    for (const [key, , record] of records) expect(await first.get(key), key).to.deep.equal(record);
    expect(first.headSync('expiring')).to.deep.equal({ version: v(2), expires: 5_000 });
    expect(await first.counts()).to.deep.equal({ live: 2, tombstones: 1 });
    expect([...first.load()]).to.deep.equal([
      ['127.0.0.1:5879', 'hinted', { version: v(4), value: toJsonText([1]) }],
    ]);
    expect([...first.loadPaxos()]).to.deep.equal([
      [
        'serial',
        { ...state, accepted: { ...state.accepted, record: { version: ballot, value: '"chosen"' } } },
      ],
    ]);
    await first.merge('live', { version: v(5), value: toJsonText('newer') });
    await first.close();

    const level = await rawLevel(dir);
    expect(JSON.parse((await level.get('meta/identity')) ?? '{}')).to.include({ format: 3 });
    await level.close();
    const second = await openStore(dir);
    expect(await second.get('live')).to.deep.equal({ version: v(5), value: toJsonText('newer') });
    // Opened again, the states are not converted a second time.
    expect([...second.loadPaxos()][0]?.[1].accepted?.record).to.deep.equal({
      version: ballot,
      value: '"chosen"',
    });
    expect(await second.get('popped')).to.deep.equal({ version: v(3), deleted: true });
  });

  it('refuses a data dir of a format it does not know, naming it', async () => {
    const dir = freshDir();
    const level = await rawLevel(dir);
    await level.put('meta/identity', JSON.stringify({ ...identity, format: 4 }));
    await level.close();
    const refused = await DiskStore.open(dir, identity).catch((e: unknown) => e);
    expect(refused).to.be.instanceOf(DataDirError);
    expect((refused as Error).message).to.contain('format 4');
  });
});

describe('record codec', () => {
  const records: KVRecord[] = [
    { version: v(1), value: toJsonText('line\nbreak') },
    { version: v(2), value: toJsonText({ a: [null, true, 1.5, '"q"'] }), expires: 7 },
    { version: v(3), deleted: true },
    { version: v(4), value: toJsonText('') },
    // As a client may send it: spacing and a raw line break kept.
    { version: v(5), value: trustJsonText('{ "a" :\n [1] }') },
  ];

  it('writes the head, then a newline and the value JSON, and reads both back', () => {
    for (const record of records) {
      const { head, text } = encodeRecord(record);
      expect(JSON.parse(head)).to.deep.equal(
        record.deleted
          ? record
          : { version: record.version, ...(record.expires ? { expires: record.expires } : {}) },
      );
      expect(text.startsWith(head)).to.equal(true);
      // The first line break ends the head; a value's text may hold more.
      expect(text.indexOf('\n'), JSON.stringify(record)).to.equal(record.deleted ? -1 : head.length);
      expect(decodeRecord(text)).to.deep.equal(record);
    }
  });

  it('reads whole records, as data format 2 wrote them, values parsed', () => {
    for (const record of records) {
      const old = record.deleted ? record : { ...record, value: JSON.parse(record.value) };
      expect(decodeRecord(JSON.stringify(old))).to.deep.equal(
        record.deleted ? record : { ...record, value: toJsonText(JSON.parse(record.value)) },
      );
    }
  });

  it('refuses a value that is not JSON', () => {
    expect(() => encodeRecord({ version: v(1), value: undefined as never })).to.throw(TypeError, /not JSON/);
    expect(() => encodeRecord({ version: v(1), value: '' as never })).to.throw(TypeError, /not JSON/);
  });
});
