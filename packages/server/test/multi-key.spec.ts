import type { Coordinator } from '@kvdb/coordinator';
import { InvalidParamsError, KVError, TooLargeError } from '@kvdb/core';
import { expect } from 'chai';
import type { Limits } from '../src/config.js';
import { METHODS } from '../src/methods/index.js';
import { mget } from '../src/methods/mget.js';
import { mset } from '../src/methods/mset.js';
import type { MethodContext } from '../src/methods/types.js';
import { call, refusal } from './utils/method-calls.js';
import { singleNode } from './utils/method-harness.js';

const LIMITS: Limits = { maxKeyBytes: 16, maxValueBytes: 20, maxBodyBytes: 10_000, maxBatch: 5 };

/** The KVError a call rejects with; fails on success. */
async function kvError(promise: Promise<unknown>): Promise<KVError> {
  try {
    const value = await promise;
    expect.fail(`expected an error, got ${JSON.stringify(value)}`);
  } catch (error) {
    expect(error).to.be.instanceOf(KVError);
    return error as KVError;
  }
}

describe('mget and mset params', () => {
  let context: MethodContext;
  let coordinator: Coordinator;

  beforeEach(() => {
    ({ context, coordinator } = singleNode(LIMITS));
  });

  const liveKeys = async () => (await coordinator.stats()).keys;

  it('are in the method table', () => {
    const names = METHODS.map((method) => method.name);
    expect(names).to.include.members(['mget', 'mset']);
  });

  it('write and read named or positional params, in order, null for a missing key', async () => {
    const pairs = [
      ['a', 1],
      ['b', { two: [2] }],
      ['c', null],
    ];
    expect(await call(mset, { entries: pairs }, context)).to.equal(true);
    expect(await call(mset, [[['d', 'four']], 'all'], context)).to.equal(true);
    expect(await call(mget, { keys: ['d', 'x', 'a', 'b', 'c'] }, context)).to.deep.equal([
      'four',
      null,
      1,
      { two: [2] },
      null,
    ]);
    expect(await call(mget, [['a', 'a'], 'one'], context)).to.deep.equal([1, 1]);
    expect(await call(mget, { keys: [], consistency: null }, context)).to.deep.equal([]);
    expect(await call(mset, { entries: [] }, context)).to.equal(true);
    expect(JSON.parse(await coordinator.get('b'))).to.deep.equal({ two: [2] });
  });

  it('refuse bad keys with -32602 naming the param and the index', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{}, /Missing param `keys`/],
      [[], /Missing param `keys`/],
      [{ keys: 'a' }, /Expected `keys` to be an array of keys/],
      [{ keys: { 0: 'a' } }, /Expected `keys` to be an array of keys/],
      [{ keys: ['a', 'b', 5] }, /Expected `keys\[2\]` to be a non-empty string/],
      [{ keys: ['a', ''] }, /Expected `keys\[1\]` to be a non-empty string/],
      [{ keys: [null] }, /`keys\[0\]`/],
      [{ keys: ['a'], consistency: 'most' }, /Expected `consistency` to be one of/],
      [{ keys: ['a'], key: 'b' }, /Unknown param `key` for `mget`: expected `keys`, `consistency`/],
      [[['a'], 'one', 'extra'], /`mget` takes at most 2 positional params \(keys, consistency\), got 3/],
    ];
    for (const [raw, message] of cases) {
      expect((await refusal(call(mget, raw, context))).message, JSON.stringify(raw)).to.match(message);
    }
  });

  it('refuse bad entries whole, naming the index, with nothing written', async () => {
    const good: Array<[string, number]> = [
      ['a', 1],
      ['b', 2],
    ];
    const cases: Array<[unknown, RegExp]> = [
      [{}, /Missing param `entries`/],
      [{ entries: { a: 1 } }, /Expected `entries` to be an array of \[key, value\] pairs/],
      [{ entries: [...good, 'c'] }, /Expected `entries\[2\]` to be a \[key, value\] pair/],
      [{ entries: [...good, ['c']] }, /Expected `entries\[2\]` to be a \[key, value\] pair/],
      [{ entries: [...good, ['c', 1, 2]] }, /Expected `entries\[2\]` to be a \[key, value\] pair/],
      [{ entries: [...good, { key: 'c', value: 1 }] }, /`entries\[2\]`/],
      [{ entries: [...good, [3, 1]] }, /Expected `entries\[2\]\[0\]` to be a non-empty string/],
      [{ entries: [['', 1], ...good] }, /Expected `entries\[0\]\[0\]` to be a non-empty string/],
      [{ entries: [...good, ['a', 3]] }, /entries 0 and 2 both set "a"/],
      [{ entries: good, consistency: 'some' }, /Expected `consistency` to be one of/],
      [{ entries: good, values: [] }, /Unknown param `values` for `mset`/],
    ];
    for (const [raw, message] of cases) {
      expect((await refusal(call(mset, raw, context))).message, JSON.stringify(raw)).to.match(message);
    }
    const deep = [...good, ['c', JSON.parse(`${'['.repeat(101)}${']'.repeat(101)}`)]];
    expect((await refusal(call(mset, { entries: deep }, context))).message).to.match(
      /`entries\[2\]\[1\]` nests deeper than 100 levels/,
    );
    expect(await liveKeys(), 'nothing written').to.equal(0);
  });

  it('refuse a key or value over its limit with 1005, as get and set do, naming the index', async () => {
    const longKey = await kvError(call(mget, { keys: ['a', 'k'.repeat(17)] }, context));
    expect(longKey).to.be.instanceOf(TooLargeError);
    expect(longKey.message).to.match(/^`keys\[1\]` is 17 bytes; the limit is 16 \(--max-key-bytes\)/);
    const bigValue = await kvError(
      call(
        mset,
        {
          entries: [
            ['a', 1],
            ['b', 'v'.repeat(30)],
          ],
        },
        context,
      ),
    );
    expect(bigValue).to.be.instanceOf(TooLargeError);
    expect(bigValue.message).to.match(/^`entries\[1\]\[1\]` is 32 bytes of JSON; the limit is 20/);
    expect(await liveKeys(), 'nothing written').to.equal(0);
  });

  it('refuse more than --max-batch keys or entries with 1005, before anything is done', async () => {
    const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
    const tooMany = await kvError(call(mget, [keys], context));
    expect(tooMany).to.be.instanceOf(TooLargeError);
    expect(tooMany.message).to.equal('`keys` holds 6 keys; the limit is 5 (--max-batch)');
    expect(tooMany.data).to.deep.equal({ limit: 5, size: 6 });
    const entries = keys.map((key) => [key, key]);
    const tooManyEntries = await kvError(call(mset, { entries }, context));
    expect(tooManyEntries).to.be.instanceOf(TooLargeError);
    expect(tooManyEntries.message).to.contain('(--max-batch)');
    expect(await liveKeys(), 'nothing written').to.equal(0);
    expect(await call(mset, { entries: entries.slice(0, 5) }, context)).to.equal(true);
    expect(await call(mget, [keys.slice(0, 5)], context)).to.deep.equal(keys.slice(0, 5));
  });

  it('refuse a missing positional param as -32602 too', async () => {
    expect(await refusal(call(mset, [undefined, 'one'], context))).to.be.instanceOf(InvalidParamsError);
  });
});
