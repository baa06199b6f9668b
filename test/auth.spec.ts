import { KVClient, UnauthorizedError } from '@kvdb/client';
import { expect } from 'chai';
import { TestCluster } from './helpers/cluster.js';
import { rawPost, single } from './helpers/raw.js';

const TOKEN = 'correct horse battery staple';

describe('--auth-token on real processes', function () {
  this.timeout(30_000);
  let cluster: TestCluster;
  const clients: KVClient[] = [];
  const client = (index: number, authToken?: string): KVClient => {
    const made = new KVClient({ port: cluster.node(index).port, authToken, timeoutMs: 8_000 });
    clients.push(made);
    return made;
  };

  before(async () => {
    cluster = await TestCluster.start({
      size: 2,
      replicas: 2,
      args: ['--auth-token', TOKEN],
      authToken: TOKEN,
    });
  });

  after(async () => {
    await Promise.all(clients.map((made) => made.close()));
    await cluster?.stop();
  });

  it('answers a request without the token with HTTP 401 and a JSON-RPC error, and stores nothing', async () => {
    const reply = await rawPost(
      cluster.node(0).port,
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'set', params: ['intruder', 1] }),
    );
    expect(reply.status).to.equal(401);
    expect(single(reply).error).to.include({ code: 1004 });
    expect(await client(1, TOKEN).has('intruder')).to.equal(false);
  });

  it('refuses a wrong token with UnauthorizedError, never echoing a token', async () => {
    const error = await client(0, 'guess-42')
      .set('k', 1)
      .catch((e: unknown) => e);
    expect(error).to.be.instanceOf(UnauthorizedError);
    expect((error as Error).message)
      .not.to.contain('guess-42')
      .and.not.to.contain(TOKEN);
  });

  it('serves clients with the token, and the nodes replicate to each other with it', async () => {
    await client(0, TOKEN).set('shared', 'secret value');
    expect(await client(1, TOKEN).get('shared', null, { consistency: 'all' })).to.equal('secret value');
    const members = await client(1, TOKEN).listMembers();
    expect(members.map((m) => m.status)).to.deep.equal(['alive', 'alive']);
  });

  it('never writes the token to the logs', () => {
    for (const node of cluster.nodes) expect(node.output.join('')).not.to.contain(TOKEN);
  });
});
