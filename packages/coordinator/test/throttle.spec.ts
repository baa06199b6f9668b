import { type KVRecord, MemoryStore, type PeerParams, type PutResult } from '@kvdb/core';
import { expect } from 'chai';
import type sinon from 'sinon';
import { systemClock } from '../src/clock.js';
import { HintedHandoff } from '../src/hinted-handoff.js';
import { LocalReplica } from '../src/local-replica.js';
import { Membership } from '../src/membership.js';
import type { PeerTransport } from '../src/peer-transport.js';
import { Rebalancer } from '../src/rebalancer.js';
import { Throttle } from '../src/throttle.js';
import { entryBytes } from '../src/transfer.js';
import { track, useFakeTimers } from './utils/timing.js';
import { live } from './utils/values.js';

const [A, B, C] = ['10.0.0.1:5878', '10.0.0.2:5878', '10.0.0.3:5878'];
const MIB = 1_048_576;

const record = (value: string): KVRecord => live({ wall: 1_000, counter: 0, node: A }, value);

/** A transport whose peers store every batch at once; it notes each put_many: when, to whom, and its bytes. */
class RecordingTransport implements PeerTransport {
  readonly sent: Array<{ at: number; to: string; bytes: number; keys: string[] }> = [];

  async call(to: string, _method: string, params: unknown): Promise<never> {
    const { entries } = params as PeerParams<'peer.put_many'>;
    const bytes = entries.reduce((sum, [key, value]) => sum + entryBytes(key, value), 0);
    this.sent.push({ at: Date.now(), to, bytes, keys: entries.map(([key]) => key) });
    return entries.map((): PutResult => ({ stored: true })) as never;
  }
}

describe('Throttle', () => {
  let clock: sinon.SinonFakeTimers;

  beforeEach(() => {
    clock = useFakeTimers();
  });

  afterEach(() => {
    clock.restore();
  });

  it('lets a second of bytes through at once, then spaces takes at the rate, in order', async () => {
    const throttle = new Throttle(systemClock, 1_000);
    const done: number[] = [];
    const takes = [600, 400, 500, 500].map((bytes, i) => throttle.take(bytes).then(() => done.push(i)));
    await clock.tickAsync(0);
    expect(done, 'the burst').to.deep.equal([0, 1]);
    await clock.tickAsync(499);
    expect(done).to.deep.equal([0, 1]);
    await clock.tickAsync(1);
    expect(done).to.deep.equal([0, 1, 2]);
    await clock.tickAsync(500);
    expect(done).to.deep.equal([0, 1, 2, 3]);
    await Promise.all(takes);
    expect(throttle.taken).to.equal(2_000);
  });

  it('never waits at 0 (unthrottled), and refuses a negative rate', async () => {
    const throttle = new Throttle(systemClock, 0);
    const take = track(throttle.take(10 * MIB));
    await Promise.resolve();
    expect(take.settled).to.equal(true);
    expect(throttle.limited).to.equal(false);
    expect(() => new Throttle(systemClock, -1)).to.throw(RangeError, /from 0 and up/);
  });

  it('bounds the bytes per second of a rebalance and a hint replay sharing it, on the fake clock', async () => {
    const rate = MIB;
    const throttle = new Throttle(systemClock, rate);
    const transport = new RecordingTransport();
    const value = 'x'.repeat(10_000);

    // A leaves: its 300 records (3 MB) go to B and C.
    const membership = new Membership(A, [B, C]);
    membership.update(A, 'left');
    const store = new MemoryStore();
    for (let i = 0; i < 300; i++) store.mergeSync(`key:${i}`, record(value));
    const replica = new LocalReplica({ store, ring: membership.ring, self: A });
    const rebalancer = new Rebalancer(
      { membership, replica, transport, throttle },
      { replicas: () => 2, batchSize: 50 },
    );
    // And it holds 200 hints (2 MB) for C.
    const hints = new HintedHandoff({ membership, transport, throttle }, { batchSize: 50 });
    for (let i = 0; i < 200; i++) hints.add(C, `hint:${i}`, record(value));

    const start = Date.now();
    const work = track(Promise.all([rebalancer.pass(), hints.replay(C)]));
    while (!work.settled) await clock.tickAsync(50);
    const [handed, replayed] = await work.promise;
    expect(handed).to.deep.equal({ handedOff: 300, remaining: 0 });
    expect(replayed).to.equal(200);

    const total = transport.sent.reduce((sum, call) => sum + call.bytes, 0);
    expect(total, 'two copies of each record handed off, one of each hint').to.be.above(7.5 * MIB);
    let sent = 0;
    for (const call of transport.sent) {
      sent += call.bytes;
      const allowed = (rate * (call.at - start + 1_000)) / 1_000; // the rate, after a second's burst
      expect(sent, `bytes sent by ${call.at - start} ms`).to.be.at.most(allowed);
    }
    const last = transport.sent.at(-1)?.at ?? start;
    expect(last - start, 'as long as the rate makes it, less the burst').to.be.at.least(
      ((total - rate) / rate) * 1_000 - 500,
    );
  });
});
