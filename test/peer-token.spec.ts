import { KVClient, MethodNotFoundError } from '@kvdb/client';
import { ErrorCode, UnauthorizedError } from '@kvdb/core';
import { type LocalCluster, PEER_PROTOCOL, StreamPeerTransport, startLocalCluster } from '@kvdb/server';
import { expect } from 'chai';
import { logMessages } from './helpers/cluster.js';
import { rawPost, single } from './helpers/raw.js';
import { waitFor } from './helpers/wait.js';

const TOKEN = 'what-the-clients-hold';
const PEER_TOKEN = 'what-only-the-nodes-hold';
const WRONG_PEER_TOKEN = 'a-typo-in-one-config';

describe('--peer-token on real processes', function () {
  this.timeout(60_000);
  let cluster: LocalCluster;
  const outputs = new Map<number, string[]>();
  const output = (index: number) => logMessages(outputs.get(index) ?? []).join('\n');
  const clients: KVClient[] = [];
  const client = (index: number): KVClient => {
    const port = cluster.nodes[index]?.port;
    const made = new KVClient({ port, authToken: TOKEN, timeoutMs: 8_000 });
    clients.push(made);
    return made;
  };

  before(async () => {
    cluster = await startLocalCluster({
      nodes: 3,
      replicas: 3,
      authToken: TOKEN,
      ready: 'members',
      // The three founders share the peer token; a node added later (index 3) was given another.
      args: (index) => ['--auth-token', TOKEN, '--peer-token', index < 3 ? PEER_TOKEN : WRONG_PEER_TOKEN],
      output: (node, chunk) => {
        const lines = outputs.get(node.index) ?? [];
        lines.push(chunk.toString());
        outputs.set(node.index, lines);
      },
    });
  });

  after(async () => {
    await Promise.all(clients.map((made) => made.close()));
    await cluster?.stop();
  });

  it('replicates between nodes that share the peer token', async () => {
    await client(0).set('shared', 'across the cluster', { consistency: 'all' });
    expect(await client(2).get('shared', null, { consistency: 'all' })).to.equal('across the cluster');
    const members = await client(1).listMembers();
    expect(members.map((member) => member.status)).to.deep.equal(['alive', 'alive', 'alive']);
  });

  it('answers peer. methods on POST / with -32601, even with the token', async () => {
    const error = await client(0)
      .call('peer.get', { key: 'shared' })
      .catch((e: unknown) => e);
    expect(error).to.be.instanceOf(MethodNotFoundError);
    expect((error as Error).message).to.match(/served on peer streams only/);
  });

  it('refuses a peer stream to a client holding the auth token only: 401', async () => {
    const port = cluster.nodes[0]?.port ?? 0;
    const headers = { connection: 'upgrade', upgrade: PEER_PROTOCOL, authorization: `Bearer ${TOKEN}` };
    const refused = await rawPost(port, '', headers, 'GET', '/peer');
    expect(refused.status).to.equal(401);
    expect(single(refused).error?.code).to.equal(ErrorCode.UNAUTHORIZED);
    const asClient = new StreamPeerTransport({ peerToken: TOKEN });
    try {
      const address = cluster.addresses[0] ?? '';
      const error = await asClient.call(address, 'peer.get', { key: 'shared' }).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(UnauthorizedError);
    } finally {
      await asClient.close();
    }
  });

  it('keeps a node with a wrong peer token out, both sides saying why', async () => {
    const seed = cluster.addresses[0] ?? '';
    const added = await cluster.addNode([seed]);
    await waitFor('the added node to report the refusal', () =>
      output(added).includes(
        `peer stream to ${seed} refused: ${seed} refused this node's peer token (every node of the cluster needs the same --peer-token)`,
      ),
    );
    await waitFor('the seed to report the refusal', () =>
      output(0).includes(
        `refused a peer stream from 127.0.0.1 (naming itself "${cluster.addresses[added]}"): missing or wrong peer token (every node of the cluster needs the same --peer-token)`,
      ),
    );
    const members = await client(0).listMembers();
    expect(members.map((member) => member.address)).to.have.members(cluster.addresses.slice(0, 3));
    for (const index of [0, 1, 2, added]) {
      for (const token of [TOKEN, PEER_TOKEN, WRONG_PEER_TOKEN]) expect(output(index)).not.to.contain(token);
    }
  });
});
