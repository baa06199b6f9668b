import { expect } from 'chai';
import { clusterPerTest } from './helpers/cluster.js';
import { runKvdb } from './helpers/run-kvdb.js';

describe('the kvdb shell over several nodes (-n)', function () {
  this.timeout(60_000);
  const start = clusterPerTest();

  it('works through the nodes it is given, and fails over when the first of them is down', async () => {
    const cluster = await start({ size: 3, replicas: 3 });
    const nodes = cluster.nodes.map((node) => `127.0.0.1:${node.port}`).join(',');
    const written = await runKvdb(['-n', nodes], 'set greeting "hello"\nset n 1\n');
    expect(written).to.deep.include({ code: 0, stdout: 'OK\nOK\n' });
    await cluster.signal(0, 'SIGKILL');
    const read = await runKvdb(['-n', nodes], 'get greeting\nhas n\n');
    expect(read).to.deep.include({ code: 0, stdout: '"hello"\ntrue\n' });
  });

  it('refuses a node list it cannot read, saying why', async () => {
    const bad = await runKvdb(['-n', 'not-an-address'], 'ping\n');
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/^kvdb: .*not-an-address/);
    // An empty list (an unset variable in `-n "$NODES"`) is no reason to talk to 127.0.0.1:5878 instead.
    const empty = await runKvdb(['-n', '', 'ping']);
    expect(empty.code).to.equal(2);
    expect(empty.stderr).to.match(/^kvdb: Expected `--nodes` to list host:port/);
  });
});
