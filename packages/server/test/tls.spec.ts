import { copyFile, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { Logger } from '@kvdb/coordinator';
import { toJsonText } from '@kvdb/core';
import { type IssuedCertificate, servedSerial, TestCertificateAuthority } from '@kvdb/core/testing';
import { expect } from 'chai';
import sinon from 'sinon';
import { resolveConfig } from '../src/config.js';
import { KVNode } from '../src/node.js';
import { readTlsFiles } from '../src/node-tls.js';
import { rateLimitedWarn } from '../src/tls-guard.js';
import { freePort, post, until } from './utils/node-harness.js';

/** A logger that keeps every line, with its level. */
function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (line: string) => {
    lines.push(`${level} ${line}`);
  };
  return { lines, debug: at('DEBUG'), info: at('INFO'), warn: at('WARN'), error: at('ERROR') };
}

describe('TLS options', () => {
  it('takes a certificate with its key, and refuses one without the other, naming both flags', () => {
    expect(resolveConfig({ tlsCert: 'c.pem', tlsKey: 'k.pem' })).to.include({
      tlsCert: 'c.pem',
      tlsKey: 'k.pem',
    });
    expect(resolveConfig({ tlsCert: '', tlsKey: '' }).tlsCert, 'empty is none').to.equal(undefined);
    expect(() => resolveConfig({ tlsCert: 'c.pem' })).to.throw(TypeError, /`tls-cert` needs `tls-key`/);
    expect(() => resolveConfig({ tlsKey: 'k.pem' })).to.throw(TypeError, /`tls-key` needs `tls-cert`/);
  });

  it('refuses a CA without a certificate, and client auth without a CA', () => {
    expect(() => resolveConfig({ tlsCa: 'ca.pem' })).to.throw(
      TypeError,
      /`tls-ca` needs `tls-cert` and `tls-key`/,
    );
    expect(() => resolveConfig({ tlsCert: 'c.pem', tlsKey: 'k.pem', tlsClientAuth: true })).to.throw(
      TypeError,
      /`tls-client-auth` needs `tls-ca`/,
    );
  });
});

describe('TLS warnings', () => {
  it('logs each kind at most once a minute, then says how many like it were left out', () => {
    const clock = sinon.useFakeTimers({ now: 1_000_000 });
    try {
      const logger = recorder();
      const warn = rateLimitedWarn(logger);
      for (let i = 0; i < 5; i++) warn('plain', `plain ${i}`);
      warn('handshake', 'handshake 0');
      clock.tick(59_999);
      warn('plain', 'plain late');
      clock.tick(1);
      warn('plain', 'plain next');
      expect(logger.lines).to.deep.equal([
        'WARN plain 0',
        'WARN handshake 0',
        'WARN plain next (5 more since the last such line)',
      ]);
    } finally {
      clock.restore();
    }
  });
});

describe('a node with TLS', function () {
  this.timeout(20_000);
  let ca: TestCertificateAuthority;
  let first: IssuedCertificate;
  let second: IssuedCertificate;
  const nodes: KVNode[] = [];

  before(async () => {
    ca = await TestCertificateAuthority.create();
    [first, second] = await Promise.all([ca.issue('first'), ca.issue('second')]);
  });

  after(async () => {
    await ca?.remove();
  });

  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((node) => node.stop({ announce: false })));
  });

  async function start(init: Parameters<typeof KVNode.start>[0], logger = recorder()) {
    const node = await KVNode.start({ host: '127.0.0.1', port: await freePort(), ...init }, { logger });
    nodes.push(node);
    return { node, logger };
  }

  it('refuses files it cannot read or parse at start, naming the flag and the file', async () => {
    const garbage = `${ca.dir}/garbage.pem`;
    await writeFile(garbage, 'not a certificate\n');
    const files = { cert: first.certFile, key: first.keyFile };
    expect(() => readTlsFiles({ ...files, cert: `${ca.dir}/missing.pem` })).to.throw(
      /cannot read --tls-cert .*missing\.pem: ENOENT/,
    );
    expect(() => readTlsFiles({ ...files, cert: garbage })).to.throw(
      /--tls-cert .*garbage\.pem is not a PEM certificate/,
    );
    expect(() => readTlsFiles({ ...files, key: garbage })).to.throw(
      /--tls-key .*garbage\.pem is not an unencrypted PEM private key/,
    );
    expect(() => readTlsFiles({ ...files, key: second.keyFile })).to.throw(
      /--tls-key .*second-\d+-key\.pem is not the key of the certificate in --tls-cert .*first-\d+\.pem/,
    );
    expect(() => readTlsFiles({ ...files, ca: garbage })).to.throw(
      /--tls-ca .*garbage\.pem is not a PEM certificate/,
    );
    const port = await freePort();
    let failure: unknown;
    try {
      nodes.push(await KVNode.start({ port, tlsCert: garbage, tlsKey: first.keyFile, logLevel: 'silent' }));
    } catch (error) {
      failure = error;
    }
    expect(String(failure)).to.match(/--tls-cert .*garbage\.pem is not a PEM certificate/);
  });

  it('reloads its certificate for new connections, and keeps it when the new files do not parse', async () => {
    const dir = `${ca.dir}/reload`;
    const cert = `${dir}-cert.pem`;
    const key = `${dir}-key.pem`;
    await Promise.all([copyFile(first.certFile, cert), copyFile(first.keyFile, key)]);
    const { node, logger } = await start({ tlsCert: cert, tlsKey: key });
    const before = await servedSerial(node.port, ca.cert);

    await Promise.all([copyFile(second.certFile, cert), copyFile(second.keyFile, key)]);
    expect(node.reloadTls()).to.equal(true);
    const after = await servedSerial(node.port, ca.cert);
    expect(after).to.not.equal(before);
    expect(logger.lines.some((line) => /^INFO TLS certificate reloaded: CN=second/.test(line))).to.equal(
      true,
    );

    await writeFile(cert, 'half a certificate');
    expect(node.reloadTls()).to.equal(false);
    expect(await servedSerial(node.port, ca.cert), 'the old certificate stays').to.equal(after);
    expect(
      logger.lines.some((line) =>
        /^ERROR TLS reload failed, the certificate in use is kept: --tls-cert/.test(line),
      ),
    ).to.equal(true);
  });

  it('answers plain HTTP with a 400 that says to use https, and logs it', async () => {
    const { node, logger } = await start({ tlsCert: first.certFile, tlsKey: first.keyFile });
    const reply = await post(node.port, '{"jsonrpc":"2.0","id":1,"method":"ping"}');
    expect(reply.status).to.equal(400);
    expect(reply.json)
      .to.have.nested.property('error.message')
      .that.matches(/^this node speaks TLS: use https/);
    await until('the warning', () =>
      logger.lines.some((line) => /^WARN refused plain HTTP from 127\.0\.0\.1:\d+/.test(line)),
    );
  });

  it('survives plain-HTTP clients that reset the connection while the 400 is on its way', async () => {
    const { node } = await start({ tlsCert: first.certFile, tlsKey: first.keyFile });
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve) => {
        const socket = connect(node.port, '127.0.0.1', () => {
          socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
          setImmediate(() => {
            socket.resetAndDestroy();
            resolve();
          });
        });
        socket.on('error', () => resolve());
      });
    }
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port: node.port, method: 'POST', ca: ca.cert, agent: false },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => {
            text += chunk.toString();
          });
          res.on('end', () => resolve(text));
        },
      );
      req.on('error', reject);
      req.setHeader('content-type', 'application/json');
      req.end('{"jsonrpc":"2.0","id":1,"method":"ping"}');
    });
    expect(JSON.parse(body)).to.deep.equal({ jsonrpc: '2.0', id: 1, result: 'pong' });
  });

  it('logs a peer whose TLS setting differs, on both sides, and neither takes the other for alive', async () => {
    const [securePort, plainPort] = [await freePort(), await freePort()];
    const members = [`127.0.0.1:${securePort}`, `127.0.0.1:${plainPort}`];
    const common = { members, timings: 'local' };
    const secure = await start({
      ...common,
      port: securePort,
      tlsCert: first.certFile,
      tlsKey: first.keyFile,
      tlsCa: ca.certFile,
    });
    const plain = await start({ ...common, port: plainPort });
    await until(
      'both warnings on each side',
      () =>
        secure.logger.lines.some((line) =>
          /^WARN peer stream to .* refused: .*it does not speak TLS/.test(line),
        ) &&
        secure.logger.lines.some((line) => /^WARN refused plain HTTP from/.test(line)) &&
        plain.logger.lines.some((line) =>
          /^WARN peer stream to .* refused: this node speaks TLS: use https/.test(line),
        ) &&
        plain.logger.lines.some((line) =>
          /^WARN refused a TLS connection from .*: this node speaks plain HTTP/.test(line),
        ),
      8_000,
    );
    const sees = (side: { node: KVNode }, address: string | undefined) =>
      side.node.coordinator.listMembers().find((member) => member.address === address)?.status;
    await until(
      'each to take the other for not alive',
      () => sees(secure, members[1]) !== 'alive' && sees(plain, members[0]) !== 'alive',
      8_000,
    );
  });

  it('links to peers over mutual TLS, verifying their certificates', async () => {
    const [a, b] = [await freePort(), await freePort()];
    const members = [`127.0.0.1:${a}`, `127.0.0.1:${b}`];
    const tls = { tlsCert: first.certFile, tlsKey: first.keyFile, tlsCa: ca.certFile, tlsClientAuth: true };
    const one = await start({ ...tls, members, port: a, timings: 'local', replicas: 2 });
    await start({ ...tls, members, port: b, timings: 'local', replicas: 2 });
    await until(
      'both members alive',
      () => one.node.coordinator.listMembers().filter((member) => member.status === 'alive').length === 2,
      8_000,
    );
    await one.node.coordinator.set('k', toJsonText('v'), { consistency: 'all' });
    expect(await one.node.coordinator.get('k', { consistency: 'all' })).to.equal('"v"');
  });

  it('refuses a peer whose certificate another CA signed, and both sides log why', async () => {
    const other = await TestCertificateAuthority.create('another CA');
    try {
      const stranger = await other.issue('stranger');
      const [a, b] = [await freePort(), await freePort()];
      const members = [`127.0.0.1:${a}`, `127.0.0.1:${b}`];
      const common = { members, timings: 'local', tlsClientAuth: true };
      const own = await start({
        ...common,
        port: a,
        tlsCert: first.certFile,
        tlsKey: first.keyFile,
        tlsCa: ca.certFile,
      });
      const foreign = await start({
        ...common,
        port: b,
        tlsCert: stranger.certFile,
        tlsKey: stranger.keyFile,
        tlsCa: other.certFile,
      });
      await until(
        'each to log the other',
        () =>
          [own, foreign].every(
            (side) =>
              side.logger.lines.some((line) =>
                /^WARN peer stream to .* refused: .*its certificate is not trusted/.test(line),
              ) &&
              side.logger.lines.some((line) =>
                /^WARN TLS handshake with 127\.0\.0\.1:\d+ failed: it hung up/.test(line),
              ),
          ),
        8_000,
      ).catch((error: Error) => {
        throw new Error(
          `${error.message}\n${[...own.logger.lines, '--', ...foreign.logger.lines].join('\n')}`,
        );
      });
    } finally {
      await other.remove();
    }
  });
});
