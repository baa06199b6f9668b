import { expect } from 'chai';
import {
  isRecord,
  isTombstone,
  type JsonValue,
  type KVRecord,
  newerRecord,
  supersedes,
} from '../src/record.js';
import type { Version } from '../src/version.js';

const v = (wall: number, counter = 0, node = 'n1'): Version => ({ wall, counter, node });
const live = (version: Version, value: JsonValue = 'x'): KVRecord => ({ version, value });
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
      ['a live record with value null', { version, value: null }],
      ['a live record with value false', { version, value: false }],
      ['a live record with value 0', { version, value: 0 }],
      ['a live record with an object value', { version, value: { a: [1, { b: null }] } }],
      ['a tombstone', { version, deleted: true }],
    ];
    for (const [what, input] of good) {
      it(`accepts ${what}`, () => {
        expect(isRecord(input)).to.equal(true);
      });
    }

    it('accepts a record parsed from JSON', () => {
      expect(isRecord(JSON.parse(JSON.stringify({ version, value: null })))).to.equal(true);
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
      ['deleted: false with no value', { version, deleted: false }],
      ['deleted: false with a value', { version, deleted: false, value: 'x' }],
      ['deleted: "true"', { version, deleted: 'true' }],
      ['deleted: 1', { version, deleted: 1 }],
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
});
