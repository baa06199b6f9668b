import { MemoryStore, toJsonText } from '@kvdb/core';
import { defined } from '@kvdb/core/testing';
import { expect } from 'chai';
import { KVNode } from '../src/node.js';
import { freePort, until } from './utils/node-harness.js';

describe('readRepairChance (--read-repair-chance)', () => {
  let nodes: KVNode[] = [];

  afterEach(async () => {
    await Promise.all(nodes.map((node) => node.stop({ announce: false })));
    nodes = [];
  });

  it('at 1, a quorum read repairs the replica outside its quorum', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    const members = ports.map((port) => `127.0.0.1:${port}`);
    const stores = ports.map(() => new MemoryStore());
    // Anti-entropy out of the way: only the read can repair.
    const timings = { antiEntropyIntervalMs: 3_600_000 };
    nodes = await Promise.all(
      ports.map((port, index) =>
        KVNode.start(
          { host: '127.0.0.1', port, members, replicas: 3, readRepairChance: 1, timings, logLevel: 'silent' },
          { store: stores[index] },
        ),
      ),
    );
    const coordinator = defined(nodes[0]).coordinator;
    await coordinator.set('k', toJsonText('old'));
    await until('every replica holds the write', () =>
      stores.every((store) => store.getSync('k') !== undefined),
    );

    // A newer version on the coordinator and the replica after it: a quorum without the third.
    const others = coordinator.locate('k').filter((member) => member !== coordinator.self);
    const third = defined(stores[members.indexOf(defined(others.at(-1), 'a third replica'))]);
    const newer = {
      value: toJsonText('new'),
      version: { wall: Date.now() + 60_000, counter: 0, node: 'test' },
    };
    for (const store of stores) if (store !== third) store.mergeSync('k', newer);

    expect(await coordinator.get('k')).to.equal('"new"');
    await coordinator.idle();
    expect(third.getSync('k'), 'the third replica, asked and repaired').to.deep.equal(newer);
  });
});
