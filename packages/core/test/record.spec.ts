import { expect } from 'chai';
import { MAX_TTL_SECONDS } from '../src/constants.js';
import { toJsonText } from '../src/json-text.js';
import {
  headOf,
  isDeletedAt,
  isExpired,
  isLive,
  isRecord,
  isTombstone,
  isTtl,
  type JsonValue,
  type KVRecord,
  liveRecord,
  newerRecord,
  supersedes,
  timeToLive,
  ttlMs,
} from '../src/record.js';
import type { Version } from '../src/version.js';

const v = (wall: number, counter = 0, node = 'n1'): Version => ({ wall, counter, node });
const live = (version: Version, value: JsonValue = 'x'): KVRecord => ({ version, value: toJsonText(value) });
const tombstone = (version: Version): KVRecord => ({ version, deleted: true });

describe('records', () => {
  describe('isTombstone', () => {
    it('is true for a tombstone', () => {
      expect(isTombstone(tombstone(v(1)))).to.equal(true);
    });

    it('is false for live records, including a null value', () => {
      expect(isTombstone(live(v(1), 'x'))).to.equal(false);
      expect(isTombstone(live(v(1), null))).to.equal(false);
      expect(isTombstone(live(v(1), false))).to.equal(false);
    });
  });

  describe('newerRecord', () => {
    const older = live(v(1), 'old');
    const newer = live(v(2), 'new');

    it('picks the record with the higher version, in either order', () => {
      expect(newerRecord(older, newer)).to.equal(newer);
      expect(newerRecord(newer, older)).to.equal(newer);
    });

    it('compares tombstones by version like any record', () => {
      const deleted = tombstone(v(3));
      expect(newerRecord(newer, deleted)).to.equal(deleted);
      expect(newerRecord(deleted, newer)).to.equal(deleted);
      expect(newerRecord(tombstone(v(1)), newer)).to.equal(newer);
    });

    it('breaks wall ties by counter, then node', () => {
      const a = live(v(5, 1, 'z'));
      const b = live(v(5, 2, 'a'));
      expect(newerRecord(a, b)).to.equal(b);
      const c = live(v(5, 2, 'b'));
      expect(newerRecord(c, b)).to.equal(c);
    });

    it('keeps the first on a tie', () => {
      const a = live(v(5), 'a');
      const b = live(v(5), 'b');
      expect(newerRecord(a, b)).to.equal(a);
      expect(newerRecord(b, a)).to.equal(b);
    });

    it('returns whichever exists when one is missing', () => {
      expect(newerRecord(undefined, older)).to.equal(older);
      expect(newerRecord(older, undefined)).to.equal(older);
      expect(newerRecord(undefined, undefined)).to.equal(undefined);
    });
  });

  describe('supersedes', () => {
    it('is true over nothing', () => {
      expect(supersedes(live(v(1)), undefined)).to.equal(true);
      expect(supersedes(tombstone(v(1)), undefined)).to.equal(true);
    });

    it('is true only for a strictly newer version', () => {
      expect(supersedes(live(v(2)), live(v(1)))).to.equal(true);
      expect(supersedes(live(v(1)), live(v(2)))).to.equal(false);
      expect(supersedes(tombstone(v(2)), live(v(1)))).to.equal(true);
      expect(supersedes(live(v(1)), tombstone(v(2)))).to.equal(false);
      expect(supersedes(live(v(2)), tombstone(v(1)))).to.equal(true);
    });

    it('is false for an equal version, even with a different value', () => {
      expect(supersedes(live(v(1, 3, 'n')), live(v(1, 3, 'n')))).to.equal(false);
      expect(supersedes(live(v(1, 3, 'n'), 'other'), live(v(1, 3, 'n'), 'x'))).to.equal(false);
      expect(supersedes(tombstone(v(1, 3, 'n')), live(v(1, 3, 'n')))).to.equal(false);
    });
  });

  describe('isRecord', () => {
    const version = v(1_700_000_000_000, 2, '10.0.0.1:5878');

    const good: Array<[string, unknown]> = [
      ['a live record', { version, value: 'x' }],
      ['a live record with value null', { version, value: 'null' }],
      ['a live record with value false', { version, value: 'false' }],
      ['a live record with value 0', { version, value: '0' }],
      ['a live record with an object value', { version, value: '{"a": [1, {"b": null}]}' }],
      ['a tombstone', { version, deleted: true }],
      ['a live record with an expiry', { version, value: 'x', expires: 1_700_000_001_000 }],
      ['a live record expiring at 1 ms', { version, value: 'x', expires: 1 }],
    ];
    for (const [what, input] of good) {
      it(`accepts ${what}`, () => {
        expect(isRecord(input)).to.equal(true);
      });
    }

    it('accepts a record parsed from JSON', () => {
      expect(isRecord(JSON.parse(JSON.stringify({ version, value: 'null' })))).to.equal(true);
      expect(isRecord(JSON.parse(JSON.stringify({ version, deleted: true })))).to.equal(true);
    });

    const bad: Array<[string, unknown]> = [
      ['null', null],
      ['undefined', undefined],
      ['a string', 'record'],
      ['a number', 1],
      ['an array', [version, 'x']],
      ['an empty object', {}],
      ['a missing version', { value: 'x' }],
      ['a malformed version', { version: { wall: -1, counter: 0, node: 'n' }, value: 'x' }],
      ['a version that is a string', { version: '1.0@n', value: 'x' }],
      ['a version with no value and no deleted', { version }],
      ['a value that is not text', { version, value: 0 }],
      ['a value of null', { version, value: null }],
      ['a value that is an object', { version, value: { a: 1 } }],
      ['an empty value', { version, value: '' }],
      ['deleted: false with no value', { version, deleted: false }],
      ['deleted: false with a value', { version, deleted: false, value: 'x' }],
      ['deleted: "true"', { version, deleted: 'true' }],
      ['deleted: 1', { version, deleted: 1 }],
      ['an expiry of 0', { version, value: 'x', expires: 0 }],
      ['a negative expiry', { version, value: 'x', expires: -5 }],
      ['a fractional expiry', { version, value: 'x', expires: 1.5 }],
      ['an expiry past the safe integers', { version, value: 'x', expires: 2 ** 53 }],
      ['an expiry that is a string', { version, value: 'x', expires: '1700000001000' }],
      ['an expiry of null', { version, value: 'x', expires: null }],
      ['a tombstone with an expiry', { version, deleted: true, expires: 1_700_000_001_000 }],
    ];
    for (const [what, input] of bad) {
      it(`rejects ${what}`, () => {
        expect(isRecord(input)).to.equal(false);
      });
    }

    it('does not take value from the prototype chain', () => {
      const inherited = Object.create({ value: 'x' }) as Record<string, unknown>;
      inherited.version = version;
      expect(isRecord(inherited)).to.equal(false);
    });
  });

  describe('expiry', () => {
    const version = v(1_000);

    it('takes a ttl of seconds above 0 up to the maximum, and nothing else', () => {
      for (const good of [0.001, 0.5, 1, 2, 86_400, MAX_TTL_SECONDS])
        expect(isTtl(good), `${good}`).to.equal(true);
      for (const bad of [
        0,
        -1,
        MAX_TTL_SECONDS + 1,
        Number.NaN,
        Number.POSITIVE_INFINITY,
        '5',
        null,
        undefined,
      ]) {
        expect(isTtl(bad), String(bad)).to.equal(false);
        if (typeof bad === 'number') expect(() => ttlMs(bad)).to.throw(RangeError, /`ttl`/);
      }
    });

    it('turns a ttl into whole ms, at least 1, and stamps the expiry from the version', () => {
      expect(ttlMs(undefined)).to.equal(undefined);
      expect(ttlMs(2)).to.equal(2_000);
      expect(ttlMs(2.3)).to.equal(2_300);
      expect(ttlMs(0.0001)).to.equal(1);
      const x = toJsonText('x');
      expect(liveRecord(x, version, 2_000)).to.deep.equal({ version, value: x, expires: 3_000 });
      expect(liveRecord(x, version)).to.deep.equal({ version, value: x });
      expect(Object.hasOwn(liveRecord(x, version), 'expires')).to.equal(false);
    });

    it('counts a record as expired from its expiry on, and as deleted then, like a tombstone', () => {
      const expiring: KVRecord = { version, value: toJsonText('x'), expires: 3_000 };
      expect([isExpired(expiring, 2_999), isExpired(expiring, 3_000)]).to.deep.equal([false, true]);
      expect([isLive(expiring, 2_999), isLive(expiring, 3_000)]).to.deep.equal([true, false]);
      expect([isDeletedAt(expiring, 2_999), isDeletedAt(expiring, 3_000)]).to.deep.equal([false, true]);
      expect(headOf(expiring)).to.deep.equal({ version, expires: 3_000 });
      expect(isDeletedAt(headOf(expiring), 3_000)).to.equal(true);
      expect(isLive(live(version), Number.MAX_SAFE_INTEGER)).to.equal(true);
      expect(isLive(tombstone(version), 0)).to.equal(false);
      expect(isDeletedAt(tombstone(version), 0)).to.equal(true);
      expect(isLive(undefined, 0)).to.equal(false);
    });

    it('answers ttl with the seconds left, null without an expiry, and no value once expired', () => {
      const expiring: KVRecord = { version, value: toJsonText('x'), expires: 3_000 };
      expect(timeToLive(expiring, 1_500)).to.deep.equal({ exists: true, ttl: 1.5 });
      expect(timeToLive(expiring, 2_999)).to.deep.equal({ exists: true, ttl: 0.001 });
      expect(timeToLive(expiring, 3_000)).to.deep.equal({ exists: false, ttl: null });
      expect(timeToLive(live(version), 5_000)).to.deep.equal({ exists: true, ttl: null });
      expect(timeToLive(tombstone(version), 0)).to.deep.equal({ exists: false, ttl: null });
      expect(timeToLive(undefined, 0)).to.deep.equal({ exists: false, ttl: null });
    });
  });
});
