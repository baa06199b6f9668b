import { expect } from 'chai';
import { type JsonText, toJsonText } from '../src/json-text.js';
import { compareKeys } from '../src/keys.js';
import { MemoryStore } from '../src/memory-store.js';
import type { KVRecord } from '../src/record.js';
import { compareVersions } from '../src/version.js';
import { defined } from './defined.js';
import { storeCompliance } from './store-compliance.js';

storeCompliance('MemoryStore', () => new MemoryStore());
// The same contract with an index so small that its hash table grows and its sorted array is rebuilt every few keys.
storeCompliance('MemoryStore with a tiny index', () => new MemoryStore({ initialCells: 1, freshLimit: 2 }));

describe('MemoryStore', () => {
  it('mergeSync applies and refuses like merge', () => {
    const store = new MemoryStore();
    const node = 'n1';
    expect(
      store.mergeSync('k', { version: { wall: 2, counter: 0, node }, value: toJsonText('two') }).applied,
    ).to.equal(true);
    expect(
      store.mergeSync('k', { version: { wall: 1, counter: 0, node }, value: toJsonText('one') }).applied,
    ).to.equal(false);
    expect(store.mergeSync('k', { version: { wall: 3, counter: 0, node }, deleted: true }).applied).to.equal(
      true,
    );
  });

  it('keeps nothing across instances', async () => {
    const first = new MemoryStore();
    await first.merge('k', { version: { wall: 1, counter: 0, node: 'n1' }, value: toJsonText(1) });
    expect(await new MemoryStore().get('k')).to.equal(undefined);
  });

  it('holds 20,000 keys, a third of them removed and some added again, across chunks and rebuilds', async () => {
    const store = new MemoryStore();
    const version = (wall: number) => ({ wall, counter: 0, node: 'n1' });
    const key = (i: number) => `k${(i * 7919) % 20_000}`;
    for (let i = 0; i < 20_000; i++) store.mergeSync(key(i), { version: version(1), value: toJsonText(i) });
    for (let i = 0; i < 20_000; i += 3) expect(await store.remove(key(i), version(1)), key(i)).to.equal(true);
    for (let i = 0; i < 20_000; i += 9)
      store.mergeSync(key(i), { version: version(2), value: toJsonText(-i - 1) });
    const expected = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      if (i % 9 === 0) expected.set(key(i), -i - 1);
      else if (i % 3 !== 0) expected.set(key(i), i);
    }
    for (let i = 0; i < 20_000; i++) {
      const value = expected.get(key(i));
      expect(store.getSync(key(i)), key(i)).to.deep.equal(
        value === undefined ? undefined : { version: version(value < 0 ? 2 : 1), value: toJsonText(value) },
      );
    }
    const listed = [...store.entries()].map(([k]) => k);
    expect(listed).to.deep.equal([...expected.keys()].sort(compareKeys));
  });

  it('refuses a live record whose value is not JSON, and changes nothing', async () => {
    const store = new MemoryStore();
    const version = { wall: 1, counter: 0, node: 'n1' };
    const notJson = { version, value: undefined } as unknown as KVRecord;
    expect(() => store.mergeSync('k', notJson)).to.throw(TypeError, /not JSON/);
    expect(() => store.mergeSync('k', { version, value: '' as JsonText })).to.throw(TypeError, /not JSON/);
    expect(await store.get('k')).to.equal(undefined);
    expect(await store.counts()).to.deep.equal({ live: 0, tombstones: 0 });
  });

  it('refuses index sizes below one', () => {
    expect(() => new MemoryStore({ initialCells: 0 })).to.throw(RangeError, /initialCells/);
    expect(() => new MemoryStore({ freshLimit: 0.5 })).to.throw(RangeError, /freshLimit/);
  });

  it('ends an ordered scan when a key is added under it, and lets overwrites pass', async () => {
    const store = new MemoryStore();
    const version = (wall: number) => ({ wall, counter: 0, node: 'n1' });
    for (const key of ['a', 'b', 'c']) store.mergeSync(key, { version: version(1), value: toJsonText(key) });
    const scan = store.entries()[Symbol.iterator]();
    expect(scan.next().value?.[0]).to.equal('a');
    store.mergeSync('b', { version: version(2), value: toJsonText('b2') });
    expect(scan.next().value).to.deep.equal(['b', { version: version(2), value: toJsonText('b2') }]);
    store.mergeSync('bb', { version: version(1), value: toJsonText('new') });
    expect(() => scan.next()).to.throw(/added or removed during an ordered scan/);
  });

  for (const [what, options] of [
    ['its default sizes', {}],
    ['a tiny index', { initialCells: 2, freshLimit: 8 }],
  ] as const) {
    it(`agrees with a Map through thousands of random merges and removes, with ${what}`, async () => {
      const store = new MemoryStore(options);
      const model = new Map<string, KVRecord>();
      let seed = 12345;
      const random = (below: number) => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        return (seed >>> 8) % below;
      };
      const pool = Array.from({ length: 300 }, (_, i) => {
        if (i % 50 === 7) return `${'long'.repeat(80)}${i}`;
        if (i % 10 === 3) return `ключ:${i}`;
        return `key:${i}`;
      });
      const check = () => {
        const sorted = [...model.keys()].sort(compareKeys);
        const paged: string[] = [];
        let after: string | undefined;
        for (let page = 0; page <= sorted.length; page++) {
          const keys = store.scanKeys({ after, limit: 17 });
          if (keys.length === 0) break;
          for (const [key, version, deleted] of keys) {
            expect(version, key).to.deep.equal(model.get(key)?.version);
            expect(deleted, key).to.equal(model.get(key)?.deleted === true);
            paged.push(key);
          }
          after = defined(keys.at(-1))[0];
        }
        expect(paged).to.deep.equal(sorted);
        expect(new Map(store.entries())).to.deep.equal(model);
      };
      for (let step = 1; step <= 6000; step++) {
        const key = defined(pool[random(pool.length)]);
        const held = model.get(key);
        const roll = random(10);
        if (roll < 2 && held !== undefined) {
          // Remove with the held version, or with one that does not match (which must change nothing).
          const exact = random(2) === 0;
          const version = exact ? held.version : { ...held.version, counter: held.version.counter + 1 };
          expect(await store.remove(key, version)).to.equal(exact);
          if (exact) model.delete(key);
        } else {
          const version = { wall: random(40), counter: random(3), node: `n${random(3)}` };
          const record: KVRecord =
            roll === 9 ? { version, deleted: true } : { version, value: toJsonText({ step, key }) };
          const applies = held === undefined || compareVersions(version, held.version) > 0;
          const result = await store.merge(key, record);
          expect(result.applied, `step ${step}`).to.equal(applies);
          expect(result.previous?.version).to.deep.equal(held?.version);
          if (applies) model.set(key, record);
        }
        expect(await store.get(key)).to.deep.equal(model.get(key));
        if (step % 500 === 0) check();
      }
      const tombstones = [...model.values()].filter((record) => record.deleted === true).length;
      expect(await store.counts()).to.deep.equal({ live: model.size - tombstones, tombstones });
      check();
    });
  }
});

describe('MemoryStore keeping heads only ({ values: false })', () => {
  const version = (wall: number, counter = 0) => ({ wall, counter, node: `n${counter % 3}` });

  it('answers heads, scans, merge results, removes and counts as a store with values does', async () => {
    const full = new MemoryStore();
    const heads = new MemoryStore({ values: false, initialCells: 2, freshLimit: 4 });
    let seed = 7;
    const random = (below: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % below;
    };
    for (let step = 1; step <= 4000; step++) {
      const key = random(5) === 0 ? `ключ:${random(40)}` : `key:${random(200)}`;
      const roll = random(10);
      const held = full.headSync(key);
      if (roll < 2 && held !== undefined) {
        const exact = random(2) === 0 ? held.version : version(held.version.wall + 1);
        expect(heads.removeSync(key, exact), `step ${step}`).to.equal(full.removeSync(key, exact));
      } else {
        const at = version(random(60), random(3));
        const record: KVRecord =
          roll === 9
            ? { version: at, deleted: true }
            : {
                version: at,
                value: toJsonText('v'.repeat(random(3_000))),
                ...(roll === 8 ? { expires: 1 + random(60) } : {}),
              };
        expect(heads.mergeSync(key, record), `step ${step}`).to.deep.equal(full.mergeSync(key, record));
      }
      expect(heads.headSync(key), `step ${step}`).to.deep.equal(full.headSync(key));
    }
    for (const now of [undefined, 30]) {
      expect(heads.scanKeys({ limit: 1_000, now })).to.deep.equal(full.scanKeys({ limit: 1_000, now }));
    }
    expect(await heads.counts()).to.deep.equal(await full.counts());
  });

  it('refuses to give out a value it does not keep', async () => {
    const heads = new MemoryStore({ values: false });
    heads.mergeSync('live', { version: version(1), value: toJsonText('v') });
    heads.mergeSync('popped', { version: version(1), deleted: true });
    for (const key of ['live', 'popped']) {
      expect(() => heads.getSync(key)).to.throw(/record heads only/);
      const refused = await heads.get(key).catch((e: unknown) => e);
      expect(refused).to.be.instanceOf(Error);
    }
    expect(() => [...heads.entries()]).to.throw(/record heads only/);
    expect(heads.getSync('missing')).to.equal(undefined);
  });
});
