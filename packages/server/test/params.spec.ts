import { InvalidParamsError, TooLargeError } from '@kvdb/core';
import { expect } from 'chai';
import type { Limits } from '../src/config.js';
import { RequestSource } from '../src/json-spans.js';
import { normalizeParams, requireKey, requireValue } from '../src/params.js';

const LIMITS: Limits = { maxKeyBytes: 1_024, maxValueBytes: 20, maxBodyBytes: 10_000, maxBatch: 10 };
const SET = ['key', 'value', 'consistency'] as const;

const named = (raw: object) => normalizeParams('set', raw, SET);

/** The error a check throws, or a failure if it throws none. */
function thrown(check: () => unknown): Error {
  try {
    check();
  } catch (error) {
    return error as Error;
  }
  expect.fail('expected the check to throw');
}

describe('params', () => {
  describe('normalizeParams', () => {
    it('reads named params from the object itself, never from its prototype', () => {
      const params = named({ key: 'a', value: null });
      expect(params.get('key')).to.equal('a');
      expect(params.has('value'), 'a null value is there').to.equal(true);
      expect(params.get('value')).to.equal(null);
      expect(params.has('consistency')).to.equal(false);
      expect(params.get('consistency')).to.equal(undefined);
      expect(params.get('toString')).to.equal(undefined);
      expect(params.has('constructor')).to.equal(false);
    });

    it('reads positional params by their place, and no params as none', () => {
      const params = normalizeParams('set', ['a', 1], SET);
      expect([params.get('key'), params.get('value'), params.has('consistency')]).to.deep.equal([
        'a',
        1,
        false,
      ]);
      const none = normalizeParams('ping', undefined, []);
      expect([none.has('key'), none.get('key')]).to.deep.equal([false, undefined]);
    });

    it('refuses an unknown name, an own __proto__ included', () => {
      expect(thrown(() => named({ key: 'a', value: 1, extra: true }))).to.be.instanceOf(InvalidParamsError);
      const proto = JSON.parse('{"key": "a", "__proto__": {"value": 1}}') as object;
      expect(thrown(() => named(proto)).message).to.match(/Unknown param `__proto__`/);
    });
  });

  describe('requireKey', () => {
    it('counts the UTF-8 bytes of a key that could be over the limit, and only refuses one that is', () => {
      const euro = '€'; // 3 bytes of UTF-8
      expect(requireKey(named({ key: euro.repeat(341) }), LIMITS)).to.have.length(341);
      const error = thrown(() => requireKey(named({ key: euro.repeat(342) }), LIMITS));
      expect(error).to.be.instanceOf(TooLargeError);
      expect((error as TooLargeError).data).to.deep.equal({ limit: 1_024, size: 1_026 });
      const emoji = '😀'; // two UTF-16 code units, 4 bytes of UTF-8
      expect(requireKey(named({ key: emoji.repeat(256) }), LIMITS)).to.have.length(512);
      expect(thrown(() => requireKey(named({ key: `${emoji.repeat(256)}a` }), LIMITS))).to.be.instanceOf(
        TooLargeError,
      );
    });
  });

  describe('requireValue', () => {
    it('measures a string value as JSON, escapes included, whenever it could be over the limit', () => {
      const cases: Array<[string, string, number]> = [
        ['18 characters', 'v'.repeat(18), 20],
        ['19 characters', 'v'.repeat(19), 21],
        ['three \\u0000 escapes', '\u0000'.repeat(3), 20],
        ['four \\u0000 escapes', '\u0000'.repeat(4), 26],
        ['nothing', '', 2],
      ];
      for (const [what, value, size] of cases) {
        const params = named({ value });
        if (size <= LIMITS.maxValueBytes)
          expect(requireValue(params, LIMITS), what).to.equal(JSON.stringify(value));
        else
          expect((thrown(() => requireValue(params, LIMITS)) as TooLargeError).data, what).to.deep.equal({
            limit: 20,
            size,
          });
      }
    });

    it('still measures and bounds the depth of structured values', () => {
      expect(requireValue(named({ value: { a: [1, 2] } }), LIMITS)).to.equal('{"a":[1,2]}');
      expect(thrown(() => requireValue(named({ value: { a: 'v'.repeat(20) } }), LIMITS))).to.be.instanceOf(
        TooLargeError,
      );
      let deep: unknown = 1;
      for (let i = 0; i < 101; i++) deep = [deep];
      const generous = { ...LIMITS, maxValueBytes: 10_000 };
      expect(thrown(() => requireValue(named({ value: deep }), generous)).message).to.match(/100 levels/);
      expect(thrown(() => requireValue(named({ key: 'a' }), LIMITS)).message).to.equal(
        'Missing param `value`',
      );
    });

    it('takes a value as the text the body gave it, spacing kept, and measures that text', () => {
      const body = (text: string) => {
        const request = JSON.parse(text) as { params: object };
        return normalizeParams('set', request.params, SET, { source: new RequestSource(text), index: 0 });
      };
      expect(requireValue(body('{"params": {"key": "k", "value": { "a" : [1, 2] } }}'), LIMITS)).to.equal(
        '{ "a" : [1, 2] }',
      );
      expect(requireValue(body('{"params": ["k", "\\u0041\\"]"]}'), LIMITS)).to.equal('"\\u0041\\"]"');
      // The last of two `value` members counts, as JSON.parse has it.
      expect(requireValue(body('{"params": {"value": 1, "key": "k", "value": [2]}}'), LIMITS)).to.equal(
        '[2]',
      );
      // 21 bytes as sent: over the limit of 20, though its compact JSON is 5.
      const spaced = `{"params": {"key": "k", "value": [1,${' '.repeat(16)}2]}}`;
      expect((thrown(() => requireValue(body(spaced), LIMITS)) as TooLargeError).data).to.deep.equal({
        limit: 20,
        size: 21,
      });
    });
  });
});
