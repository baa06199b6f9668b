import { expect } from 'chai';
import { encodeJson, NULL_TEXT, parseJsonText, RawJson, toJsonText } from '../src/json-text.js';

describe('JSON text', () => {
  it('encodes as JSON.stringify does when no RawJson is inside', () => {
    const values: unknown[] = [
      null,
      0,
      -1.5,
      'x"y',
      [1, 'a', null],
      [],
      {},
      { a: [1, { b: 'c' }], skipped: undefined, d: null },
      [undefined, { e: [] }],
      { nested: { deeper: [[[{}]]] } },
      new Date(0),
    ];
    for (const value of values)
      expect(encodeJson(value), JSON.stringify(value)).to.equal(JSON.stringify(value));
  });

  it('writes a RawJson as its text, wherever it is', () => {
    const raw = new RawJson(toJsonText({ a: 1 }));
    expect(encodeJson(raw)).to.equal('{"a":1}');
    const spaced = new RawJson('{ "b" : [ 1 ] }' as ReturnType<typeof toJsonText>);
    expect(encodeJson({ jsonrpc: '2.0', id: 1, result: [spaced, raw, null] })).to.equal(
      '{"jsonrpc":"2.0","id":1,"result":[{ "b" : [ 1 ] },{"a":1},null]}',
    );
    // JSON.stringify of a RawJson still gives the value, only by a parse.
    expect(JSON.stringify({ v: spaced })).to.equal('{"v":{"b":[1]}}');
  });

  it('round-trips values through text', () => {
    expect(parseJsonText(toJsonText({ a: [1, 'x'] }))).to.deep.equal({ a: [1, 'x'] });
    expect(parseJsonText(NULL_TEXT)).to.equal(null);
    expect(() => toJsonText(undefined as never)).to.throw(TypeError);
  });
});
