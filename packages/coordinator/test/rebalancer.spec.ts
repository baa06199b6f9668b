import {
  type KVRecord,
  MemoryStore,
  type PeerMethod,
  type PeerParams,
  type PeerResult,
  type PutResult,
} from '@kvdb/core';
import { expect } from 'chai';
import { LocalReplica } from '../src/local-replica.js';
import { Membership } from '../src/membership.js';
import type { PeerTransport } from '../src/peer-transport.js';
import { Rebalancer } from '../src/rebalancer.js';
import { defined } from './utils/assertions.js';
import { deferred, eventually, track, useFakeTimers } from './utils/timing.js';
import { live } from './utils/values.js';

const [A, B, C, D] = ['10.0.0.1:5878', '10.0.0.2:5878', '10.0.0.3:5878', '10.0.0.4:5878'];

/** A transport where every peer stores what it is handed; `onPut` runs at each put_many. */
class HandoffTransport implements PeerTransport {
  readonly received = new Map<string, Map<string, KVRecord>>();
  onPut: () => void = () => {};

  async call<M extends PeerMethod>(to: string, method: M, params: PeerParams<M>): Promise<PeerResult<M>> {
    if (method !== 'peer.put_many') throw new Error(`unexpected ${method}`);
    this.onPut();
    const { entries } = params as PeerParams<'peer.put_many'>;
    const held = this.received.get(to) ?? new Map<string, KVRecord>();
    this.received.set(to, held);
    for (const [key, record] of entries) held.set(key, record);
    return entries.map((): PutResult => ({ stored: true })) as PeerResult<M>;
  }
}

/** Node A, of A–D, leaving with `count` records to hand over through `transport`, and its rebalancer. */
function leaving(count: number, transport: PeerTransport) {
  const membership = new Membership(A, [B, C, D]);
  membership.update(A, 'left');
  const store = new MemoryStore();
  const keys = Array.from({ length: count }, (_, i) => `key:${i}`);
  for (const key of keys) store.mergeSync(key, live({ wall: 1_000, counter: 0, node: A }, key));
  const replica = new LocalReplica({ store, ring: membership.ring, self: membership.self });
  const rebalancer = new Rebalancer({ membership, replica, transport }, { replicas: () => 3, intervalMs: 1 });
  return { membership, store, keys, replica, rebalancer };
}

describe('Rebalancer', () => {
  it('a drain goes on after a ring change cuts a pass short, until every record is handed over', async () => {
    const transport = new HandoffTransport();
    const { membership, store, keys, replica, rebalancer } = leaving(6_000, transport);
    membership.onRingChange((placement) => {
      replica.useRing(placement.read);
      rebalancer.schedule();
    });
    // D leaves at the first turn of the event loop after the first handoff: between two pages of the pass.
    let changed = false;
    transport.onPut = () => {
      if (changed) return;
      changed = true;
      setImmediate(() => membership.update(D, 'left'));
    };

    const result = await rebalancer.drain(10_000);
    expect(changed).to.equal(true);
    expect(result).to.deep.equal({ handedOff: keys.length, remaining: 0 });
    expect(await store.counts()).to.deep.equal({ live: 0, tombstones: 0 });
    for (const member of [B, C]) {
      expect(transport.received.get(member)?.size, `records on ${member}`).to.equal(keys.length);
    }
  });

  it('a drain stopped while it waits between passes ends at once, with what is left', async () => {
    let calls = 0;
    const { membership, store, keys, rebalancer } = leaving(10, {
      call: async () => {
        calls += 1;
        throw new Error('peer unreachable');
      },
    });
    const groups = new Set(keys.map((key) => membership.ring.preferenceList(key, 3).join()));
    const clock = useFakeTimers();
    try {
      const drained = track(rebalancer.drain(60_000));
      // The first pass offers each batch to its three new owners, then the drain waits on the (fake) clock.
      await eventually(() => clock.countTimers() > 0, { what: 'the drain waiting between passes' });
      expect(calls, 'one pass').to.equal(3 * groups.size);
      rebalancer.stop(); // the node shuts down mid-leave
      await eventually(() => drained.settled, {
        what: 'the drain to end at the stop, the clock standing still',
      });
      expect(await drained.promise).to.deep.equal({ handedOff: 0, remaining: 10 });
      expect(calls, 'no second pass').to.equal(3 * groups.size);
      expect(clock.countTimers(), 'its timer cleared').to.equal(0);
    } finally {
      clock.restore();
    }
    expect(await store.counts(), 'nothing dropped').to.deep.equal({ live: 10, tombstones: 0 });
  });

  it('a pass stops between pages when the rebalancer is stopped, and the rest is handed over after a start', async () => {
    const transport = new HandoffTransport();
    const { store, keys, rebalancer } = leaving(6_000, transport);
    let stopped = false;
    transport.onPut = () => {
      if (stopped) return;
      stopped = true;
      setImmediate(() => rebalancer.stop()); // the node shuts down while the first page is handed over
    };

    const first = await rebalancer.drain(60_000);
    expect(first.handedOff, 'part of the store').to.be.above(0).and.below(keys.length);
    expect((await store.counts()).live, 'the rest still here').to.equal(keys.length - first.handedOff);

    rebalancer.start();
    try {
      const second = await rebalancer.drain(60_000);
      expect(first.handedOff + second.handedOff).to.equal(keys.length);
      expect(await store.counts()).to.deep.equal({ live: 0, tombstones: 0 });
    } finally {
      rebalancer.stop();
    }
  });

  it('keeps a record rewritten here while its batch was out, and hands the newer one over in the next pass', async () => {
    const transport = new HandoffTransport();
    const { store, keys, replica, rebalancer } = leaving(10, transport);
    const rewritten = defined(keys[0]);
    const newer = live({ wall: 2_000, counter: 0, node: A }, 'newer');
    let once = true;
    transport.onPut = () => {
      if (once) void replica.merge(rewritten, newer); // a write arriving while the first batch is out
      once = false;
    };

    const first = await rebalancer.pass();
    expect(first).to.deep.equal({ handedOff: keys.length - 1, remaining: 1 });
    expect(await store.get(rewritten)).to.deep.equal(newer);
    const second = await rebalancer.pass();
    expect(second).to.deep.equal({ handedOff: 1, remaining: 0 });
    expect(await store.counts()).to.deep.equal({ live: 0, tombstones: 0 });
    for (const member of [B, C, D])
      expect(transport.received.get(member)?.get(rewritten)).to.deep.equal(newer);
  });

  it('idle waits, after a stop, for the batch under way to be confirmed and dropped here', async () => {
    const transport = new HandoffTransport();
    const held = deferred<void>();
    let calls = 0;
    const { store, keys, rebalancer } = leaving(10, {
      call: async (to, method, params) => {
        calls += 1;
        await held.promise;
        return transport.call(to, method, params);
      },
    });
    const pass = rebalancer.pass();
    for (let turn = 0; turn < 100 && calls === 0; turn++)
      await new Promise((resolve) => setImmediate(resolve));
    expect(calls, 'the batch is out').to.be.above(0);
    rebalancer.stop(); // the node shuts down while its peers have not answered yet

    const idle = track(rebalancer.idle().then(() => store.counts()));
    for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(idle.settled, 'idle while the batch is out').to.equal(false);
    held.resolve();
    const atIdle = await idle.promise;
    const { handedOff } = await pass;
    expect(handedOff, 'the batch under way, and no other after the stop')
      .to.be.above(0)
      .and.below(keys.length);
    expect(atIdle.live, 'dropped here before idle resolved').to.equal(keys.length - handedOff);
  });
});
