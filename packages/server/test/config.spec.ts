import { expect } from 'chai';
import { resolveConfig } from '../src/config.js';

describe('resolveConfig', () => {
  it('takes a cluster name of letters, digits, dots, underscores and dashes, "kvdb" by default', () => {
    expect(resolveConfig().clusterName).to.equal('kvdb');
    expect(resolveConfig({ clusterName: 'prod-eu_1.b' }).clusterName).to.equal('prod-eu_1.b');
    expect(resolveConfig({ clusterName: 'x'.repeat(64) }).clusterName).to.have.length(64);
  });

  it('refuses a cluster name that could not travel in a header, naming the flag', () => {
    for (const name of ['', 'two words', 'x'.repeat(65), 'naïve', 'a\r\nb', 'a:b']) {
      expect(() => resolveConfig({ clusterName: name }), JSON.stringify(name)).to.throw(
        TypeError,
        /`cluster-name` to be 1 to 64 letters, digits, '\.', '_' or '-'/,
      );
    }
  });
});
