import {
  type FillLog,
  type FillProgress,
  type KVRecord,
  MemoryStore,
  type PeerMethod,
  type PeerParams,
  type PeerResult,
  type StreamParams,
} from '@kvdb/core';
import { expect } from 'chai';
import { LocalReplica } from '../src/local-replica.js';
import { Membership } from '../src/membership.js';
import type { PeerTransport } from '../src/peer-transport.js';
import { RangeFill } from '../src/range-fill.js';
import { entryBytes } from '../src/transfer.js';
import { live } from './utils/values.js';

const [A, B, C, D] = ['10.0.0.1:5878', '10.0.0.2:5878', '10.0.0.3:5878', '10.0.0.4:5878'];
const version = { wall: 1_000, counter: 0, node: A };

/**
 * Each source answers `peer.stream` with three pages of two records (the same ones from every source, whatever
 * the segments asked), and the stream from `failing` breaks once at its third page.
 */
class PagedSources implements PeerTransport {
  readonly streams: Array<{ to: string; after: string | undefined }> = [];
  private failed = false;

  constructor(private readonly failing: string) {}

  async call<M extends PeerMethod>(to: string, method: M, params: PeerParams<M>): Promise<PeerResult<M>> {
    if (method !== 'peer.stream') throw new Error(`unexpected ${method}`);
    const { after } = params as StreamParams;
    this.streams.push({ to, after });
    const page = after === undefined ? 0 : (Number(after.slice(1)) + 1) / 2;
    if (to === this.failing && page === 2 && !this.failed) {
      this.failed = true;
      throw new Error('the source restarted');
    }
    const entries: Array<[string, KVRecord]> = [0, 1].map((i) => [`k${page * 2 + i}`, live(version, page)]);
    const bytes = entries.reduce((sum, [key, record]) => sum + entryBytes(key, record), 0);
    const reply = { entries, next: page === 2 ? null : `k${page * 2 + 1}`, bytes };
    return reply as PeerResult<M>;
  }
}

describe('RangeFill', () => {
  it('takes a stream cut short up again after the last page it received, and turns normal once a quorum of the sources up streamed in full', async () => {
    const membership = new Membership(D, [A, B, C], {}, 0, 'joining');
    for (const address of [A, B, C])
      membership.apply({ address, status: 'alive', incarnation: 1, phase: 'normal' });
    // With C down, a quorum of the sources is A and B: the stream from A must be finished.
    membership.apply({ address: C, status: 'dead', incarnation: 1, phase: 'normal' });
    const replica = new LocalReplica({ store: new MemoryStore(), ring: membership.ring, self: D });
    const restated: unknown[] = [];
    const placement = membership.placement;
    const pending = placement.pendingSegments(D, 3);
    expect(pending.length, 'segments the joining node is about to own').to.be.above(0);
    const transport = new PagedSources(A);
    const fill = new RangeFill(
      { membership, replica, transport },
      {
        replicas: () => 3,
        restate: async (change) => restated.push(change),
        announce: async () => true,
        settleMs: 0,
      },
    );

    let held = await fill.fill();
    for (let run = 0; !held && run < 5; run++) held = await fill.fill();
    expect(held).to.equal(true);
    const fromA = transport.streams.filter(({ to }) => to === A).map(({ after }) => after ?? null);
    expect(fromA, 'the pages asked of the source whose stream broke').to.deep.equal([null, 'k1', 'k3', 'k3']);
    const fromB = transport.streams.filter(({ to }) => to === B).map(({ after }) => after ?? null);
    expect(fromB).to.deep.equal([null, 'k1', 'k3']);
    expect(transport.streams.filter(({ to }) => to === C)).to.deep.equal([]);
    expect(restated).to.deep.equal([{ phase: 'normal', filled: placement.fillId }]);
    expect(fill.stats.segments).to.deep.equal({ pending: pending.length, done: pending.length });
    expect((await replica.counts()).live).to.equal(6);
  });

  it('streams nothing until every alive member has heard of the move', async () => {
    const membership = new Membership(D, [A, B, C], {}, 0, 'joining');
    for (const address of [A, B, C])
      membership.apply({ address, status: 'alive', incarnation: 1, phase: 'normal' });
    const replica = new LocalReplica({ store: new MemoryStore(), ring: membership.ring, self: D });
    const transport = new PagedSources('none');
    let reached = false;
    let announced = 0;
    const fill = new RangeFill(
      { membership, replica, transport },
      {
        replicas: () => 3,
        restate: async () => undefined,
        announce: async () => {
          announced += 1;
          return reached;
        },
        settleMs: 0,
      },
    );
    expect(await fill.fill(), 'a member did not answer').to.equal(false);
    expect(transport.streams).to.deep.equal([]);
    reached = true;
    expect(await fill.fill()).to.equal(true);
    expect(transport.streams.length).to.be.above(0);
    expect(announced).to.equal(2);
  });

  it('takes its fetch up after a restart where the stored progress left it, streaming nothing twice', async () => {
    const membership = () => {
      const view = new Membership(D, [A, B, C], {}, 0, 'joining');
      for (const address of [A, B, C])
        view.apply({ address, status: 'alive', incarnation: 1, phase: 'normal' });
      view.apply({ address: C, status: 'dead', incarnation: 1, phase: 'normal' });
      return view;
    };
    let stored: FillProgress | undefined;
    const fillLog: FillLog = {
      loadFill: () => stored,
      saveFill: async (progress) => {
        stored = structuredClone(progress);
      },
    };
    const init = {
      replicas: () => 3,
      restate: async () => undefined,
      announce: async () => true,
      settleMs: 0,
    };
    const store = new MemoryStore();
    const first = new PagedSources(A);
    const before = membership();
    const replica = new LocalReplica({ store, ring: before.ring, self: D });
    // The first run streams B in full and A up to its cut, and stops there: the process is gone.
    expect(
      await new RangeFill({ membership: before, replica, transport: first, fillLog }, init).fill(),
    ).to.equal(false);
    expect(stored?.cut.map(([source, , after]) => [source, after])).to.deep.equal([[A, 'k3']]);

    const again = new PagedSources('none');
    const after = membership();
    const restarted = new RangeFill(
      {
        membership: after,
        replica: new LocalReplica({ store, ring: after.ring, self: D }),
        transport: again,
        fillLog,
      },
      init,
    );
    expect(await restarted.fill()).to.equal(true);
    expect(again.streams, 'only the rest of the stream that was cut').to.deep.equal([{ to: A, after: 'k3' }]);
  });
});
