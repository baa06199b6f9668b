import { MemoryStore, MethodNotFoundError, type PeerMethod } from '@kvdb/core';
import { expect } from 'chai';
import { ClusterNode } from '../src/cluster-node.js';
import { rejection } from './utils/assertions.js';
import { live } from './utils/values.js';

const SELF = '10.0.0.1:5878';
const PEER = '10.0.0.2:5878';

/** A node of two members, not started: nothing it is asked here calls a peer. */
function node(): ClusterNode {
  const transport = { call: () => Promise.reject(new Error('no peer is called here')) };
  return new ClusterNode({ store: new MemoryStore(), transport }, { self: SELF, seeds: [PEER], replicas: 2 });
}

describe('ClusterNode peer calls', () => {
  it('has one handler for each peer method, and no other', () => {
    const methods: PeerMethod[] = [
      'peer.ping',
      'peer.ping_req',
      'peer.sync',
      'peer.get',
      'peer.put',
      'peer.get_many',
      'peer.put_many',
      'peer.keys',
      'peer.digest',
      'peer.range',
      'peer.ring_keys',
      'peer.stream',
      'peer.purge',
      'peer.prepare',
      'peer.propose',
      'peer.commit',
      'peer.stats',
    ];
    expect(Object.keys(node().peerHandlers).sort()).to.deep.equal([...methods].sort());
  });

  it('answers each call with the handler of the part that owns it', async () => {
    const cluster = node();
    const record = live({ wall: 1_000, counter: 0, node: PEER }, 'v');
    expect(await cluster.handlePeer('peer.put', { key: 'k', record })).to.deep.equal({ stored: true });
    expect(await cluster.handlePeer('peer.get', { key: 'k' })).to.deep.equal(record);
    expect(await cluster.replica.get('k'), 'the replica took the write').to.deep.equal(record);
    const digest = await cluster.handlePeer('peer.digest', {
      from: PEER,
      ring: 'another ring',
      detail: false,
    });
    expect(digest.ring, 'anti-entropy answered with its own ring').to.equal(cluster.replica.digests.id);
    const synced = await cluster.handlePeer('peer.sync', { members: [] });
    expect(synced.members.map(({ address }) => address).sort()).to.deep.equal([SELF, PEER]);
  });

  it('refuses a method it has no handler for with MethodNotFoundError, changing nothing', async () => {
    const cluster = node();
    for (const method of ['peer.nope', 'get', 'constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const error = await rejection(cluster.handlePeer(method as PeerMethod, {} as never));
      expect(error, method).to.be.instanceOf(MethodNotFoundError);
    }
    expect(await cluster.replica.counts()).to.deep.equal({ live: 0, tombstones: 0 });
  });
});
