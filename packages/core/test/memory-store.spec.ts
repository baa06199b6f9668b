import { expect } from 'chai';
import { MemoryStore } from '../src/memory-store.js';
import { storeCompliance } from './store-compliance.js';

storeCompliance('MemoryStore', () => new MemoryStore());

describe('MemoryStore', () => {
  it('mergeSync applies and refuses like merge', () => {
    const store = new MemoryStore();
    const node = 'n1';
    expect(store.mergeSync('k', { version: { wall: 2, counter: 0, node }, value: 'two' }).applied).to.equal(
      true,
    );
    expect(store.mergeSync('k', { version: { wall: 1, counter: 0, node }, value: 'one' }).applied).to.equal(
      false,
    );
    expect(store.mergeSync('k', { version: { wall: 3, counter: 0, node }, deleted: true }).applied).to.equal(
      true,
    );
  });

  it('keeps nothing across instances', async () => {
    const first = new MemoryStore();
    await first.merge('k', { version: { wall: 1, counter: 0, node: 'n1' }, value: 1 });
    expect(await new MemoryStore().get('k')).to.equal(undefined);
  });
});
