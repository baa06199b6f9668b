import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { HashRing, MemoryStore } from '@kvdb/core';
import { expect } from 'chai';
import { LocalReplica } from '../src/local-replica.js';
import { live } from './utils/values.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('the ring order of a replica built from its store', () => {
  async function retainedAfterOverwrite(members: string[]): Promise<number> {
    const store = new MemoryStore();
    const big = 'x'.repeat(5_000);
    const v = (wall: number) => ({ wall, counter: 0, node: 'a:1' });
    const key = (i: number) => `user:profile:${String(i).padStart(8, '0')}`; // 21 characters: a scan's cut of it is a view
    for (let i = 0; i < 20_000; i++) store.mergeSync(key(i), live(v(1), big + i));
    const replica = new LocalReplica({ store, ring: new HashRing(members), self: 'a:1' });
    for (let i = 0; i < 20_000; i++) await replica.merge(key(i), live(v(2), 1));
    gc();
    gc();
    const used = process.memoryUsage().heapUsed;
    expect(replica.digests).to.not.equal(undefined); // keep the replica alive until measured
    return used;
  }

  it('keeps no record alive once it is overwritten (its keys are copies, not views of the records)', async function () {
    this.timeout(20_000);
    const one = await retainedAfterOverwrite(['a:1']);
    const two = await retainedAfterOverwrite(['a:1', 'b:1']);
    expect((two - one) / 2 ** 20, 'MB more held with a ring order of the keys').to.be.below(30);
  });
});
