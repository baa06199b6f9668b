import type { Coordinator } from '@kvdb/coordinator';
import { expect } from 'chai';
import type { Limits } from '../src/config.js';
import { mset } from '../src/methods/mset.js';
import { set } from '../src/methods/set.js';
import type { MethodContext } from '../src/methods/types.js';
import { call, refusal } from './utils/method-calls.js';
import { singleNode } from './utils/method-harness.js';

const LIMITS: Limits = { maxKeyBytes: 64, maxValueBytes: 1_000, maxBodyBytes: 10_000, maxBatch: 10 };

describe('write stamps (the `stamp` param of set and mset)', () => {
  let context: MethodContext;
  let coordinator: Coordinator;
  beforeEach(() => {
    ({ context, coordinator } = singleNode(LIMITS));
  });

  const value = async (key: string) => JSON.parse(await coordinator.get(key));
  const stampAt = (offsetMs: number, counter = 0) => `${Date.now() + offsetMs}.${counter}@app-1`;

  it('store the write at the stamp: sent again after a later write, it changes nothing', async () => {
    const stamp = stampAt(-5);
    expect(await call(set, { key: 'k', value: 'first', stamp }, context)).to.equal(true);
    expect(await value('k')).to.equal('first');
    // The node's clock moved past the stamp, so the next write it stamps wins over it.
    expect(await call(set, { key: 'k', value: 'second' }, context)).to.equal(true);
    expect(await call(set, ['k', 'first', null, null, null, null, stamp], context)).to.equal(true);
    expect(await value('k')).to.equal('second');
  });

  it('give every entry of an mset the one stamp, so an mset sent again changes nothing either', async () => {
    const stamp = stampAt(-5);
    const entries = [
      ['a', 1],
      ['b', 2],
    ];
    expect(await call(mset, { entries, stamp }, context)).to.equal(true);
    await call(set, { key: 'a', value: 10 }, context);
    expect(await call(mset, [entries, 'quorum', stamp], context)).to.equal(true);
    expect([await value('a'), await value('b')]).to.deep.equal([10, 2]);
  });

  it('refuse a stamp that is not one, naming the form, with nothing written', async () => {
    for (const stamp of [12, '12', '1.2', '1.2@', '1.2@two words', 'x.1@a', `1.2@${'w'.repeat(65)}`]) {
      const error = await refusal(call(set, { key: 'bad', value: 1, stamp }, context));
      expect(error.message).to.contain('wall.counter@writer');
      await refusal(call(mset, { entries: [['bad', 1]], stamp }, context));
    }
    expect(await value('bad')).to.equal(null);
  });

  it('refuse a counter the clock could not count on from, which would give two writes one version', async () => {
    const error = await refusal(call(set, { key: 'c', value: 0, stamp: stampAt(500, 2 ** 53 - 2) }, context));
    expect(error.message).to.contain('counter at most 4294967295');
    for (const next of [1, 2, 3]) expect(await call(set, { key: 'c', value: next }, context)).to.equal(true);
    expect(await value('c')).to.equal(3);
  });

  it('refuse a stamp over a second ahead of the clock, saying by how much', async () => {
    // Half a second of room for the time the call takes before the node reads its clock.
    const error = await refusal(call(set, { key: 'future', value: 1, stamp: stampAt(60_500) }, context));
    expect(error.message).to.match(/is 60\d{3} ms ahead of this node's clock/);
    await refusal(call(mset, { entries: [['future', 1]], stamp: stampAt(60_000) }, context));
    expect(await value('future')).to.equal(null);
    expect(await call(set, { key: 'near', value: 1, stamp: stampAt(500) }, context)).to.equal(true);
  });

  it('refuse a stamp on a serial or conditional write: its consensus round stamps it', async () => {
    const stamp = stampAt(0);
    const serial = await refusal(call(set, { key: 's', value: 1, consistency: 'serial', stamp }, context));
    expect(serial.message).to.contain('serial write takes no `stamp`');
    const conditional = await refusal(call(set, { key: 's', value: 1, ifAbsent: true, stamp }, context));
    expect(conditional.message).to.contain('takes no `stamp`');
    await refusal(call(mset, { entries: [['s', 1]], consistency: 'serial', stamp }, context));
    expect(await value('s')).to.equal(null);
  });
});
