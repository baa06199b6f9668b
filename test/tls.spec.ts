import { copyFile } from 'node:fs/promises';
import { BENCH_BIN } from '@kvdb/bench';
import { ConnectionError, InvalidRequestError } from '@kvdb/client';
import { type IssuedCertificate, servedSerial, TestCertificateAuthority } from '@kvdb/core/testing';
import { expect } from 'chai';
import { logLines, TestCluster } from './helpers/cluster.js';
import { runKvdb, runNodeScript } from './helpers/run-kvdb.js';
import { waitFor } from './helpers/wait.js';

/** The error a promise rejects with; fails the test if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

/** Whether a node printed a line that matches. */
function printed(cluster: TestCluster, index: number, pattern: RegExp): boolean {
  return logLines(cluster.node(index).output).some((line) => pattern.test(line));
}

describe('TLS on client and peer traffic', function () {
  this.timeout(60_000);
  let ca: TestCertificateAuthority;
  let other: TestCertificateAuthority;
  let node: IssuedCertificate;
  let client: IssuedCertificate;
  let stranger: IssuedCertificate;

  before(async () => {
    [ca, other] = await Promise.all([
      TestCertificateAuthority.create(),
      TestCertificateAuthority.create('another CA'),
    ]);
    [node, client, stranger] = await Promise.all([
      ca.issue('node'),
      ca.issue('client', { use: 'client' }),
      other.issue('stranger', { use: 'client' }),
    ]);
  });

  after(async () => {
    await Promise.all([ca?.remove(), other?.remove()]);
  });

  const clientFlags = () => [
    '--tls-ca',
    ca.certFile,
    '--tls-cert',
    client.certFile,
    '--tls-key',
    client.keyFile,
  ];

  describe('a 3-node cluster with mutual TLS', () => {
    let cluster: TestCluster;

    before(async () => {
      cluster = await TestCluster.start({
        size: 3,
        args: [
          ...['--tls-cert', node.certFile, '--tls-key', node.keyFile, '--tls-ca', ca.certFile],
          ...['--tls-client-auth', '--timings', 'local'],
        ],
        tls: { ca: ca.cert, cert: client.cert, key: client.key },
      });
    });

    afterEach(function () {
      if (this.currentTest?.state === 'failed') process.stderr.write(`node output:\n${cluster.logs()}\n`);
    });

    after(async () => {
      await cluster?.stop();
    });

    it('replicates over TLS peer streams, for clients that present a certificate', async () => {
      await waitFor('every member alive on every node', async () => {
        const lists = await Promise.all([0, 1, 2].map((index) => cluster.client(index).listMembers()));
        return lists.every((list) => list.filter((member) => member.status === 'alive').length === 3);
      });
      await cluster.client(0).set('greeting', 'hello over TLS', { consistency: 'all' });
      for (const index of [1, 2]) {
        expect(await cluster.client(index).get('greeting', null, { consistency: 'all' })).to.equal(
          'hello over TLS',
        );
      }
    });

    it('refuses a client without a certificate, and one whose certificate another CA signed', async () => {
      const bare = cluster.connect(0, { tls: { ca: ca.cert } });
      const none = await rejection(bare.ping());
      expect(none).to.be.instanceOf(ConnectionError);
      expect(none.message).to.match(/over TLS: it requires a client certificate \(--tls-client-auth\)/);

      const foreign = cluster.connect(0, { tls: { ca: ca.cert, cert: stranger.cert, key: stranger.key } });
      const refused = await rejection(foreign.ping());
      expect(refused).to.be.instanceOf(ConnectionError);
      expect(refused.message).to.match(
        /connection reset \(a node started with --tls-client-auth resets clients/,
      );

      await waitFor(
        'the node to log both',
        () =>
          printed(
            cluster,
            0,
            /WARN .*TLS handshake with 127\.0\.0\.1:\d+ failed: it presented no certificate/,
          ) &&
          printed(
            cluster,
            0,
            /WARN .*TLS handshake with 127\.0\.0\.1:\d+ failed: its certificate is not trusted/,
          ),
      );
    });

    it('answers plain HTTP with an error that says to use https, in KVClient and the shell, and logs it', async () => {
      const plain = cluster.connect(1);
      const error = await rejection(plain.ping());
      expect(error).to.be.instanceOf(InvalidRequestError);
      expect(error.message).to.match(/^this node speaks TLS: use https/);

      const shell = await runKvdb(['-P', String(cluster.node(1).port), 'ping']);
      expect(shell.code).to.equal(1);
      expect(shell.stderr).to.match(/this node speaks TLS: use https/);
      await waitFor('the node to log it', () =>
        printed(cluster, 1, /WARN .*refused plain HTTP from 127\.0\.0\.1/),
      );
    });

    it("takes the shell's TLS flags and variables, and the bench's flags", async () => {
      const port = String(cluster.node(2).port);
      const set = await runKvdb(['-P', port, ...clientFlags(), 'set', 'shell-key', '"from the shell"']);
      expect(set.stderr).to.equal('');
      expect(set.code).to.equal(0);
      const env = { KVDB_TLS_CA: ca.certFile, KVDB_TLS_CERT: client.certFile, KVDB_TLS_KEY: client.keyFile };
      const saved = { ...process.env };
      Object.assign(process.env, env);
      try {
        const get = await runKvdb(['-P', port, 'get', 'shell-key']);
        expect(get.stdout.trim()).to.equal('"from the shell"');
      } finally {
        for (const name of Object.keys(env)) {
          if (saved[name] === undefined) delete process.env[name];
          else process.env[name] = saved[name];
        }
      }

      const missing = await runKvdb(['-P', port, '--tls-ca', `${ca.dir}/missing.pem`, 'ping']);
      expect(missing.code).to.equal(2);
      expect(missing.stderr).to.match(/kvdb: cannot read --tls-ca .*missing\.pem: ENOENT/);

      const targets = cluster.addresses.join(',');
      const bench = await runNodeScript(
        BENCH_BIN,
        ['get', '-t', targets, '-n', '300', '-c', '6', '-k', '50', '--json', ...clientFlags()],
        '',
        30_000,
      );
      expect(bench.stderr).to.equal('');
      expect(bench.code).to.equal(0);
      const report = JSON.parse(bench.stdout) as { requests: number; errors: { total: number } };
      expect(report.errors.total).to.equal(0);
    });
  });

  it('a TLS client of a plain node says the node does not speak TLS, and the node logs it', async () => {
    const cluster = await TestCluster.start({ size: 1, replicas: 1 });
    try {
      const secure = cluster.connect(0, { tls: { ca: ca.cert } });
      const error = await rejection(secure.ping());
      expect(error).to.be.instanceOf(ConnectionError);
      expect(error.message).to.match(/over TLS: it does not speak TLS \(it answered in plain HTTP\)/);
      await waitFor('the node to log it', () =>
        printed(
          cluster,
          0,
          /WARN .*refused a TLS connection from 127\.0\.0\.1:\d+: this node speaks plain HTTP/,
        ),
      );
    } finally {
      await cluster.stop();
    }
  });

  it('reloads its certificate on SIGHUP: new connections see the new one', async () => {
    const cert = `${ca.dir}/sighup.pem`;
    const key = `${ca.dir}/sighup-key.pem`;
    await Promise.all([copyFile(node.certFile, cert), copyFile(node.keyFile, key)]);
    const renewed = await ca.issue('renewed');
    const cluster = await TestCluster.start({
      size: 1,
      replicas: 1,
      logLevel: 'info',
      args: ['--tls-cert', cert, '--tls-key', key],
      tls: { ca: ca.cert },
    });
    try {
      const port = cluster.node(0).port;
      const before = await servedSerial(port, ca.cert);
      await Promise.all([copyFile(renewed.certFile, cert), copyFile(renewed.keyFile, key)]);
      await cluster.signal(0, 'SIGHUP');
      const after = await waitFor('the renewed certificate', async () => {
        const serial = await servedSerial(port, ca.cert);
        return serial !== before && serial;
      });
      expect(after).to.not.equal(before);
      expect(printed(cluster, 0, /INFO .*TLS certificate reloaded: CN=renewed/)).to.equal(true);
      expect(cluster.isRunning(0)).to.equal(true);
      expect(await cluster.connect(0, { tls: { ca: ca.cert } }).ping()).to.equal('pong');
    } finally {
      await cluster.stop();
    }
  });
});
