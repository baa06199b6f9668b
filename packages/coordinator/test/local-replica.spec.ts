import {
  compareKeys,
  compareVersions,
  HashRing,
  type KVRecord,
  MemoryStore,
  type MergeResult,
  MethodNotFoundError,
  type PeerMethod,
  type ScanOptions,
  type Store,
} from '@kvdb/core';
import { expect } from 'chai';
import sinon from 'sinon';
import type { Clock } from '../src/clock.js';
import { SEGMENT_GATHER_LIMIT } from '../src/defaults.js';
import { LocalReplica } from '../src/local-replica.js';
import { DelegatingStore } from './utils/delegating-store.js';
import { live } from './utils/values.js';

const A = '10.0.0.1:5878';
const B = '10.0.0.2:5878';
const C = '10.0.0.3:5878';

const record = (wall: number, value: string): KVRecord => live({ wall, counter: 0, node: A }, value);

/** A clock that stays at `now`, with no timers: enough for stamping versions. */
const fixedClock = (now: number): Clock => ({
  now: () => now,
  setTimeout: () => 0,
  clearTimeout: () => {},
});

/** The replica of node A over `store`, its digests keyed to `ring`. */
const replicaOf = (store: Store, ring: HashRing) => new LocalReplica({ store, ring, self: A });

/** A store whose merges are visible at once but resolve only when released, like a commit not yet reported. */
class SlowStore extends DelegatingStore {
  private readonly waiting: Array<() => void> = [];

  override async merge(key: string, next: KVRecord): Promise<MergeResult> {
    const result = this.inner.mergeSync(key, next);
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    return result;
  }

  release(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}

describe('LocalReplica', () => {
  it('heals a digest left off by a write that straddled a ring change, once no write is half done', async () => {
    const store = new SlowStore();
    const before = new HashRing([A, B]);
    const after = new HashRing([A, B, C]);
    const replica = replicaOf(store, before);
    const all = new Set(Array.from({ length: after.segmentCount }, (_, segment) => segment));
    const digestOf = (index: LocalReplica) => index.digests.combine([...all]);

    const settled: Array<Promise<MergeResult>> = [];
    for (let i = 0; i < 20; i++) settled.push(replica.merge(`key:${i}`, record(1_000, `v${i}`)));
    store.release();
    await Promise.all(settled);

    const straddling = replica.merge('key:3', record(2_000, 'newer'));
    replica.useRing(after); // the rebuild reads the store, which already holds the newer record
    store.release();
    await straddling;
    const truth = digestOf(replicaOf(store, after));
    expect(digestOf(replica), 'the straddling write was counted twice').to.not.deep.equal(truth);

    const segment = after.segmentOf('key:3');
    const pending = replica.merge('key:4', record(3_000, 'in flight'));
    await replica.keyVersions(new Set([segment]));
    expect(digestOf(replica), 'no healing while a write is half done').to.not.deep.equal(truth);
    store.release();
    await pending;

    const versions = await replica.keyVersions(new Set([segment]));
    expect(versions.get(segment)?.map(([key]) => key)).to.include('key:3');
    expect(digestOf(replica)).to.deep.equal(digestOf(replicaOf(store, after)));
  });

  it('answers at once from a store that answers at once, keeping the digests, and with promises otherwise', async () => {
    const ring = new HashRing([A, B]);
    const store = new MemoryStore();
    const replica = replicaOf(store, ring);
    expect(replica.synchronous).to.equal(true);
    expect(replica.answer('peer.put', { key: 'a', record: record(1_000, 'one') })).to.deep.equal({
      stored: true,
    });
    expect(replica.answer('peer.put', { key: 'a', record: record(500, 'older') })).to.deep.equal({
      stored: false,
      newer: record(1_000, 'one').version,
    });
    expect(replica.answer('peer.get', { key: 'a' })).to.deep.equal(record(1_000, 'one'));
    expect(replica.answer('peer.get_many', { keys: ['a', 'none'] })).to.deep.equal([
      record(1_000, 'one'),
      null,
    ]);
    const all = [...Array(ring.segmentCount).keys()];
    expect(replica.digests.combine(all)).to.deep.equal(replicaOf(store, ring).digests.combine(all));

    const later = replicaOf(new DelegatingStore(), ring);
    expect(later.synchronous).to.equal(false);
    const put = later.answer('peer.put', { key: 'a', record: record(1_000, 'one') });
    expect(put).to.be.instanceOf(Promise);
    expect(await put).to.deep.equal({ stored: true });
    const get = later.answer('peer.get', { key: 'a' });
    expect(get).to.be.instanceOf(Promise);
    expect(await get).to.deep.equal(record(1_000, 'one'));
  });

  it('stamps versions past every version it has taken, from a store of either kind', async () => {
    for (const store of [new MemoryStore(), new DelegatingStore()]) {
      const replica = new LocalReplica({ store, ring: new HashRing([A]), self: B, clock: fixedClock(1_000) });
      const first = replica.stamp();
      expect(first).to.deep.equal({ wall: 1_000, counter: 0, node: B });
      await replica.merge('k', record(5_000, 'from a faster clock'));
      const next = replica.stamp();
      expect(compareVersions(next, record(5_000, '').version), 'after the merged version').to.equal(1);
      expect(next.node).to.equal(B);
    }
  });

  it('refuses a method that is not a replica call with MethodNotFoundError, changing nothing', async () => {
    const replica = replicaOf(new MemoryStore(), new HashRing([A]));
    for (const method of ['peer.nope', 'peer.ping', 'get', 'constructor', '__proto__', 'toString']) {
      const error = await replica.handlePeer(method as PeerMethod, {} as never).then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error, method).to.be.instanceOf(MethodNotFoundError);
    }
    expect(await replica.counts()).to.deep.equal({ live: 0, tombstones: 0 });
  });

  it('leaves digests that agree with the store as they are', async () => {
    const store = new MemoryStore();
    const ring = new HashRing([A, B, C]);
    const replica = replicaOf(store, ring);
    for (let i = 0; i < 50; i++) await replica.merge(`key:${i}`, record(1_000 + i, `v${i}`));
    const segments = Array.from({ length: ring.segmentCount }, (_, segment) => segment);
    const digests = segments.map((segment) => replica.digests.segment(segment));
    const listed = await replica.keyVersions(new Set(segments));
    expect([...listed.values()].flat()).to.have.length(50);
    expect(segments.map((segment) => replica.digests.segment(segment))).to.deep.equal(digests);
  });

  it('scans a large store in pages, letting other work run between them, and lists the right keys', async () => {
    const store = new MemoryStore();
    const ring = new HashRing([A, B, C]);
    const count = SEGMENT_GATHER_LIMIT + 4_000;
    for (let i = 0; i < count; i++) store.mergeSync(`key:${i}`, record(1_000, `v${i}`));
    const replica = replicaOf(store, ring);
    // Every segment: more keys than the ring order hands out, so the store is scanned.
    const segments = new Set(Array.from({ length: ring.segmentCount }, (_, segment) => segment));
    const expected = Array.from({ length: count }, (_, i) => `key:${i}`).sort(compareKeys);

    let turns = 0;
    const ticking = setInterval(() => turns++, 0);
    const listed = await replica.keyVersions(segments);
    clearInterval(ticking);
    expect(
      [...listed.values()]
        .flat()
        .map(([key]) => key)
        .sort(compareKeys),
    ).to.deep.equal(expected);
    for (const [segment, heads] of listed) {
      expect(
        heads.every(([key]) => ring.segmentOf(key) === segment),
        `segment ${segment}`,
      ).to.equal(true);
    }
    expect(turns, 'timers ran while the scan was under way').to.be.greaterThan(0);
  });

  it('finds the keys of a few segments in ring order, without scanning the store', async () => {
    const store = new DelegatingStore();
    const ring = new HashRing([A, B, C]);
    const replica = replicaOf(store, ring);
    for (let i = 0; i < 9_000; i++) await replica.merge(`key:${i}`, record(1_000, `v${i}`));
    await replica.remove('key:10', { wall: 1_000, counter: 0, node: A });
    const segments = new Set([0, 100, 200, 300]);
    const expected = [...segments].map((segment) =>
      [...Array(9_000).keys()]
        .map((i) => `key:${i}`)
        .filter((key) => key !== 'key:10' && ring.segmentOf(key) === segment)
        .sort(compareKeys),
    );

    const scans = sinon.spy(store, 'scanKeys');
    const listed = await replica.keyVersions(segments);
    expect([...segments].map((segment) => listed.get(segment)?.map(([key]) => key) ?? [])).to.deep.equal(
      expected,
    );
    const all = expected.flat().sort(compareKeys);
    const page = await replica.keyVersionsPage(segments, { after: all[2], limit: 5 });
    expect(page.map(([key]) => key)).to.deep.equal(all.slice(3, 8));
    expect(scans.callCount, 'store scans').to.equal(0);
  });

  it('re-keys a large store to a new ring a page at a time, keeping up with the writes made meanwhile', async () => {
    const store = new MemoryStore();
    const before = new HashRing([A, B]);
    const after = new HashRing([A, B, C]);
    const replica = replicaOf(store, before);
    for (let i = 0; i < 9_000; i++) await replica.merge(`key:${i}`, record(1_000, `v${i}`));
    const segments = Array.from({ length: after.segmentCount }, (_, segment) => segment);

    replica.useRing(after);
    let duringScan = 0;
    for (let turn = 0; turn < 100 && replica.digests.ring.id !== after.id; turn++) {
      duringScan++;
      // Keys early and late in key order, new ones at either end, an overwrite and a removal each turn.
      await replica.merge(`key:${(turn * 97) % 9_000}`, record(2_000 + turn, `t${turn}`));
      await replica.merge(`a:${turn}`, record(2_000, 'first in key order'));
      await replica.merge(`z:${turn}`, record(2_000, 'last in key order'));
      await replica.remove(`key:${(turn * 89 + 7) % 9_000}`, { wall: 1_000, counter: 0, node: A });
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(replica.digests.ring.id, 'the scan ended').to.equal(after.id);
    expect(duringScan, 'turns that wrote while the old index was in use').to.be.at.least(3);
    const fresh = replicaOf(store, after);
    expect(segments.map((segment) => replica.digests.segment(segment))).to.deep.equal(
      segments.map((segment) => fresh.digests.segment(segment)),
    );
  });

  it('drops a rebuild in progress when the ring changes again', async () => {
    const store = new MemoryStore();
    const first = new HashRing([A, B]);
    const second = new HashRing([A, B, C]);
    const third = new HashRing([A, C]);
    const replica = replicaOf(store, first);
    for (let i = 0; i < 9_000; i++) await replica.merge(`key:${i}`, record(1_000, `v${i}`));
    const digestsOn = (ring: HashRing, of: LocalReplica) =>
      Array.from({ length: ring.segmentCount }, (_, segment) => of.digests.segment(segment));

    replica.useRing(second);
    await new Promise((resolve) => setImmediate(resolve));
    replica.useRing(first);
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(replica.digests.ring.id, 'back on the first ring, the build dropped').to.equal(first.id);

    replica.useRing(second);
    replica.useRing(third);
    for (let turn = 0; turn < 100 && replica.digests.ring.id !== third.id; turn++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(replica.digests.ring.id).to.equal(third.id);
    expect(digestsOn(third, replica)).to.deep.equal(digestsOn(third, replicaOf(store, third)));
  });

  it('stops a rebuild when the node stops, and keeps the old index if the store fails under one', async () => {
    class FailingStore extends MemoryStore {
      failing = false;
      scans = 0;
      override scanKeys(options: ScanOptions) {
        this.scans++;
        if (this.failing) throw new Error('a read error');
        return super.scanKeys(options);
      }
    }
    const store = new FailingStore();
    const before = new HashRing([A, B]);
    const after = new HashRing([A, B, C]);
    for (let i = 0; i < 9_000; i++) store.mergeSync(`key:${i}`, record(1_000, `v${i}`));
    const turns = async (count: number) => {
      for (let turn = 0; turn < count; turn++) await new Promise((resolve) => setImmediate(resolve));
    };

    const stopped = replicaOf(store, before);
    stopped.useRing(after);
    stopped.stop();
    const scans = store.scans;
    await turns(10);
    expect(store.scans, 'no page read after stop').to.equal(scans);
    expect(stopped.digests.ring.id).to.equal(before.id);

    const failing = replicaOf(store, before);
    failing.useRing(after);
    store.failing = true;
    await turns(10);
    expect(failing.digests.ring.id, 'the old index stays in use').to.equal(before.id);
    store.failing = false;
    failing.useRing(after);
    await turns(20);
    expect(failing.digests.ring.id, 'a later ring change builds afresh').to.equal(after.id);
  });

  it('does not reset digests from a scan that a write overlapped', async () => {
    const store = new MemoryStore();
    const ring = new HashRing([A, B, C]);
    const replica = replicaOf(store, ring);
    for (let i = 0; i < 9_000; i++) await replica.merge(`key:${i}`, record(1_000, `v${i}`));
    const segment = ring.segmentOf('key:1');
    const wrong: [number, number] = [1, 2];
    replica.digests.assign(segment, wrong);

    const scan = replica.keyVersions(new Set([segment]));
    await replica.merge('key:9999', record(2_000, 'during the scan'));
    await scan;
    expect(replica.digests.segment(segment), 'left alone').to.deep.equal(wrong);

    await replica.keyVersions(new Set([segment]));
    expect(replica.digests.segment(segment)).to.deep.equal(replicaOf(store, ring).digests.segment(segment));
  });
});
