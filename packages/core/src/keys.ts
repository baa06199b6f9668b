/**
 * The order of keys wherever kvdb lists them: by Unicode code point, which is the order of their UTF-8 bytes (and
 * so of LMDB's). It differs from JavaScript's `<` only where a surrogate pair (U+10000 and up) meets a character
 * from U+E000 to U+FFFF: `<` compares UTF-16 code units and puts the pair first.
 */
export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return x >= 0xd800 && y >= 0xd800 ? codePointRank(x) - codePointRank(y) : x - y;
  }
  return a.length - b.length;
}

/** Surrogates (0xD800–0xDFFF) stand for code points above 0xFFFF: rank them after 0xE000–0xFFFF. */
function codePointRank(unit: number): number {
  return unit <= 0xdfff ? unit + 0x2000 : unit - 0x800;
}
