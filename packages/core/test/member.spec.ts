import { expect } from 'chai';
import { formatAddress, isMemberState, parseAddress, parseMemberList } from '../src/member.js';

describe('member addresses', () => {
  describe('parseAddress', () => {
    it('accepts an IPv4 address with a port', () => {
      expect(parseAddress('127.0.0.1:5878')).to.deep.equal({
        host: '127.0.0.1',
        port: 5878,
        address: '127.0.0.1:5878',
      });
    });

    it('accepts a host name and keeps it as written', () => {
      expect(parseAddress('localhost:1')).to.deep.equal({
        host: 'localhost',
        port: 1,
        address: 'localhost:1',
      });
      expect(parseAddress('kv-1.example.com:65535')).to.deep.equal({
        host: 'kv-1.example.com',
        port: 65535,
        address: 'kv-1.example.com:65535',
      });
    });

    it('accepts a bracketed IPv6 address and keeps the brackets in the address only', () => {
      expect(parseAddress('[::1]:5878')).to.deep.equal({ host: '::1', port: 5878, address: '[::1]:5878' });
    });

    it('trims surrounding whitespace', () => {
      expect(parseAddress('  127.0.0.1:5878\n').address).to.equal('127.0.0.1:5878');
    });

    for (const input of [
      '127.0.0.1',
      ':5878',
      'host:0',
      'host:70000',
      'host:65536',
      'host:port',
      'host:',
      'host:-1',
      'host:1.5',
      'host:5878:1',
      '::1:5878',
      'http://host:5878',
      'ho st:5878',
      '',
      '   ',
    ]) {
      it(`rejects ${JSON.stringify(input)} with a TypeError`, () => {
        expect(() => parseAddress(input)).to.throw(TypeError, /host:port/);
      });
    }
  });

  describe('formatAddress', () => {
    it('brackets IPv6 hosts only', () => {
      expect(formatAddress('10.0.0.1', 5878)).to.equal('10.0.0.1:5878');
      expect(formatAddress('::1', 5878)).to.equal('[::1]:5878');
    });

    it('round-trips with parseAddress', () => {
      for (const address of ['127.0.0.1:5878', 'localhost:1', '[::1]:5878', '[fe80::1:2]:80']) {
        const { host, port } = parseAddress(address);
        expect(formatAddress(host, port)).to.equal(address);
      }
    });
  });

  describe('parseMemberList', () => {
    it('splits on commas and trims', () => {
      expect(parseMemberList('10.0.0.1:5878, 10.0.0.2:5878 ,10.0.0.3:5878')).to.deep.equal([
        '10.0.0.1:5878',
        '10.0.0.2:5878',
        '10.0.0.3:5878',
      ]);
    });

    it('drops blanks', () => {
      expect(parseMemberList(',10.0.0.1:5878,, ,10.0.0.2:5878,')).to.deep.equal([
        '10.0.0.1:5878',
        '10.0.0.2:5878',
      ]);
      expect(parseMemberList('')).to.deep.equal([]);
      expect(parseMemberList(' , ')).to.deep.equal([]);
    });

    it('drops duplicates, keeping first-seen order', () => {
      expect(parseMemberList('b:1,a:1,b:1, a:1')).to.deep.equal(['b:1', 'a:1']);
    });

    it('accepts arrays, whose items may themselves be comma-separated', () => {
      expect(parseMemberList(['a:1', 'b:2, c:3', '', 'a:1'])).to.deep.equal(['a:1', 'b:2', 'c:3']);
    });

    it('gives [] for undefined and an empty array', () => {
      expect(parseMemberList(undefined)).to.deep.equal([]);
      expect(parseMemberList([])).to.deep.equal([]);
    });

    it('throws a TypeError for any invalid member', () => {
      expect(() => parseMemberList('a:1,nope')).to.throw(TypeError, /nope/);
      expect(() => parseMemberList(['a:1', 'b:0'])).to.throw(TypeError);
    });
  });

  describe('isMemberState', () => {
    const state = { address: 'a:1', status: 'left', incarnation: 0 };

    it('takes the address a member that is another name of it names (`aliasOf`)', () => {
      expect(isMemberState({ ...state, aliasOf: 'b:1' })).to.equal(true);
    });

    it('refuses an `aliasOf` that is not a non-empty string of at most 300 characters', () => {
      for (const aliasOf of ['', 7, null, 'x'.repeat(301)]) {
        expect(isMemberState({ ...state, aliasOf }), JSON.stringify(aliasOf)).to.equal(false);
      }
    });
  });
});
