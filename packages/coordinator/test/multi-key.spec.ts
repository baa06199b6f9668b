import {
  type Consistency,
  InvalidParamsError,
  type JsonText,
  type JsonValue,
  type MultiKeyFailure,
  QuorumNotReachedError,
  UnavailableError,
} from '@kvdb/core';
import { expect } from 'chai';
import { systemClock } from '../src/clock.js';
import { getMany, type KeyRequests, MULTI_KEY_CONCURRENCY, setMany } from '../src/multi-key.js';
import { rejection, replicated } from './utils/assertions.js';
import { TestCluster } from './utils/test-cluster.js';
import { deferred, realTurn, track, useFakeTimers } from './utils/timing.js';
import { text } from './utils/values.js';

const VALUES: JsonValue[] = [null, true, 0, -12.5, '', 'naïve → ✓', [], [1, [2]], {}, { a: { b: null } }];

/** `[key, value text]` pairs of `count` keys under `prefix`, the values cycling through every JSON type. */
function entriesOf(prefix: string, count: number): Array<[string, JsonText]> {
  return Array.from({ length: count }, (_, i) => [`${prefix}:${i}`, text(VALUES[i % VALUES.length] ?? i)]);
}

/** The `data` of the QuorumNotReachedError a multi-key request rejects with. */
async function multiKeyFailure(promise: Promise<unknown>): Promise<MultiKeyFailure> {
  const error = await rejection(promise);
  expect(error).to.be.instanceOf(QuorumNotReachedError);
  return (error as QuorumNotReachedError).data as MultiKeyFailure;
}

describe('mget and mset (getMany, setMany)', () => {
  describe('on a healthy 3-node cluster', () => {
    let cluster: TestCluster;

    beforeEach(() => {
      cluster = new TestCluster({ n: 3, replicas: 3 });
    });

    it('reads the values in the order asked, null for missing keys, a key asked twice at both places', async () => {
      await setMany(cluster.coordinator(0), [
        ['a', text(1)],
        ['b', text({ two: 2 })],
        ['c', text(null)],
      ]);
      const values = await getMany(cluster.coordinator(2), ['c', 'missing', 'b', 'a', 'b', 'other']);
      expect(values).to.deep.equal([null, null, { two: 2 }, 1, { two: 2 }, null].map(text));
      expect(await getMany(cluster.coordinator(1), [])).to.deep.equal([]);
    });

    it('leaves every replica as set would, and reads what get reads, through every node', async () => {
      const entries = entriesOf('m', 60);
      expect(await setMany(cluster.coordinator(0), entries)).to.equal(true);
      for (const [key, value] of entries.slice(0, 10)) {
        await cluster.coordinator(1).set(`s:${key}`, value);
      }
      await cluster.coordinator(2).pop('m:3');
      const keys = [...entries.map(([key]) => key), ...entries.slice(0, 10).map(([key]) => `s:${key}`)];
      for (const [key, value] of entries) {
        if (key === 'm:3') continue;
        const record = await replicated(cluster, key);
        expect(record, key).to.deep.include({ value });
        expect(Object.keys(record), key).to.deep.equal(Object.keys(await replicated(cluster, `s:m:0`)));
      }
      for (let node = 0; node < 3; node++) {
        const one = cluster.coordinator(node);
        const each = await Promise.all(keys.map((key) => one.get(key)));
        expect(await getMany(one, keys), `node ${node}`).to.deep.equal(each);
      }
      expect((await getMany(cluster.coordinator(0), ['m:3', 'm:4']))[0], 'popped').to.equal(text(null));
    });

    it('refuses a stamp too far ahead before writing any key, however long the keys take', async () => {
      let time = 1_000_000;
      const clock = { ...systemClock, now: () => time };
      const single = new TestCluster({ n: 1, replicas: 1, clock }).coordinator(0);
      // Each key's write begins 10 ms after the one before: the stamp is 1,001 ms ahead at the first key only.
      const slow: KeyRequests = {
        get: (key, options) => single.get(key, options),
        checkStamp: (stamp) => single.checkStamp(stamp),
        set: (key, value, options) => {
          const written = single.set(key, value, options);
          time += 10;
          return written;
        },
      };
      const stamp = { wall: time + 1_001, counter: 0, node: 'app-1' };
      const entries = entriesOf('ahead', 5);
      expect(await rejection(setMany(slow, entries, { stamp }))).to.be.instanceOf(InvalidParamsError);
      expect(
        await getMany(
          single,
          entries.map(([key]) => key),
        ),
      ).to.deep.equal(entries.map(() => text(null)));
    });

    it('refuses a key given twice before writing anything', async () => {
      const error = await rejection(
        setMany(cluster.coordinator(0), [
          ['a', text(1)],
          ['b', text(2)],
          ['a', text(3)],
        ]),
      );
      expect(error).to.be.instanceOf(InvalidParamsError);
      expect((error as Error).message).to.contain('entries 0 and 2 both set "a"');
      expect(await cluster.totalCounts()).to.deep.equal({ live: 0, tombstones: 0 });
    });

    it('starts every key at once: a call takes one round trip however many keys it has', async () => {
      // Each key written at all makes two peer calls: 200 keys stay within the executor's 512 calls at once.
      const KEYS = 200;
      const clock = useFakeTimers();
      try {
        const slow = new TestCluster({ n: 3, replicas: 3, timeoutMs: 5_000 });
        slow.network.delayMs = 100;
        const write = track(setMany(slow.coordinator(0), entriesOf('k', KEYS), { consistency: 'all' }));
        await clock.tickAsync(250);
        expect(write.settled, 'settled after one round trip (200 ms) of fake time').to.equal(true);
        expect(await write.promise).to.equal(true);
        const read = track(
          getMany(
            slow.coordinator(1),
            entriesOf('k', KEYS).map(([key]) => key),
          ),
        );
        await clock.tickAsync(250);
        expect(read.settled).to.equal(true);
        expect(await read.promise).to.deep.equal(entriesOf('k', KEYS).map(([, value]) => value));
      } finally {
        clock.restore();
      }
    });
  });

  describe('with one replica down', () => {
    let cluster: TestCluster;

    beforeEach(() => {
      cluster = new TestCluster({ n: 5, replicas: 3 });
    });

    for (const mode of ['refuse', 'hang'] as const) {
      it(`reads and writes every key at quorum through the others (${mode})`, async () => {
        const entries = entriesOf('q', 100);
        cluster.stop(4, mode);
        expect(await setMany(cluster.coordinator(0), entries)).to.equal(true);
        const keys = entries.map(([key]) => key);
        expect(await getMany(cluster.coordinator(1), keys)).to.deep.equal(entries.map(([, value]) => value));
      });
    }

    it('at all, names the keys that one replica holds, and writes the others', async () => {
      const entries = entriesOf('w', 100);
      const down = cluster.address(4);
      const held = entries.filter(([key]) => cluster.coordinator(0).locate(key).includes(down));
      expect(held.length, 'some keys on the down node, some not').to.be.within(1, 99);
      cluster.stop(4);

      const failure = await multiKeyFailure(setMany(cluster.coordinator(0), entries, { consistency: 'all' }));
      expect(failure.operation).to.equal('mset');
      expect(failure.keys).to.equal(100);
      expect(failure.failedKeys.map(({ key }) => key)).to.deep.equal(held.map(([key]) => key));
      for (const { index, key, code, reason } of failure.failedKeys) {
        expect(entries[index]?.[0]).to.equal(key);
        expect(code).to.equal(QuorumNotReachedError.code);
        expect(reason).to.contain(`set ${JSON.stringify(key)} failed`);
      }
      const written = entries.filter(([key]) => !held.some(([heldKey]) => heldKey === key));
      const values = await getMany(
        cluster.coordinator(1),
        written.map(([key]) => key),
        { consistency: 'all' },
      );
      expect(values).to.deep.equal(written.map(([, value]) => value));

      const read = await multiKeyFailure(
        getMany(
          cluster.coordinator(2),
          entries.map(([key]) => key),
          { consistency: 'all' },
        ),
      );
      expect(read.operation).to.equal('mget');
      expect(read.failedKeys.map(({ key }) => key)).to.deep.equal(held.map(([key]) => key));
    });
  });

  describe('on any coordinator', () => {
    /** A coordinator whose every get and set waits for the test, recording what it was asked. */
    function heldRequests(): KeyRequests & {
      asked: Array<{ key: string; consistency?: Consistency }>;
      release(): void;
    } {
      const gate = deferred<void>();
      const asked: Array<{ key: string; consistency?: Consistency }> = [];
      const held = async (key: string, consistency?: Consistency) => {
        asked.push({ key, consistency });
        await gate.promise;
      };
      return {
        asked,
        release: () => gate.resolve(),
        checkStamp: () => {},
        get: async (key, options = {}) => {
          await held(key, options.consistency);
          return text(key);
        },
        set: async (key, _value, options = {}) => {
          await held(key, options.consistency);
          return true;
        },
      };
    }

    it(`has at most ${MULTI_KEY_CONCURRENCY} keys in flight, and passes the level on untouched`, async () => {
      const coordinator = heldRequests();
      const keys = Array.from({ length: MULTI_KEY_CONCURRENCY + 500 }, (_, i) => `k${i}`);
      const reading = getMany(coordinator, keys, { consistency: 'one' });
      await realTurn();
      expect(coordinator.asked).to.have.length(MULTI_KEY_CONCURRENCY);
      coordinator.release();
      expect(await reading).to.deep.equal(keys.map(text));
      expect(coordinator.asked).to.have.length(keys.length);
      expect(new Set(coordinator.asked.map(({ consistency }) => consistency))).to.deep.equal(
        new Set(['one']),
      );
    });

    it('takes the class of the first failed key, and rethrows a fault that is not a KVError', async () => {
      const failing = (errors: Map<string, Error>): KeyRequests => ({
        checkStamp: () => {},
        get: async (key) => {
          const error = errors.get(key);
          if (error !== undefined) throw error;
          return text(key);
        },
        set: async () => true,
      });
      const unavailable = new UnavailableError('not ready');
      const quorum = new QuorumNotReachedError('no quorum');
      const error = await rejection(
        getMany(
          failing(
            new Map([
              ['b', unavailable],
              ['d', quorum],
            ]),
          ),
          ['a', 'b', 'c', 'd'],
        ),
      );
      expect(error).to.be.instanceOf(UnavailableError);
      expect((error as Error).message).to.equal('mget failed for 2 of 4 keys; the first: not ready');
      expect((error as UnavailableError).data).to.deep.equal({
        operation: 'mget',
        keys: 4,
        failedKeys: [
          { index: 1, key: 'b', code: UnavailableError.code, reason: 'not ready' },
          { index: 3, key: 'd', code: QuorumNotReachedError.code, reason: 'no quorum' },
        ],
      });
      const bug = new TypeError('a bug');
      expect(await rejection(getMany(failing(new Map([['c', bug]])), ['a', 'b', 'c']))).to.equal(bug);
    });

    it('names a failed key of an mget by where it first appears', async () => {
      const coordinator: KeyRequests = {
        checkStamp: () => {},
        get: async (key) => {
          if (key === 'x') throw new QuorumNotReachedError('no quorum');
          return text(null);
        },
        set: async () => true,
      };
      const failure = await multiKeyFailure(getMany(coordinator, ['a', 'a', 'x', 'x']));
      expect(failure.keys).to.equal(2);
      expect(failure.failedKeys).to.deep.equal([
        { index: 2, key: 'x', code: QuorumNotReachedError.code, reason: 'no quorum' },
      ]);
    });
  });
});
