import { expect } from 'chai';
import {
  compareVersions,
  formatVersion,
  HybridClock,
  isVersion,
  parseSession,
  parseStamp,
  type Version,
} from '../src/version.js';
import { defined } from './defined.js';

const v = (wall: number, counter: number, node: string): Version => ({ wall, counter, node });

describe('versions', () => {
  describe('compareVersions', () => {
    it('orders by wall first', () => {
      expect(compareVersions(v(1, 9, 'z'), v(2, 0, 'a'))).to.equal(-1);
      expect(compareVersions(v(2, 0, 'a'), v(1, 9, 'z'))).to.equal(1);
    });

    it('orders by counter when walls are equal', () => {
      expect(compareVersions(v(5, 1, 'z'), v(5, 2, 'a'))).to.equal(-1);
      expect(compareVersions(v(5, 2, 'a'), v(5, 1, 'z'))).to.equal(1);
    });

    it('orders by node when walls and counters are equal', () => {
      expect(compareVersions(v(5, 1, 'a'), v(5, 1, 'b'))).to.equal(-1);
      expect(compareVersions(v(5, 1, 'b'), v(5, 1, 'a'))).to.equal(1);
      expect(compareVersions(v(5, 1, '10.0.0.1:5878'), v(5, 1, '10.0.0.1:5879'))).to.equal(-1);
    });

    it('gives 0 only for equal versions', () => {
      expect(compareVersions(v(5, 1, 'a'), v(5, 1, 'a'))).to.equal(0);
      expect(compareVersions(v(0, 0, 'a'), v(0, 0, 'a'))).to.equal(0);
    });

    it('is a total order: sorting is the same whatever the input order', () => {
      const sorted = [v(1, 0, 'a'), v(1, 0, 'b'), v(1, 1, 'a'), v(2, 0, 'a'), v(2, 3, 'c'), v(10, 0, 'a')];
      const reversed = [...sorted].reverse().sort(compareVersions);
      expect(reversed).to.deep.equal(sorted);
      for (let i = 0; i < sorted.length; i++) {
        for (let j = 0; j < sorted.length; j++) {
          expect(compareVersions(defined(sorted[i]), defined(sorted[j])), `${i} vs ${j}`).to.equal(
            Math.sign(i - j),
          );
        }
      }
    });
  });

  describe('formatVersion', () => {
    it('writes wall.counter@node', () => {
      expect(formatVersion(v(1700000000000, 3, '10.0.0.1:5878'))).to.equal('1700000000000.3@10.0.0.1:5878');
    });
  });

  describe('parseStamp', () => {
    it('reads back what formatVersion writes, and nothing else', () => {
      const version = { wall: 1_733_486_400_000, counter: 12, node: 'c0a1b2c3d4e5f' };
      expect(parseStamp(formatVersion(version))).to.deep.equal(version);
      expect(parseStamp('1.0@app-1.eu_west~2')).to.deep.equal({
        wall: 1,
        counter: 0,
        node: 'app-1.eu_west~2',
      });
      // A member's address (a node's own versions name it) is no writer id.
      for (const text of ['1.0@127.0.0.1:5878', '1.0@[::1]:5878', '1.0@a@b'])
        expect(parseStamp(text), text).to.equal(undefined);
      for (const text of ['', '1.0', '1@a', '1.0@', '-1.0@a', '1.0@a b', '99999999999999999.0@a', '1.0@a\n'])
        expect(parseStamp(text), text).to.equal(undefined);
      // A counter a node's clock could not count on from: it would give two writes one version.
      expect(parseStamp(`1.${2 ** 32 - 1}@a`)).to.deep.equal({ wall: 1, counter: 2 ** 32 - 1, node: 'a' });
      expect(parseStamp(`1.${2 ** 32}@a`)).to.equal(undefined);
      expect(parseStamp(`1.${Number.MAX_SAFE_INTEGER}@a`)).to.equal(undefined);
    });

    it('holds session tokens to the same counter', () => {
      expect(parseSession(`1.${2 ** 32 - 1}`)).to.deep.equal({ wall: 1, counter: 2 ** 32 - 1, node: '' });
      expect(parseSession(`1.${2 ** 32}`)).to.equal(undefined);
    });
  });

  describe('HybridClock', () => {
    it('stamps versions with its node and the physical time when time moves forward', () => {
      let time = 1_000;
      const clock = new HybridClock('n1', () => time);
      expect(clock.now()).to.deep.equal(v(1_000, 0, 'n1'));
      time = 2_000.7;
      expect(clock.now()).to.deep.equal(v(2_000, 0, 'n1'));
    });

    it('is strictly increasing while the physical clock stands still', () => {
      const clock = new HybridClock('n1', () => 5_000);
      let previous = clock.now();
      for (let i = 0; i < 1_000; i++) {
        const next = clock.now();
        expect(compareVersions(next, previous), formatVersion(next)).to.equal(1);
        previous = next;
      }
      expect(previous.wall).to.equal(5_000);
    });

    it('is strictly increasing when the physical clock goes backwards', () => {
      let time = 10_000;
      const clock = new HybridClock('n1', () => time);
      let previous = clock.now();
      for (const next of [9_000, 9_500, 1, 0, 10_000, 10_001, 3]) {
        time = next;
        const version = clock.now();
        expect(
          compareVersions(version, previous),
          `${formatVersion(version)} after ${formatVersion(previous)}`,
        ).to.equal(1);
        previous = version;
      }
    });

    it('is strictly increasing from a physical clock at 0', () => {
      const clock = new HybridClock('n1', () => 0);
      const first = clock.now();
      expect(compareVersions(clock.now(), first)).to.equal(1);
    });

    it('after observe(v) far ahead of the physical clock, issues a version greater than v', () => {
      const clock = new HybridClock('n1', () => 1_000);
      clock.now();
      const remote = v(1_000_000, 7, 'n2');
      clock.observe(remote);
      const next = clock.now();
      expect(compareVersions(next, remote)).to.equal(1);
      expect(next.node).to.equal('n1');
      expect(compareVersions(clock.now(), next)).to.equal(1);
    });

    it('after observe(v) with an equal wall and a higher counter, issues a version greater than v', () => {
      const clock = new HybridClock('n1', () => 1_000);
      clock.now();
      const remote = v(1_000, 50, 'n2');
      clock.observe(remote);
      expect(compareVersions(clock.now(), remote)).to.equal(1);
    });

    it('after observe(v) with an equal wall and counter but a higher node, issues a version greater than v', () => {
      const clock = new HybridClock('a', () => 1_000);
      const own = clock.now();
      const remote = v(own.wall, own.counter, 'zzz');
      clock.observe(remote);
      expect(compareVersions(clock.now(), remote)).to.equal(1);
    });

    it('after observe(v) of an older version, still issues versions greater than its own', () => {
      const clock = new HybridClock('n1', () => 5_000);
      const own = clock.now();
      clock.observe(v(1, 0, 'n2'));
      expect(compareVersions(clock.now(), own)).to.equal(1);
    });

    it('after observe(v), returns to physical time once it passes v', () => {
      let time = 1_000;
      const clock = new HybridClock('n1', () => time);
      clock.observe(v(2_000, 4, 'n2'));
      time = 3_000;
      expect(clock.now()).to.deep.equal(v(3_000, 0, 'n1'));
    });

    it('orders writes across skewed clocks: a write after reading a version wins over it', () => {
      const ahead = new HybridClock('ahead', () => 100_000);
      const behind = new HybridClock('behind', () => 1_000);
      const written = ahead.now();
      behind.observe(written);
      expect(compareVersions(behind.now(), written)).to.equal(1);
    });
  });

  describe('isVersion', () => {
    it('accepts well-formed versions', () => {
      expect(isVersion(v(0, 0, 'n'))).to.equal(true);
      expect(isVersion(v(1_700_000_000_000, 12, '10.0.0.1:5878'))).to.equal(true);
      expect(isVersion(v(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 'n'))).to.equal(true);
    });

    const bad: Array<[string, unknown]> = [
      ['null', null],
      ['undefined', undefined],
      ['a string', '1.0@n'],
      ['a number', 5],
      ['an empty object', {}],
      ['a negative wall', { wall: -1, counter: 0, node: 'n' }],
      ['a negative counter', { wall: 1, counter: -1, node: 'n' }],
      ['a float wall', { wall: 1.5, counter: 0, node: 'n' }],
      ['a float counter', { wall: 1, counter: 0.5, node: 'n' }],
      ['a NaN wall', { wall: Number.NaN, counter: 0, node: 'n' }],
      ['a NaN counter', { wall: 1, counter: Number.NaN, node: 'n' }],
      ['an infinite wall', { wall: Number.POSITIVE_INFINITY, counter: 0, node: 'n' }],
      ['an unsafe integer wall', { wall: 2 ** 53, counter: 0, node: 'n' }],
      ['a string wall', { wall: '1', counter: 0, node: 'n' }],
      ['a missing wall', { counter: 0, node: 'n' }],
      ['a missing counter', { wall: 1, node: 'n' }],
      ['a missing node', { wall: 1, counter: 0 }],
      ['an empty node', { wall: 1, counter: 0, node: '' }],
      ['a numeric node', { wall: 1, counter: 0, node: 7 }],
    ];
    for (const [what, input] of bad) {
      it(`rejects ${what}`, () => {
        expect(isVersion(input)).to.equal(false);
      });
    }
  });
});
