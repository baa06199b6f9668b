/**
 * Where the params of JSON-RPC requests sit in a body's text, so that a value is taken as the text the client
 * sent (see `JsonText` in @kvdb/core) rather than stringified again from its parse. Node 20's `JSON.parse` gives
 * no access to the source of what it parsed, so this small scanner finds it: it runs over a body that `JSON.parse`
 * has already taken, so it only looks for where tokens end and checks nothing. Strings are skipped with `indexOf`
 * from quote to quote, so a long string value costs one search, not a loop over its characters.
 */

/** A value's place in the text: `[start, end)`, and for an array the places of its items (to a fixed depth). */
export interface Span {
  start: number;
  end: number;
  items?: Span[];
}

/** The spans of a request's params: by name for named params, by position for positional ones. */
export type ParamSpans = ReadonlyMap<string, Span> | readonly Span[];

/**
 * How deep into a param's arrays spans are kept: 2 reaches the value in `mset`'s `entries: [[key, value], …]`.
 */
const ITEM_DEPTH = 2;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** The text of a request body, and (once asked) where each request's params are in it. */
export class RequestSource {
  private spans: Array<ParamSpans | undefined> | undefined;

  constructor(readonly text: string) {}

  /** The spans of the params of the request at `index` of a batch (0 for a lone request). */
  params(index: number): ParamSpans | undefined {
    this.spans ??= new Scanner(this.text).body();
    return this.spans[index];
  }
}

class Scanner {
  private at = 0;

  constructor(private readonly text: string) {}

  /** Each request's param spans: one entry for a lone request, one per member of a batch. */
  body(): Array<ParamSpans | undefined> {
    this.space();
    if (this.code() !== OPEN_BRACKET) return [this.request()];
    const requests: Array<ParamSpans | undefined> = [];
    this.elements(() => requests.push(this.request()));
    return requests;
  }

  private request(): ParamSpans | undefined {
    if (this.code() !== OPEN_BRACE) {
      this.skip();
      return undefined;
    }
    let params: ParamSpans | undefined;
    // A name given twice counts once, the last time, as JSON.parse has it.
    this.members((name) => {
      if (name === 'params') params = this.params();
      else this.skip();
    });
    return params;
  }

  private params(): ParamSpans | undefined {
    const code = this.code();
    if (code === OPEN_BRACE) {
      const named = new Map<string, Span>();
      this.members((name) => named.set(name, this.span(ITEM_DEPTH)));
      return named;
    }
    if (code === OPEN_BRACKET) {
      const positional: Span[] = [];
      this.elements(() => positional.push(this.span(ITEM_DEPTH)));
      return positional;
    }
    this.skip();
    return undefined;
  }

  /** The span of the value here, with its items' spans `depth` arrays down. */
  private span(depth: number): Span {
    const start = this.at;
    if (depth > 0 && this.code() === OPEN_BRACKET) {
      const items: Span[] = [];
      this.elements(() => items.push(this.span(depth - 1)));
      return { start, end: this.at, items };
    }
    this.skip();
    return { start, end: this.at };
  }

  /** Walks an object's members, calling `value` with each name when the scanner is at the member's value. */
  private members(value: (name: string) => void): void {
    if (this.empty(CLOSE_BRACE)) return;
    for (;;) {
      const nameStart = this.at;
      this.at = stringEnd(this.text, nameStart);
      const raw = this.text.slice(nameStart, this.at);
      const name = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
      this.space();
      this.expect(COLON);
      this.space();
      value(name);
      if (this.next(CLOSE_BRACE)) return;
    }
  }

  /** Walks an array's items, calling `item` at each. */
  private elements(item: () => void): void {
    if (this.empty(CLOSE_BRACKET)) return;
    for (;;) {
      item();
      if (this.next(CLOSE_BRACKET)) return;
    }
  }

  /** Steps into the object or array here; when it is empty (`close` follows), steps past it too and says so. */
  private empty(close: number): boolean {
    this.at++;
    this.space();
    if (this.code() !== close) return false;
    this.at++;
    return true;
  }

  /** After a member or an item: steps over the comma (false) or the closing bracket (true). */
  private next(close: number): boolean {
    this.space();
    const code = this.code();
    this.at++;
    if (code === close) return true;
    if (code !== COMMA) throw new SyntaxError(`unexpected character at ${this.at - 1} of a parsed body`);
    this.space();
    return false;
  }

  private expect(code: number): void {
    if (this.code() !== code) throw new SyntaxError(`unexpected character at ${this.at} of a parsed body`);
    this.at++;
  }

  /** Steps over the value here. */
  private skip(): void {
    const { text } = this;
    const code = this.code();
    if (code === QUOTE) this.at = stringEnd(text, this.at);
    else if (code === OPEN_BRACE || code === OPEN_BRACKET) this.at = containerEnd(text, this.at);
    else {
      // A number or a literal: it ends at a delimiter or white space.
      let at = this.at + 1;
      for (; at < text.length; at++) {
        const next = text.charCodeAt(at);
        if (next === COMMA || next === CLOSE_BRACE || next === CLOSE_BRACKET || next <= 0x20) break;
      }
      this.at = at;
    }
  }

  private space(): void {
    const { text } = this;
    let at = this.at;
    // JSON's white space is space, tab, line feed and carriage return, all below '!'.
    while (at < text.length && text.charCodeAt(at) <= 0x20) at++;
    this.at = at;
  }

  private code(): number {
    return this.text.charCodeAt(this.at);
  }
}

/** Where the string opening at `start` ends (just past its closing quote). */
function stringEnd(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote < 0) throw new SyntaxError('unterminated string in a parsed body');
    let before = quote - 1;
    while (text.charCodeAt(before) === BACKSLASH) before--;
    // An even number of backslashes escape each other, not the quote.
    if ((quote - 1 - before) % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/** Where the object or array opening at `start` ends (just past its closing bracket). */
function containerEnd(text: string, start: number): number {
  let depth = 0;
  for (let at = start; at < text.length; ) {
    const code = text.charCodeAt(at);
    if (code === QUOTE) {
      at = stringEnd(text, at);
      continue;
    }
    if (code === OPEN_BRACE || code === OPEN_BRACKET) depth++;
    else if ((code === CLOSE_BRACE || code === CLOSE_BRACKET) && --depth === 0) return at + 1;
    at++;
  }
  throw new SyntaxError('unterminated object or array in a parsed body');
}
