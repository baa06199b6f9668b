import { ClusterNode, type PeerTransport } from '@kvdb/coordinator';
import {
  type ClusterStatus,
  cryptoHasher,
  HashRing,
  MemoryStore,
  type NodeStats,
  type RingInfo,
  toJsonText,
} from '@kvdb/core';
import { defined } from '@kvdb/core/testing';
import { expect } from 'chai';
import { ClusterView, DEFAULT_STATS_TIMEOUT_MS } from '../src/cluster-view.js';
import type { Limits } from '../src/config.js';
import { clusterStatus } from '../src/methods/cluster-status.js';
import { METHODS } from '../src/methods/index.js';
import { ring } from '../src/methods/ring.js';
import { stats } from '../src/methods/stats.js';
import type { MethodContext } from '../src/methods/types.js';
import { RequestCounter } from '../src/request-counter.js';
import { call, refusal } from './utils/method-calls.js';
import { SELF, singleNode } from './utils/method-harness.js';

const LIMITS: Limits = { maxKeyBytes: 64, maxValueBytes: 1_000, maxBodyBytes: 10_000, maxBatch: 10 };
const PEER = '127.0.0.1:5879';
const DOWN = '127.0.0.1:5880';

describe('cluster_status', () => {
  it('shows a lone node: the whole ring, its own counters, and its start', async () => {
    const { context, coordinator } = singleNode(LIMITS);
    await coordinator.set('a', toJsonText(1));
    const status = (await call(clusterStatus, {}, context)) as ClusterStatus;
    expect(status.self).to.equal(SELF);
    expect(status.replication).to.deep.equal({ replicas: 1 });
    expect(status.members).to.have.length(1);
    const [member] = status.members;
    expect(member).to.include({ address: SELF, status: 'alive', share: 1 });
    expect(member?.arcs).to.deep.equal([[0, 1]]);
    expect(member?.stats?.keys).to.equal(1);
    expect(member?.stats?.requests).to.deep.include({ total: 0, errors: 0, totalMs: 0 });
    expect(status.events.map((event) => event.kind)).to.deep.equal(['node']);
    expect(status.ring.vnodes).to.be.above(0);
    await refusal(call(clusterStatus, { verbose: true }, context));
  });

  it('asks every other member for its counters at once, and shows a member that is down or silent without them', async () => {
    const asked: Array<{ to: string; timeoutMs: number | undefined }> = [];
    const transport: PeerTransport = {
      call: (async (to: string, method: string, _params: unknown, options?: { timeoutMs?: number }) => {
        if (method !== 'peer.stats') throw new Error('only peer.stats is expected here');
        asked.push({ to, timeoutMs: options?.timeoutMs });
        if (to === PEER) return { address: PEER, keys: 7 } as NodeStats;
        throw new Error('no answer');
      }) as PeerTransport['call'],
    };
    const node = new ClusterNode(
      { store: new MemoryStore(), transport },
      { self: SELF, seeds: [SELF, PEER, DOWN], replicas: 2 },
    );
    const { context } = contextOf(node, transport);

    const silent = (await call(clusterStatus, [], context)) as ClusterStatus;
    expect(silent.members.map((m) => [m.address, m.stats?.keys ?? null])).to.deep.equal([
      [SELF, 0],
      [PEER, 7],
      [DOWN, null],
    ]);
    expect(silent.members.reduce((sum, m) => sum + m.share, 0)).to.be.closeTo(1, 1e-9);
    expect(asked.every((ask) => ask.timeoutMs === DEFAULT_STATS_TIMEOUT_MS)).to.equal(true);

    asked.length = 0;
    node.membership.update(DOWN, 'dead');
    const down = (await call(clusterStatus, [], context)) as ClusterStatus;
    expect(down.members.find((m) => m.address === DOWN)).to.include({ status: 'dead', stats: null });
    expect(asked.map((ask) => ask.to)).to.deep.equal([PEER]);
    expect(down.events.map((event) => event.message)).to.include(`${DOWN} is dead (was alive)`);
  });
});

describe('stats: requests', () => {
  it('counts the requests answered, their time, and those with an error (any member of a batch)', async () => {
    const { context } = singleNode(LIMITS);
    context.view.requests.record(2.5, { jsonrpc: '2.0', id: 1, result: 'pong' });
    context.view.requests.record(1, { jsonrpc: '2.0', id: 2, error: { code: -32601, message: 'no' } });
    context.view.requests.record(0.5, [
      { jsonrpc: '2.0', id: 3, result: 1 },
      { jsonrpc: '2.0', id: 4, error: { code: 1001, message: 'quorum' } },
    ]);
    context.view.requests.record(0.25, undefined);
    const answered = (await call(stats, {}, context)) as NodeStats;
    const none = { replica: 0, other: 0 };
    expect(answered.requests).to.deep.equal({ total: 4, errors: 2, totalMs: 4.25, coordinated: none });
    expect(new RequestCounter().counts).to.deep.equal({ total: 0, errors: 0, totalMs: 0, coordinated: none });
  });

  it('counts single-key requests by whether this node holds the key, from the ring it advertises', async () => {
    const transport: PeerTransport = { call: () => Promise.reject(new Error('no peer answers here')) };
    const node = new ClusterNode(
      { store: new MemoryStore(), transport },
      { self: SELF, seeds: [SELF, PEER, DOWN], replicas: 1 },
    );
    const { context, view } = contextOf(node, transport);
    const info = (await call(ring, {}, context)) as RingInfo;
    expect(info).to.deep.include({ self: SELF, hasher: 'md5', replicas: 1 });
    expect(info.members).to.deep.equal([SELF, PEER, DOWN].sort());
    const rebuilt = new HashRing(info.members, { vnodes: info.vnodes, hasher: cryptoHasher(info.hasher) });
    expect(rebuilt.id).to.equal(info.id);

    const keys = Array.from({ length: 30 }, (_, i) => `key-${i}`);
    const own = keys.filter((key) => rebuilt.preferenceList(key, 1)[0] === SELF);
    const has = defined(METHODS.find((method) => method.name === 'has'));
    for (const key of keys) await call(has, { key }, context).catch(() => undefined);
    expect(view.requests.counts.coordinated).to.deep.equal({
      replica: own.length,
      other: keys.length - own.length,
    });
  });
});

function contextOf(
  node: ClusterNode,
  transport: PeerTransport,
): { context: MethodContext; view: ClusterView } {
  const view = new ClusterView({ node, transport });
  const peer = node.peerHandlers;
  const context = { node, coordinator: node.coordinator, peer, limits: LIMITS, view, onLeft: () => {} };
  return { context, view };
}
