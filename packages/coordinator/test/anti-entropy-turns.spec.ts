import type { MemberAddress } from '@kvdb/core';
import { expect } from 'chai';
import { LOCAL_TIMINGS, type Timings } from '../src/defaults.js';
import { createSimCluster, type SimCluster } from './utils/sim-cluster.js';

/** No background rounds: the test runs each round itself. */
const QUIET: Timings = { ...LOCAL_TIMINGS, antiEntropyIntervalMs: 1e9 };

/** Runs `rounds` anti-entropy rounds of node `index` and names, per round, the peers asked for digests. */
async function peersAsked(cluster: SimCluster, index: number, rounds: number): Promise<MemberAddress[][]> {
  const asker = cluster.address(index);
  const asked: MemberAddress[] = [];
  for (const other of cluster.upIndices()) {
    const antiEntropy = cluster.node(other).antiEntropy;
    const handle = antiEntropy.handleDigest.bind(antiEntropy);
    antiEntropy.handleDigest = (params) => {
      if (params.from === asker && !params.detail) asked.push(cluster.address(other));
      return handle(params);
    };
  }
  const perRound: MemberAddress[][] = [];
  for (let round = 0; round < rounds; round++) {
    asked.length = 0;
    await cluster.settle(cluster.node(index).antiEntropy.round());
    perRound.push([...asked]);
  }
  return perRound;
}

// Each anti-entropy round compares with one replica peer, the peers taking turns, so a cluster's repair traffic
// grows with N, not N².
describe('Anti-entropy turns (simulated cluster)', () => {
  let cluster: SimCluster;

  afterEach(async () => {
    await cluster?.teardown();
  });

  it('compares with one peer a round, every replica peer in turn', async () => {
    cluster = await createSimCluster({ n: 6, seed: 61, timings: QUIET });
    const node = cluster.node(0);
    const peers = node.replica.digests.replicaPeers(node.self, node.coordinator.replicas);
    expect(peers, 'on 256 vnodes a node shares segments with every other').to.have.length(5);

    const rounds = await peersAsked(cluster, 0, 2 * peers.length);
    expect(
      rounds.every((asked) => asked.length === 1),
      'one peer a round',
    ).to.equal(true);
    const order = rounds.flat();
    expect(order.slice(0, peers.length)).to.have.members(peers);
    expect(order.slice(peers.length), 'the same turns again').to.deep.equal(order.slice(0, peers.length));
  });

  it('takes turns only among alive peers that share segments with it', async () => {
    // One vnode each and R=2: a node shares segments with its ring neighbours only.
    cluster = await createSimCluster({ n: 8, replicas: 2, vnodes: 1, seed: 62, timings: QUIET });
    const node = cluster.node(0);
    const peers = node.replica.digests.replicaPeers(node.self, 2);
    expect(peers).to.have.length(2);
    for (const peer of peers) {
      expect(node.replica.digests.sharedSegments(node.self, peer, 2)).to.not.be.empty;
    }
    const [down, up] = peers as [MemberAddress, MemberAddress];

    expect((await peersAsked(cluster, 0, 4)).flat()).to.have.members([...peers, ...peers]);

    await cluster.kill(cluster.indexOf(down));
    await cluster.until(() => cluster.statusOf(0, down) === 'dead', { withinMs: 10_000, what: 'dead' });
    expect((await peersAsked(cluster, 0, 3)).flat(), 'the dead peer skipped').to.deep.equal([up, up, up]);
  });
});
