/**
 * How the shell splits a line into words, and checks the numbers in a JSON word. No I/O; a bad line throws a
 * `UsageError` whose message is what the shell prints.
 */
import { UsageError } from '@kvdb/core';

/** A word of a command line; `quoted` (double-quoted) words are always taken as strings. */
export interface Token {
  text: string;
  quoted: boolean;
}

const CLOSING: Record<string, string> = { '{': '}', '[': ']' };

/**
 * Splits a line at whitespace. A word that starts with `"` runs to the matching `"` (`\"` and `\\` inside) and is a
 * string; one that starts with `'` runs to the next `'`, as in a POSIX shell, and is read like a bare word (so
 * `'{"a": 1}'` is JSON); an unquoted word that starts with `{` or `[` runs to its matching bracket, spaces and
 * quoted strings inside included, so `{"name": "Ada Lovelace"}` is one word.
 */
export function tokenize(line: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < line.length) {
    const char = line[i] as string;
    if (isSpace(char)) {
      i++;
      continue;
    }
    const start = i;
    let token: Token;
    if (char === '"') {
      [token, i] = doubleQuoted(line, i);
    } else if (char === "'") {
      const end = line.indexOf("'", i + 1);
      if (end === -1) throw new UsageError(`unterminated quoted string: ${line.slice(start)}`);
      token = { text: line.slice(i + 1, end), quoted: false };
      i = end + 1;
    } else {
      // A bracket's word goes on past it to the next space, as `[::1]:5878` does.
      if (char in CLOSING) i = matchingBracket(line, i);
      while (i < line.length && !isSpace(line[i])) i++;
      tokens.push({ text: line.slice(start, i), quoted: false });
      continue;
    }
    if (i < line.length && !isSpace(line[i])) {
      throw new UsageError(`expected a space after the closing quote of ${line.slice(start, i)}`);
    }
    tokens.push(token);
  }
  return tokens;
}

/** The `"…"` word at `start` and the index after its closing quote. */
function doubleQuoted(line: string, start: number): [Token, number] {
  let i = start + 1;
  let text = '';
  for (;;) {
    const char = line[i];
    if (char === undefined) throw new UsageError(`unterminated quoted string: ${line.slice(start)}`);
    const next = line[i + 1];
    if (char === '\\' && (next === '"' || next === '\\')) {
      text += next;
      i += 2;
    } else if (char === '"') {
      return [{ text, quoted: true }, i + 1];
    } else {
      text += char;
      i++;
    }
  }
}

/** The index after the bracket that closes the one at `start`, skipping JSON strings (`"a}"`) inside. */
function matchingBracket(line: string, start: number): number {
  const open: string[] = [];
  let i = start;
  while (i < line.length) {
    const char = line[i] as string;
    if (char === '"') {
      i++;
      while (i < line.length && line[i] !== '"') i += line[i] === '\\' ? 2 : 1;
    } else if (char in CLOSING) {
      open.push(CLOSING[char] as string);
    } else if (char === '}' || char === ']') {
      if (open.pop() !== char) {
        throw new UsageError(`unexpected ${char} in ${line.slice(start, i + 1)}`);
      }
      if (open.length === 0) return i + 1;
    }
    i++;
  }
  throw new UsageError(`missing ${open.reverse().join('')} to close ${line.slice(start)}`);
}

/**
 * Refuses JSON text holding a number that a double cannot hold as typed (`12345678901234567890`, `1e999`,
 * `0.12345678901234567890`): sent on, it would be stored rounded, or as null. A number is accepted when the double
 * it becomes reads back as the same decimal value (`0.1`, `1.50`, `1e3` do). Strings inside are skipped.
 */
export function checkNumbers(json: string): void {
  const number = /"(?:[^"\\]|\\.)*"|(-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
  for (const [, literal] of json.matchAll(number)) {
    if (literal === undefined) continue;
    const value = Number(literal);
    if (Number.isFinite(value) && sameDecimal(literal, String(value))) continue;
    const becomes = Number.isFinite(value)
      ? `would be stored as ${JSON.stringify(value)}`
      : 'is out of range';
    throw new UsageError(
      `the number ${literal} does not fit a double exactly (it ${becomes}); quote it to store it as a string: "${literal}"`,
    );
  }
}

/** Whether two number literals denote the same decimal value (`1.50` and `1.5`, `1e3` and `1000`). */
function sameDecimal(a: string, b: string): boolean {
  const [digitsA, expA, signA] = decimal(a);
  const [digitsB, expB, signB] = decimal(b);
  if (digitsA === '' || digitsB === '') return digitsA === digitsB;
  return digitsA === digitsB && expA === expB && signA === signB;
}

/** A literal as its significant digits, the exponent of its last digit, and its sign. */
function decimal(literal: string): [digits: string, exponent: number, negative: boolean] {
  const [, sign = '', whole = '', fraction = '', exp = '0'] =
    /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal) ?? [];
  let digits = (whole + fraction).replace(/^0+/, '');
  let exponent = Number(exp) - fraction.length;
  const trailing = /0*$/.exec(digits)?.[0].length ?? 0;
  digits = digits.slice(0, digits.length - trailing);
  exponent += trailing;
  return [digits, exponent, sign === '-'];
}

function isSpace(char: string | undefined): boolean {
  return char !== undefined && /\s/.test(char);
}
