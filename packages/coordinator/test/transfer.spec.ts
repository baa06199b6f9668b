import { DEFAULT_MAX_BODY_BYTES, type KVRecord, type PeerParams, type PutResult } from '@kvdb/core';
import { expect } from 'chai';
import {
  DEFAULT_BATCH_BYTES,
  DEFAULT_BATCH_SIZE,
  LOCAL_TIMINGS,
  RANGE_PAGE,
  type Timings,
} from '../src/defaults.js';
import { HintedHandoff } from '../src/hinted-handoff.js';
import { Membership } from '../src/membership.js';
import type { PeerTransport } from '../src/peer-transport.js';
import { entryBatches, entryBytes } from '../src/transfer.js';
import { defined } from './utils/assertions.js';
import { createSimCluster, type SimCluster } from './utils/sim-cluster.js';
import { live, text } from './utils/values.js';

/** No background anti-entropy rounds: the test runs each comparison itself. */
const QUIET: Timings = { ...LOCAL_TIMINGS, antiEntropyIntervalMs: 1e9 };

/** 100 KB values: 500 of them (a batch by count alone) would be 50 MB, six times the peers' frame limit. */
const bigValue = (key: string) => text({ key, pad: 'x'.repeat(100_000) });

const keysOf = (count: number, prefix = 'key') => Array.from({ length: count }, (_, i) => `${prefix}:${i}`);

/** Writes each key's big value through node `via`, at consistency `one` (the replicas that are up take it). */
async function writeBig(cluster: SimCluster, keys: readonly string[], via = 0): Promise<void> {
  for (let i = 0; i < keys.length; i += 20) {
    const batch = keys.slice(i, i + 20);
    await cluster.settle(
      Promise.all(
        batch.map((key) => cluster.node(via).coordinator.set(key, bigValue(key), { consistency: 'one' })),
      ),
    );
  }
}

/** Writes small records straight into node `index`'s replica, as if every write had reached it alone. */
async function seed(cluster: SimCluster, index: number, keys: readonly string[]): Promise<void> {
  const replica = cluster.node(index).replica;
  for (const key of keys) {
    const record = live(replica.stamp(), key);
    await replica.merge(key, record);
  }
}

/** Every call of a background transfer and every reply stayed within a batch's bytes, and so within a frame. */
function withinFrames(cluster: SimCluster, ...methods: string[]): void {
  for (const method of methods) {
    const largest = defined(cluster.network.largest.get(method), `${method} calls`);
    // A batch's entries plus the call's own few bytes of JSON around them.
    expect(largest.call, `largest ${method} call`).to.be.below(DEFAULT_BATCH_BYTES + 1_000);
    expect(largest.reply, `largest ${method} reply`).to.be.below(DEFAULT_BATCH_BYTES + 1_000);
  }
}

describe('entryBatches', () => {
  const record = (bytes: number): KVRecord => live({ wall: 1, counter: 0, node: 'n' }, 'x'.repeat(bytes));

  it('cuts by count and by bytes, and sends a record larger than the cap alone', async () => {
    const entries = [100, 100, 100, 5_000, 100, 100, 100, 100].map(
      (bytes, i) => [`k${i}`, record(bytes)] as [string, KVRecord],
    );
    const cut = [];
    for await (const batch of entryBatches(entries, { maxCount: 3, maxBytes: 1_000 })) cut.push(batch);
    expect(cut.map((batch) => batch.entries.map(([key]) => key))).to.deep.equal([
      ['k0', 'k1', 'k2'],
      ['k3'],
      ['k4', 'k5', 'k6'],
      ['k7'],
    ]);
    for (const batch of cut) {
      const bytes = batch.entries.reduce((sum, [key, value]) => sum + entryBytes(key, value), 0);
      expect(batch.bytes).to.equal(bytes);
    }
    expect(entryBytes('k', record(10))).to.equal(Buffer.byteLength(JSON.stringify(['k', record(10)])) + 1);
  });
});

// Records whose batch by count alone would exceed the peers' 8 MiB frame limit move all the same: the simulated
// network refuses any call over the limit, as a peer refuses the frame.
describe('Background transfers within the frame limit (simulated cluster)', () => {
  let cluster: SimCluster;

  afterEach(async () => {
    await cluster?.teardown();
  });

  it('a join hands 100 KB records to the new owner in calls under the frame limit', async () => {
    cluster = await createSimCluster({ n: 1, replicas: 1, seed: 61 });
    cluster.network.maxCallBytes = DEFAULT_MAX_BODY_BYTES;
    const keys = keysOf(200);
    await writeBig(cluster, keys);

    const joined = cluster.address(await cluster.add());
    await cluster.until(() => cluster.node(0).membership.get(joined)?.phase === 'normal', {
      withinMs: 30_000,
      what: 'the new node serving its ranges',
    });
    const owner = (key: string) => cluster.indexOf(defined(cluster.node(0).coordinator.locate(key)[0]));
    await cluster.until(
      async () => {
        for (const key of keys) {
          const holders = await cluster.holders(key);
          if (holders.length !== 1 || holders[0] !== owner(key)) return false;
        }
        return true;
      },
      { withinMs: 30_000, stepMs: 200, what: 'every key on exactly its owner' },
    );
    const moved = cluster.node(0).rebalancer.handedOff;
    expect(moved, 'about half of the keys moved').to.be.within(40, 160);
    expect(cluster.traffic.calls('peer.put_many'), 'more calls than a count of 500 would make').to.be.above(
      1,
    );
    withinFrames(cluster, 'peer.put_many');
    withinFrames(cluster, 'peer.stream');
  });

  it('replays hints of 100 KB records in calls under the frame limit', async () => {
    cluster = await createSimCluster({ n: 3, seed: 62, timings: QUIET });
    cluster.network.maxCallBytes = DEFAULT_MAX_BODY_BYTES;
    const down = cluster.address(2);
    await cluster.kill(2);
    const keys = keysOf(120);
    await writeBig(cluster, keys);
    expect(cluster.node(0).hints.count(down)).to.equal(keys.length);

    await cluster.restart(2);
    await cluster.until(() => cluster.node(0).hints.count() === 0, {
      withinMs: 10_000,
      what: 'hints delivered',
    });
    for (const key of keys)
      expect(await cluster.store(2).get(key), key).to.deep.equal(await cluster.store(0).get(key));
    expect(cluster.node(0).hints.delivered).to.equal(keys.length);
    withinFrames(cluster, 'peer.put_many');
  });

  it('anti-entropy pulls and pushes 100 KB records in calls and replies under the frame limit', async () => {
    cluster = await createSimCluster({ n: 2, replicas: 2, seed: 63, timings: QUIET });
    cluster.network.maxCallBytes = DEFAULT_MAX_BODY_BYTES;
    const keys = keysOf(120);
    await writeBig(cluster, keys);
    const holdsAll = async (index: number) => {
      for (const key of keys) if ((await cluster.store(index).get(key)) === undefined) return false;
      return true;
    };

    await cluster.restart(1, { empty: true });
    cluster.node(1).hints.stop();
    await cluster.settle(cluster.node(1).antiEntropy.syncWith(cluster.address(0)));
    expect(await holdsAll(1), 'pulled').to.equal(true);
    expect(cluster.node(1).antiEntropy.stats.keysPulled).to.equal(keys.length);
    expect(cluster.traffic.calls('peer.get_many'), 'replies capped by bytes').to.be.above(1);

    await cluster.restart(1, { empty: true });
    await cluster.settle(cluster.node(0).antiEntropy.syncWith(cluster.address(1)));
    expect(await holdsAll(1), 'pushed').to.equal(true);
    expect(cluster.node(0).antiEntropy.stats.keysPushed).to.equal(keys.length);
    withinFrames(cluster, 'peer.get_many', 'peer.put_many');
  });

  it('anti-entropy pushes 200,000 keys a peer lacks, in batches', async function () {
    this.timeout(60_000); // a few seconds of real work, longer on a busy machine
    cluster = await createSimCluster({ n: 2, replicas: 2, seed: 64, timings: QUIET });
    const keys = keysOf(200_000);
    await seed(cluster, 0, keys);

    cluster.traffic.reset();
    const repaired = await cluster.settle(cluster.node(0).antiEntropy.syncWith(cluster.address(1)), 120_000);
    expect(repaired).to.be.above(0);
    expect((await cluster.store(1).counts()).live).to.equal(keys.length);
    expect(cluster.node(0).antiEntropy.stats.keysPushed).to.equal(keys.length);
    expect(cluster.traffic.calls('peer.put_many')).to.equal(keys.length / DEFAULT_BATCH_SIZE);
  });

  it("asks for a peer's keys a page at a time, each page a bounded reply", async () => {
    cluster = await createSimCluster({ n: 2, replicas: 2, seed: 65, timings: QUIET });
    const keys = keysOf(2 * RANGE_PAGE + 100);
    await seed(cluster, 0, keys);

    cluster.traffic.reset();
    await cluster.settle(cluster.node(1).antiEntropy.syncWith(cluster.address(0)), 60_000);
    expect((await cluster.store(1).counts()).live).to.equal(keys.length);
    expect(cluster.traffic.calls('peer.range'), 'three pages').to.equal(3);
    const range = defined(cluster.network.largest.get('peer.range'));
    expect(range.reply, 'a page, not every key').to.be.below(cluster.traffic.bytes('peer.range') / 2);
  });
});

describe('Hint replay of a long queue', () => {
  it('sends 100,000 hints in one call per batch, each hint once and in order, without copying the queue', async () => {
    const [self, peer] = ['10.0.0.1:5878', '10.0.0.2:5878'];
    const sent: string[][] = [];
    const transport: PeerTransport = {
      call: async (_to, _method, params) => {
        const { entries } = params as PeerParams<'peer.put_many'>;
        sent.push(entries.map(([key]) => key));
        return entries.map((): PutResult => ({ stored: true })) as never;
      },
    };
    const hints = new HintedHandoff({ membership: new Membership(self, [peer]), transport });
    const count = 100_000;
    for (let i = 0; i < count; i++)
      hints.add(peer, `hint:${i}`, live({ wall: 1, counter: 0, node: self }, i));

    // Counts the walks of any large Map (the queue is one): a copy of the queue per batch walks it per batch.
    const iterate = Map.prototype[Symbol.iterator];
    let walks = 0;
    Map.prototype[Symbol.iterator] = function (this: Map<unknown, unknown>) {
      if (this.size > 1_000) walks += 1;
      return iterate.call(this);
    };
    try {
      expect(await hints.replay(peer)).to.equal(count);
    } finally {
      Map.prototype[Symbol.iterator] = iterate;
    }
    expect(walks, 'the queue walked for expired hints, then once for the replay').to.equal(2);
    expect(sent.length, 'one call per batch').to.equal(count / DEFAULT_BATCH_SIZE);
    const keys = sent.flat();
    expect(keys).to.have.length(count);
    expect(keys.every((key, i) => key === `hint:${i}`)).to.equal(true);
    expect(hints.count()).to.equal(0);
  });
});
