import { expect } from 'chai';
import { isWildcardHost, resolveConfig } from '../src/config.js';

describe('resolveConfig', () => {
  it('advertises host:port by default, and --advertise when given', () => {
    expect(resolveConfig({ host: '10.0.0.5', port: 7000 }).advertise).to.equal('10.0.0.5:7000');
    expect(resolveConfig({ host: '::1', port: 7000 }).advertise).to.equal('[::1]:7000');
    expect(resolveConfig({ host: '0.0.0.0', advertise: 'db-1.example:7000' }).advertise).to.equal(
      'db-1.example:7000',
    );
  });

  it('refuses a wildcard host without --advertise, naming the flag with an example', () => {
    for (const host of ['0.0.0.0', '::', '[::]', '0:0:0:0:0:0:0:0', '::0', '0', '']) {
      expect(() => resolveConfig({ host, port: 33030 }), JSON.stringify(host)).to.throw(
        TypeError,
        /listens on every interface.*give --advertise HOST:PORT.*--advertise 10\.0\.0\.5:33030/,
      );
    }
  });

  it('refuses an --advertise that is itself a wildcard', () => {
    for (const advertise of ['0.0.0.0:5878', '[::]:5878', '0.0.0.0:1']) {
      expect(() => resolveConfig({ host: '0.0.0.0', advertise }), advertise).to.throw(
        TypeError,
        /`advertise` to be an address the other members can reach.*a wildcard/,
      );
    }
  });

  it('counts only the unspecified addresses as wildcards', () => {
    for (const host of ['127.0.0.1', '10.0.0.0', '0.0.0.1', '::1', 'fe80::', 'localhost', 'db0'])
      expect(isWildcardHost(host), host).to.equal(false);
  });

  it('takes a cluster name of 1 to 64 printable ASCII characters, "kvdb" by default', () => {
    expect(resolveConfig().clusterName).to.equal('kvdb');
    for (const name of ['prod-eu_1.b', 'two words', 'x', 'x'.repeat(64), 'a:b/c']) {
      expect(resolveConfig({ clusterName: name }).clusterName).to.equal(name);
    }
  });

  it('refuses a cluster name that could not travel in a header, naming the flag', () => {
    for (const name of ['', ' lead', 'trail ', 'x'.repeat(65), 'naïve', 'a\r\nb', 'tab\there']) {
      expect(() => resolveConfig({ clusterName: name }), JSON.stringify(name)).to.throw(
        TypeError,
        /`cluster-name` to be 1 to 64 printable ASCII characters, not starting or ending with a space/,
      );
    }
  });

  it('takes a token of printable ASCII, none for an empty one, and refuses others without echoing them', () => {
    for (const [option, name] of [
      ['authToken', 'auth-token'],
      ['peerToken', 'peer-token'],
    ] as const) {
      expect(resolveConfig()[option]).to.equal(undefined);
      expect(resolveConfig({ [option]: '' })[option]).to.equal(undefined);
      for (const token of ['Ab0-._~+/=!', 'correct horse battery staple'])
        expect(resolveConfig({ [option]: token })[option]).to.equal(token);
      for (const token of ['s3cr€t', 'K3y-from-a-file\r', ' leading', 'trailing ', 'tab\there']) {
        expect(() => resolveConfig({ [option]: token }), JSON.stringify(token))
          .to.throw(
            TypeError,
            new RegExp(`\`${name}\` to be printable ASCII characters, not starting or ending with a space`),
          )
          .with.property('message')
          .that.does.not.include(token.trim());
      }
    }
  });

  it('takes a read repair chance from 0 to 1, none by default, and refuses others naming the flag', () => {
    expect(resolveConfig().readRepairChance).to.equal(0);
    for (const chance of [0, 0.25, 1])
      expect(resolveConfig({ readRepairChance: chance }).readRepairChance).to.equal(chance);
    for (const chance of [-0.1, 1.5, Number.NaN]) {
      expect(() => resolveConfig({ readRepairChance: chance }), String(chance)).to.throw(
        TypeError,
        /`read-repair-chance` to be a number from 0 to 1/,
      );
    }
  });

  it('takes a stream throughput of 0 (unthrottled) and up, 32 MiB/s by default, and refuses others naming the flag', () => {
    expect(resolveConfig().streamThroughput).to.equal(32 * 1_048_576);
    for (const bytes of [0, 1.5, 1_048_576])
      expect(resolveConfig({ streamThroughput: bytes }).streamThroughput).to.equal(bytes);
    for (const bytes of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => resolveConfig({ streamThroughput: bytes }), String(bytes)).to.throw(
        TypeError,
        /`stream-throughput` to be a number from 0 and up/,
      );
    }
  });

  it('takes an fsync interval of 0 ms and up, 1000 by default, and refuses others naming the flag', () => {
    expect(resolveConfig().fsyncIntervalMs).to.equal(1_000);
    for (const ms of [0, 1, 60_000])
      expect(resolveConfig({ fsyncIntervalMs: ms }).fsyncIntervalMs).to.equal(ms);
    for (const ms of [-1, 0.5, Number.NaN]) {
      expect(() => resolveConfig({ fsyncIntervalMs: ms }), String(ms)).to.throw(
        TypeError,
        /`fsync-interval` to be an integer from 0 and up/,
      );
    }
  });
});
