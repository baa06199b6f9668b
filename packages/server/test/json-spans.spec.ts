import { expect } from 'chai';
import { RequestSource, type Span } from '../src/json-spans.js';

/** A seeded generator (mulberry32), so that a failing case replays: the seed is in the test's title. */
function seeded(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4_294_967_296) * n);
  };
}

const SEED = 29;
const SPACE = [' ', '\n', '\t', '\r', ''];
const STRINGS = ['', 'a', 'quote " inside', 'back\\slash\\', 'ü€😀', '\\"', '"]}', '\u2028', 'key'];

/** Random JSON text of a value, spaced at random, nesting at most `depth` more levels. */
function randomJson(random: (n: number) => number, depth: number): string {
  const space = () => SPACE[random(SPACE.length)] ?? '';
  const kind = depth === 0 ? random(4) : random(6);
  switch (kind) {
    case 0:
      return ['null', 'true', 'false'][random(3)] ?? 'null';
    case 1:
      return ['0', '-1.5e3', '12345678901234567890', '3.25'][random(4)] ?? '0';
    case 2:
    case 3:
      return JSON.stringify(STRINGS[random(STRINGS.length)]).replace('a', '\\u0061');
    case 4: {
      const items = Array.from(
        { length: random(4) },
        () => space() + randomJson(random, depth - 1) + space(),
      );
      return `[${items.join(',')}]`;
    }
    default: {
      const members = Array.from(
        { length: random(4) },
        () =>
          `${space()}${JSON.stringify(STRINGS[random(STRINGS.length)])}${space()}:${space()}${randomJson(random, depth - 1)}${space()}`,
      );
      return `{${members.join(',')}}`;
    }
  }
}

function text(source: RequestSource, span: Span | undefined): string {
  if (span === undefined) throw new Error('no span');
  return source.text.slice(span.start, span.end);
}

describe('RequestSource', () => {
  it(`finds every param's text in random bodies, named and positional, lone and batched (seed ${SEED})`, () => {
    const random = seeded(SEED);
    for (let round = 0; round < 2_000; round++) {
      const count = random(3) + 1;
      const requests: Array<{ params: unknown; texts: string[]; named: boolean }> = [];
      const bodies: string[] = [];
      for (let i = 0; i < count; i++) {
        const texts = Array.from({ length: random(4) }, () => randomJson(random, 3));
        const named = random(2) === 0;
        const params = named
          ? `{ ${texts.map((value, index) => `"p${index}" : ${value}`).join(' , ')} }`
          : `[ ${texts.join(' ,\n')} ]`;
        bodies.push(`{ "jsonrpc" : "2.0", "method": "set" , "params" :${params}, "id": ${i} }`);
        requests.push({ params: JSON.parse(params), texts, named });
      }
      const body = count === 1 && random(2) === 0 ? (bodies[0] ?? '') : `[ ${bodies.join(',')} ]`;
      JSON.parse(body);
      const source = new RequestSource(body);
      for (const [index, request] of requests.entries()) {
        const spans = source.params(index);
        for (const [position, value] of request.texts.entries()) {
          const span = request.named
            ? (spans as ReadonlyMap<string, Span>).get(`p${position}`)
            : (spans as readonly Span[])[position];
          expect(text(source, span), body).to.equal(value);
        }
      }
    }
  });

  it("keeps the items of a param's arrays two levels down: mset's entries", () => {
    const body = '{"params": {"entries": [ ["a", {"x": [1]}] , ["b" ,"two"] ], "consistency": "one"}}';
    const source = new RequestSource(body);
    const entries = (source.params(0) as ReadonlyMap<string, Span>).get('entries');
    expect(text(source, entries?.items?.[0]?.items?.[1])).to.equal('{"x": [1]}');
    expect(text(source, entries?.items?.[1]?.items?.[0])).to.equal('"b"');
    expect(text(source, entries?.items?.[1]?.items?.[1])).to.equal('"two"');
  });

  it('takes the last of two members of one name, as JSON.parse does, and escaped names', () => {
    const body = '{"params": {"v": 1}, "\\u0070arams": {"v": [2]}, "id": 1}';
    const source = new RequestSource(body);
    expect(text(source, (source.params(0) as ReadonlyMap<string, Span>).get('v'))).to.equal('[2]');
  });

  it('has no spans for a request without params or with params that are not an object or array', () => {
    const source = new RequestSource('[{"method": "ping"}, {"params": 3}, 7]');
    expect([source.params(0), source.params(1), source.params(2)]).to.deep.equal([
      undefined,
      undefined,
      undefined,
    ]);
  });
});
