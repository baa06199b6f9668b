import { expect } from 'chai';
import { UnavailableError } from '../src/errors.js';
import { toJsonText } from '../src/json-text.js';
import { compareKeys } from '../src/keys.js';
import type { JsonValue, KVRecord } from '../src/record.js';
import type { Store } from '../src/store.js';
import type { Version } from '../src/version.js';
import { defined } from './defined.js';

const v = (wall: number, counter = 0, node = 'n1'): Version => ({ wall, counter, node });
/** A live record holding `value` (as its JSON text, as stores hold values). */
const live = (version: Version, value: JsonValue = 'x'): KVRecord => ({ version, value: toJsonText(value) });
const tombstone = (version: Version): KVRecord => ({ version, deleted: true });

/**
 * Every record of `store` (of keys that start with `prefix`, when given), read as a node reads a whole store: keys a
 * small page at a time with `scanKeys`, each record with `get`.
 */
async function recordsOf(store: Store, prefix?: string): Promise<Map<string, KVRecord>> {
  const result = new Map<string, KVRecord>();
  const limit = 3;
  for (let after: string | undefined; ; ) {
    const page = store.scanKeys({ prefix, after, limit });
    for (const [key, version, deleted] of page) {
      expect(result.has(key), `scanKeys listed ${JSON.stringify(key)} twice`).to.equal(false);
      const record = await store.get(key);
      expect(record, `the record of ${JSON.stringify(key)}, listed`).to.not.equal(undefined);
      expect(record?.version, key).to.deep.equal(version);
      expect(record?.deleted === true, key).to.equal(deleted);
      result.set(key, record as KVRecord);
    }
    if (page.length < limit) return result;
    after = defined(page.at(-1))[0];
  }
}

/**
 * The contract every `Store` must meet. Call it from a `*.spec.ts` with a factory that gives a fresh, empty
 * store; each test closes the store it used.
 */
export function storeCompliance(name: string, create: () => Promise<Store> | Store): void {
  describe(`${name} (Store compliance)`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await create();
    });

    afterEach(async () => {
      await store.close();
    });

    it('starts empty', async () => {
      expect(await store.counts()).to.deep.equal({ live: 0, tombstones: 0 });
      expect((await recordsOf(store)).size).to.equal(0);
    });

    it('gives undefined for a missing key', async () => {
      expect(await store.get('missing')).to.equal(undefined);
      expect(store.headSync('missing')).to.equal(undefined);
    });

    it('gives the head of a record at once: its version, and whether it is a tombstone', async () => {
      await store.merge('k', live(v(1), 'a value'));
      expect(store.headSync('k')).to.deep.equal({ version: v(1) });
      await store.merge('k', tombstone(v(2)));
      expect(store.headSync('k')).to.deep.equal({ version: v(2), deleted: true });
      await store.remove('k', v(2));
      expect(store.headSync('k')).to.equal(undefined);
    });

    describe('merge', () => {
      it('applies a record for a new key', async () => {
        expect((await store.merge('k', live(v(1), 'one'))).applied).to.equal(true);
        expect(await store.get('k')).to.deep.equal(live(v(1), 'one'));
      });

      it('applies a newer version', async () => {
        await store.merge('k', live(v(1), 'one'));
        expect((await store.merge('k', live(v(2), 'two'))).applied).to.equal(true);
        expect(await store.get('k')).to.deep.equal(live(v(2), 'two'));
      });

      it('orders versions by wall, then counter, then node', async () => {
        await store.merge('k', live(v(5, 1, 'b'), 'first'));
        expect((await store.merge('k', live(v(5, 1, 'c'), 'node'))).applied).to.equal(true);
        expect((await store.merge('k', live(v(5, 2, 'a'), 'counter'))).applied).to.equal(true);
        expect((await store.merge('k', live(v(5, 1, 'z'), 'stale'))).applied).to.equal(false);
        expect((await store.merge('k', live(v(6, 0, 'a'), 'wall'))).applied).to.equal(true);
        expect(await store.get('k')).to.deep.equal(live(v(6, 0, 'a'), 'wall'));
      });

      it('refuses an older version and keeps the newest', async () => {
        await store.merge('k', live(v(2), 'two'));
        expect((await store.merge('k', live(v(1), 'one'))).applied).to.equal(false);
        expect(await store.get('k')).to.deep.equal(live(v(2), 'two'));
      });

      it('refuses an equal version, even with a different value, and keeps the first', async () => {
        await store.merge('k', live(v(2, 1, 'n'), 'first'));
        expect((await store.merge('k', live(v(2, 1, 'n'), 'second'))).applied).to.equal(false);
        expect((await store.merge('k', tombstone(v(2, 1, 'n')))).applied).to.equal(false);
        expect(await store.get('k')).to.deep.equal(live(v(2, 1, 'n'), 'first'));
        expect(await store.counts()).to.deep.equal({ live: 1, tombstones: 0 });
      });

      it('keeps records of different keys apart', async () => {
        await store.merge('a', live(v(1), 'a'));
        await store.merge('b', live(v(9), 'b'));
        expect((await store.merge('a', live(v(2), 'a2'))).applied).to.equal(true);
        expect(await store.get('a')).to.deep.equal(live(v(2), 'a2'));
        expect(await store.get('b')).to.deep.equal(live(v(9), 'b'));
      });

      it('keeps the newest of concurrent merges to one key', async () => {
        const walls = [7, 3, 19, 1, 12, 20, 5, 16, 9, 2, 14, 11, 18, 4, 8, 13, 6, 17, 10, 15];
        const results = await Promise.all(walls.map((wall) => store.merge('k', live(v(wall), wall))));
        expect(results.map((result) => result.applied)).to.include(true);
        expect(await store.get('k')).to.deep.equal(live(v(20), 20));
        expect(await store.counts()).to.deep.equal({ live: 1, tombstones: 0 });
      });
    });

    describe('merge results', () => {
      it('names the head of the record replaced, or none for a new key', async () => {
        expect(await store.merge('k', live(v(1), 'one'))).to.deep.equal({
          applied: true,
          previous: undefined,
        });
        expect(await store.merge('k', live(v(2), 'two'))).to.deep.equal({
          applied: true,
          previous: { version: v(1) }, // the head only: no value decoded
        });
      });

      it('names the record that stays when the merge is refused', async () => {
        await store.merge('k', tombstone(v(5)));
        expect(await store.merge('k', live(v(4), 'old'))).to.deep.equal({
          applied: false,
          previous: tombstone(v(5)),
        });
      });
    });

    describe('tombstones', () => {
      it('keeps a tombstone over a live record and counts it', async () => {
        await store.merge('k', live(v(1)));
        expect((await store.merge('k', tombstone(v(2)))).applied).to.equal(true);
        expect(await store.get('k')).to.deep.equal(tombstone(v(2)));
        expect(await store.counts()).to.deep.equal({ live: 0, tombstones: 1 });
      });

      it('keeps a tombstone for a key it never held', async () => {
        expect((await store.merge('k', tombstone(v(3)))).applied).to.equal(true);
        expect(await store.get('k')).to.deep.equal(tombstone(v(3)));
        expect(await store.counts()).to.deep.equal({ live: 0, tombstones: 1 });
      });

      it('refuses an older live record over a tombstone', async () => {
        await store.merge('k', tombstone(v(5)));
        expect((await store.merge('k', live(v(4)))).applied).to.equal(false);
        expect(await store.get('k')).to.deep.equal(tombstone(v(5)));
      });

      it('refuses an older tombstone over a live record', async () => {
        await store.merge('k', live(v(5), 'kept'));
        expect((await store.merge('k', tombstone(v(4)))).applied).to.equal(false);
        expect(await store.get('k')).to.deep.equal(live(v(5), 'kept'));
        expect(await store.counts()).to.deep.equal({ live: 1, tombstones: 0 });
      });

      it('replaces a tombstone with a newer tombstone, counting it once', async () => {
        await store.merge('k', tombstone(v(1)));
        expect((await store.merge('k', tombstone(v(2)))).applied).to.equal(true);
        expect(await store.get('k')).to.deep.equal(tombstone(v(2)));
        expect(await store.counts()).to.deep.equal({ live: 0, tombstones: 1 });
      });
    });

    describe('counts', () => {
      it('tracks live → tombstone → live on one key', async () => {
        await store.merge('k', live(v(1)));
        expect(await store.counts()).to.deep.equal({ live: 1, tombstones: 0 });
        await store.merge('k', tombstone(v(2)));
        expect(await store.counts()).to.deep.equal({ live: 0, tombstones: 1 });
        await store.merge('k', live(v(3)));
        expect(await store.counts()).to.deep.equal({ live: 1, tombstones: 0 });
      });

      it('counts a live overwrite once', async () => {
        await store.merge('k', live(v(1)));
        await store.merge('k', live(v(2)));
        await store.merge('k', live(v(3)));
        expect(await store.counts()).to.deep.equal({ live: 1, tombstones: 0 });
      });

      it('is unchanged by refused merges', async () => {
        await store.merge('a', live(v(5)));
        await store.merge('b', tombstone(v(5)));
        await store.merge('a', tombstone(v(4)));
        await store.merge('b', live(v(4)));
        await store.merge('b', tombstone(v(5)));
        expect(await store.counts()).to.deep.equal({ live: 1, tombstones: 1 });
      });

      it('counts many keys', async () => {
        for (let i = 0; i < 50; i++) await store.merge(`key-${i}`, live(v(1), i));
        for (let i = 0; i < 50; i += 5) await store.merge(`key-${i}`, tombstone(v(2)));
        expect(await store.counts()).to.deep.equal({ live: 40, tombstones: 10 });
      });
    });

    describe('remove', () => {
      it('removes a record whose version matches exactly', async () => {
        await store.merge('k', live(v(3, 1, 'n')));
        expect(await store.remove('k', v(3, 1, 'n'))).to.equal(true);
        expect(await store.get('k')).to.equal(undefined);
        expect(await store.counts()).to.deep.equal({ live: 0, tombstones: 0 });
        expect((await recordsOf(store)).has('k')).to.equal(false);
      });

      it('removes a tombstone and stops counting it', async () => {
        await store.merge('k', tombstone(v(3)));
        expect(await store.remove('k', v(3))).to.equal(true);
        expect(await store.get('k')).to.equal(undefined);
        expect(await store.counts()).to.deep.equal({ live: 0, tombstones: 0 });
      });

      it('keeps a record whose version differs in any part', async () => {
        await store.merge('k', live(v(3, 1, 'n'), 'kept'));
        for (const other of [
          v(2, 1, 'n'),
          v(4, 1, 'n'),
          v(3, 0, 'n'),
          v(3, 2, 'n'),
          v(3, 1, 'm'),
          v(3, 1, 'o'),
        ]) {
          expect(await store.remove('k', other), JSON.stringify(other)).to.equal(false);
        }
        expect(await store.get('k')).to.deep.equal(live(v(3, 1, 'n'), 'kept'));
        expect(await store.counts()).to.deep.equal({ live: 1, tombstones: 0 });
      });

      it('does not remove a record that was overwritten since', async () => {
        await store.merge('k', live(v(1), 'old'));
        await store.merge('k', live(v(2), 'new'));
        expect(await store.remove('k', v(1))).to.equal(false);
        expect(await store.get('k')).to.deep.equal(live(v(2), 'new'));
      });

      it('gives false for a missing key', async () => {
        expect(await store.remove('missing', v(1))).to.equal(false);
        expect(await store.counts()).to.deep.equal({ live: 0, tombstones: 0 });
      });

      it('lets the key be written again afterwards, even with an older version', async () => {
        await store.merge('k', live(v(5)));
        await store.remove('k', v(5));
        expect((await store.merge('k', live(v(1), 'again'))).applied).to.equal(true);
        expect(await store.get('k')).to.deep.equal(live(v(1), 'again'));
      });
    });

    describe('listing: scanKeys, then get', () => {
      it('yields every record, tombstones included', async () => {
        await store.merge('a', live(v(1), 'a'));
        await store.merge('b', tombstone(v(2)));
        await store.merge('c', live(v(3), { c: [1] }));
        await store.merge('a', live(v(4), 'a2'));
        const entries = await recordsOf(store);
        expect(entries).to.deep.equal(
          new Map<string, KVRecord>([
            ['a', live(v(4), 'a2')],
            ['b', tombstone(v(2))],
            ['c', live(v(3), { c: [1] })],
          ]),
        );
      });

      it('yields only keys that start with the prefix', async () => {
        for (const key of ['user:1', 'user:2', 'users', 'user', 'order:1', 'xuser:1', 'User:3']) {
          await store.merge(key, live(v(1), key));
        }
        await store.merge('user:3', tombstone(v(1)));
        const entries = await recordsOf(store, 'user:');
        expect([...entries.keys()].sort()).to.deep.equal(['user:1', 'user:2', 'user:3']);
        expect(entries.get('user:3')).to.deep.equal(tombstone(v(1)));
        expect((await recordsOf(store, 'nothing')).size).to.equal(0);
      });

      it('treats the prefix literally, not as a pattern', async () => {
        for (const key of ['a.b', 'axb', 'a.*', 'a%b', 'a_b']) await store.merge(key, live(v(1)));
        expect([...(await recordsOf(store, 'a.')).keys()].sort()).to.deep.equal(['a.*', 'a.b']);
        expect([...(await recordsOf(store, 'a%')).keys()]).to.deep.equal(['a%b']);
        expect([...(await recordsOf(store, 'a_')).keys()]).to.deep.equal(['a_b']);
      });

      it('yields everything for an empty prefix', async () => {
        await store.merge('a', live(v(1)));
        await store.merge('b', tombstone(v(1)));
        expect((await recordsOf(store, '')).size).to.equal(2);
      });
    });

    describe('keys', () => {
      for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
        it(`treats ${JSON.stringify(key)} as a plain key`, async () => {
          expect(await store.get(key)).to.equal(undefined);
          expect(await store.remove(key, v(1))).to.equal(false);
          expect((await store.merge(key, live(v(1), 'one'))).applied).to.equal(true);
          expect(await store.get(key)).to.deep.equal(live(v(1), 'one'));
          expect((await store.merge(key, live(v(2), 'two'))).applied).to.equal(true);
          expect(await store.get(key)).to.deep.equal(live(v(2), 'two'));
          expect(await store.get('other')).to.equal(undefined);
          expect(await store.counts()).to.deep.equal({ live: 1, tombstones: 0 });
          const entries = await recordsOf(store);
          expect([...entries.keys()]).to.deep.equal([key]);
          expect(await store.remove(key, v(2))).to.equal(true);
          expect(await store.get(key)).to.equal(undefined);
        });
      }

      it('keeps keys with separators, spaces and non-ASCII characters distinct', async () => {
        const keys = ['a/b', 'a\\b', 'a b', 'a:b', '../a', 'ключ ✓', '键', '😀', 'a\nb'];
        for (const [i, key] of keys.entries()) await store.merge(key, live(v(1), i));
        for (const [i, key] of keys.entries()) expect(await store.get(key), key).to.deep.equal(live(v(1), i));
        expect([...(await recordsOf(store)).keys()].sort()).to.deep.equal([...keys].sort());
      });
      it('keeps long, control-character, Latin-1 and wider keys in one order through overwrites and removes', async () => {
        const keys = [
          'a'.repeat(254),
          'a'.repeat(255),
          `${'a'.repeat(300)}b`,
          '\u0000',
          'a\u0000b',
          '\u00ff',
          '\u00ff\u00ff',
          'é',
          'ÿz',
          '键',
          '键a',
          '😀',
          '\uffff',
          'z',
        ];
        for (const [i, key] of keys.entries()) await store.merge(key, live(v(1), i));
        for (const [i, key] of keys.entries()) await store.merge(key, live(v(2), i * 10));
        expect(await store.counts()).to.deep.equal({ live: keys.length, tombstones: 0 });
        const sorted = [...keys].sort(compareKeys);
        expect([...(await recordsOf(store)).keys()]).to.deep.equal(sorted);
        expect(store.scanKeys({ limit: 100 }).map(([key]) => key)).to.deep.equal(sorted);
        for (const [i, key] of keys.entries())
          expect(await store.get(key), key).to.deep.equal(live(v(2), i * 10));
        for (const key of keys.filter((_, i) => i % 2 === 0))
          expect(await store.remove(key, v(2)), key).to.equal(true);
        const left = sorted.filter((key) => keys.indexOf(key) % 2 === 1);
        expect([...(await recordsOf(store)).keys()]).to.deep.equal(left);
        expect(store.scanKeys({ after: left[2], limit: 100 }).map(([key]) => key)).to.deep.equal(
          left.slice(3),
        );
        expect(await store.get(defined(keys[0]))).to.equal(undefined);
      });
    });

    describe('values', () => {
      const values: Array<[string, JsonValue]> = [
        ['null', null],
        ['true', true],
        ['false', false],
        ['zero', 0],
        ['a negative float', -12.5],
        ['a large integer', Number.MAX_SAFE_INTEGER],
        ['an empty string', ''],
        ['a unicode string', 'héllo ✓ 😀\n"quoted"'],
        ['an empty array', []],
        ['an array of every type', [null, true, 1, 'two', [3], { four: 4 }]],
        ['an empty object', {}],
        ['a nested object', { a: { b: { c: [1, { d: null }] } }, e: 'f', g: false }],
        ['an object with awkward keys', { constructor: 'c', toString: [], hasOwnProperty: null }],
        ['an object with an own "__proto__" key', JSON.parse('{"__proto__": {"a": 1}, "b": 2}') as JsonValue],
      ];
      for (const [what, value] of values) {
        it(`round-trips ${what}`, async () => {
          expect((await store.merge('k', live(v(1), value))).applied).to.equal(true);
          const record = await store.get('k');
          expect(record).to.deep.equal({ version: v(1), value: toJsonText(value) });
          expect(await store.counts()).to.deep.equal({ live: 1, tombstones: 0 });
          const entries = await recordsOf(store);
          expect(entries.get('k')).to.deep.equal({ version: v(1), value: toJsonText(value) });
        });
      }

      it('round-trips versions at the edges of the byte lengths and of the safe integers', async () => {
        const edges = [0, 1, 255, 256, 65_535, 65_536, 2 ** 48 - 1, 2 ** 48, Number.MAX_SAFE_INTEGER];
        let i = 0;
        for (const wall of edges) {
          for (const counter of [0, 255, 256, Number.MAX_SAFE_INTEGER]) {
            const record =
              i % 2 === 0
                ? live(v(wall, counter, `n${i % 3}`), i % 4 === 0 ? '' : 0)
                : tombstone(v(wall, counter));
            expect((await store.merge(`k${i}`, record)).applied).to.equal(true);
            expect(await store.get(`k${i}`), `${wall}.${counter}`).to.deep.equal(record);
            expect((await store.merge(`k${i}`, record)).previous, `${wall}.${counter}`).to.deep.equal(
              record.deleted ? { version: record.version, deleted: true } : { version: record.version },
            );
            i++;
          }
        }
        expect(await store.counts()).to.deep.equal({ live: i / 2, tombstones: i / 2 });
      });

      it('round-trips real versions from many writers', async () => {
        const writers = ['127.0.0.1:5878', '10.0.0.7:6000', 'node-ü', '[::1]:5878'];
        for (let i = 0; i < 40; i++) {
          const version = v(1_763_000_000_000 + i * 977, i * 131, writers[i % writers.length]);
          await store.merge(`k${i}`, i % 3 === 0 ? tombstone(version) : live(version, i));
        }
        for (let i = 0; i < 40; i++) {
          const version = v(1_763_000_000_000 + i * 977, i * 131, writers[i % writers.length]);
          expect(await store.get(`k${i}`)).to.deep.equal(i % 3 === 0 ? tombstone(version) : live(version, i));
        }
      });
    });

    describe('expiry', () => {
      const expiring = (version: Version, value: JsonValue, expires: number): KVRecord => ({
        version,
        value: toJsonText(value),
        expires,
      });

      it('round-trips an expiry at the edges of its byte lengths, with every kind of key and value', async () => {
        const edges = [1, 255, 256, 65_536, 1_763_000_000_000, 2 ** 48, Number.MAX_SAFE_INTEGER];
        const values: JsonValue[] = ['', 0, null, { a: [1, 'ü'] }, 'x'.repeat(300)];
        const keys = ['k', 'ключ', `long:${'é'.repeat(300)}`];
        let i = 0;
        for (const expires of edges) {
          for (const key of keys) {
            const record = expiring(v(expires % 1_000, i), values[i % values.length] ?? null, expires);
            const at = `${key}:${i++}`;
            expect((await store.merge(at, record)).applied).to.equal(true);
            expect(await store.get(at), `${at} expiring at ${expires}`).to.deep.equal(record);
            if (store.getSync !== undefined) expect(store.getSync(at)).to.deep.equal(record);
            const head = { version: record.version, expires };
            expect(store.headSync(at)).to.deep.equal(head);
            expect((await store.merge(at, record)).previous).to.deep.equal(head);
          }
        }
        const entries = await recordsOf(store);
        expect([...entries.values()].every((record) => record.expires !== undefined)).to.equal(true);
        expect(await store.counts()).to.deep.equal({ live: i, tombstones: 0 });
      });

      it('keeps the expiry of the newest version only: an overwrite without one, or a pop, drops it', async () => {
        await store.merge('k', expiring(v(1), 'a', 100));
        expect((await store.merge('k', expiring(v(0), 'older', 5_000))).applied).to.equal(false);
        expect(await store.get('k')).to.deep.equal(expiring(v(1), 'a', 100));
        await store.merge('k', live(v(2), 'b'));
        expect(await store.get('k')).to.deep.equal(live(v(2), 'b'));
        expect(store.headSync('k')).to.deep.equal({ version: v(2) });
        await store.merge('k', expiring(v(3), 'c', 200));
        const popped = await store.merge('k', tombstone(v(4)));
        expect(popped.previous).to.deep.equal({ version: v(3), expires: 200 });
        expect(await store.get('k')).to.deep.equal(tombstone(v(4)));
        expect(await store.counts()).to.deep.equal({ live: 0, tombstones: 1 });
        expect(await store.remove('k', v(4))).to.equal(true);
        await store.merge('gone', expiring(v(1), 'x', 50));
        expect(await store.remove('gone', v(1))).to.equal(true);
        expect(await store.get('gone')).to.equal(undefined);
      });

      it('lists a record that expired by `now` as deleted, and only when asked with a `now`', async () => {
        await store.merge('a:expired', expiring(v(1), 1, 1_000));
        await store.merge('b:expiring', expiring(v(1), 1, 1_001));
        await store.merge('c:forever', live(v(1), 1));
        await store.merge('d:popped', tombstone(v(1)));
        const deleted = (page: ReturnType<Store['scanKeys']>) => page.map(([key, , gone]) => [key, gone]);
        expect(deleted(store.scanKeys({ limit: 10 })), 'without now').to.deep.equal([
          ['a:expired', false],
          ['b:expiring', false],
          ['c:forever', false],
          ['d:popped', true],
        ]);
        expect(deleted(store.scanKeys({ limit: 10, now: 1_000 })), 'at 1000').to.deep.equal([
          ['a:expired', true],
          ['b:expiring', false],
          ['c:forever', false],
          ['d:popped', true],
        ]);
        expect(deleted(store.scanKeys({ prefix: 'b', limit: 10, now: 2_000 }))).to.deep.equal([
          ['b:expiring', true],
        ]);
        expect(await store.counts(), 'counted as live until collected').to.deep.equal({
          live: 3,
          tombstones: 1,
        });
      });
    });

    describe('scanKeys', () => {
      const keysOf = (page: ReturnType<Store['scanKeys']>) => page.map(([key]) => key);

      it('pages through every key in compareKeys order, tombstones included', async () => {
        const keys = Array.from({ length: 57 }, (_, i) => `key:${(i * 37) % 57}`);
        for (const [i, key] of keys.entries()) {
          await store.merge(key, i % 4 === 0 ? tombstone(v(i + 1)) : live(v(i + 1), i));
        }
        const seen: string[] = [];
        let after: string | undefined;
        for (let pages = 0; pages < 20; pages++) {
          const page = store.scanKeys({ after, limit: 10 });
          if (page.length === 0) break;
          expect(page.length).to.be.at.most(10);
          seen.push(...keysOf(page));
          after = defined(page.at(-1))[0];
        }
        expect(seen).to.deep.equal([...keys].sort(compareKeys));
        const first = store.scanKeys({ limit: 100 });
        const tombstones = first.filter(([, , deleted]) => deleted).length;
        expect(tombstones).to.equal(15);
        const [key, version, deleted] = defined(first.find(([k]) => k === keys[1]));
        expect([key, version, deleted]).to.deep.equal([keys[1], v(2), false]);
      });

      it('starts after the cursor even when the cursor key is gone', async () => {
        for (const key of ['a', 'b', 'c', 'd']) await store.merge(key, live(v(1)));
        expect(keysOf(store.scanKeys({ after: 'b', limit: 10 }))).to.deep.equal(['c', 'd']);
        expect(keysOf(store.scanKeys({ after: 'bb', limit: 10 }))).to.deep.equal(['c', 'd']);
        expect(keysOf(store.scanKeys({ after: 'd', limit: 10 }))).to.deep.equal([]);
        expect(keysOf(store.scanKeys({ after: '', limit: 2 }))).to.deep.equal(['a', 'b']);
      });

      it('keeps to the prefix, before, at and after the cursor', async () => {
        for (const key of ['user', 'user:1', 'user:2', 'user:3', 'users', 'usa', 'zed', 'User:1']) {
          await store.merge(key, live(v(1)));
        }
        expect(keysOf(store.scanKeys({ prefix: 'user:', limit: 10 }))).to.deep.equal([
          'user:1',
          'user:2',
          'user:3',
        ]);
        expect(keysOf(store.scanKeys({ prefix: 'user:', after: 'user:1', limit: 1 }))).to.deep.equal([
          'user:2',
        ]);
        expect(keysOf(store.scanKeys({ prefix: 'user:', after: 'a', limit: 10 }))).to.have.length(3);
        expect(keysOf(store.scanKeys({ prefix: 'user:', after: 'user:3', limit: 10 }))).to.deep.equal([]);
        expect(keysOf(store.scanKeys({ prefix: 'user:', after: 'zzz', limit: 10 }))).to.deep.equal([]);
        expect(keysOf(store.scanKeys({ prefix: 'nothing', limit: 10 }))).to.deep.equal([]);
      });

      it('orders by code point, as UTF-8 bytes sort', async () => {
        const keys = ['\uffff', '😀', '\ue000', 'z', 'é', 'a', '\u{10ffff}'];
        for (const key of keys) await store.merge(key, live(v(1)));
        const listed = keysOf(store.scanKeys({ limit: 100 }));
        expect(listed).to.deep.equal(['a', 'z', 'é', '\ue000', '\uffff', '😀', '\u{10ffff}']);
        const bytes = listed.map((key) => Buffer.from(key, 'utf8'));
        for (let i = 1; i < bytes.length; i++)
          expect(Buffer.compare(defined(bytes[i - 1]), defined(bytes[i]))).to.equal(-1);
      });
    });

    describe('close', () => {
      it('finishes a merge made before it, then refuses every read, write and scan', async () => {
        await store.merge('kept', live(v(1)));
        const before = store.merge('late', live(v(2)));
        expect(store.isOpen?.(), 'open before the close').to.not.equal(false);
        await store.close();
        expect(store.isOpen?.(), 'open after the close').to.not.equal(true);
        expect((await before).applied).to.equal(true);
        const calls: Array<[string, () => Promise<unknown>]> = [
          ['get', () => store.get('kept')],
          ['merge', () => store.merge('kept', live(v(3)))],
          ['remove', () => store.remove('kept', v(1))],
        ];
        for (const [name, call] of calls) {
          const error = await call().then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(error, name).to.be.instanceOf(UnavailableError);
          expect((error as Error).message, name).to.contain('closed');
        }
        expect(() => store.scanKeys({ limit: 10 })).to.throw(UnavailableError);
        await store.close();
      });
    });
  });
}
