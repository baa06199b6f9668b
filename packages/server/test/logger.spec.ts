import { stripVTControlCharacters } from 'node:util';
import { expect } from 'chai';
import { createLogger, type LogDestination } from '../src/logger.js';

/** A destination that keeps what is written, as a terminal or not. */
function lines(isTTY = false): LogDestination & { lines: string[] } {
  const kept: string[] = [];
  return { lines: kept, isTTY, write: (line: string) => kept.push(line) };
}

describe('a node’s logger', () => {
  it('writes one JSON object a line by default: level, time, node, message and the call’s fields', () => {
    const out = lines();
    const log = createLogger('127.0.0.1:5878', 'info', { destination: out });
    log.info('10.0.0.2:5878 is dead', { member: '10.0.0.2:5878', status: 'dead', was: 'suspect' });
    log.warn('no fields');
    expect(out.lines).to.have.length(2);
    const [first, second] = out.lines.map((line) => JSON.parse(line));
    expect(first).to.include({
      level: 'info',
      node: '127.0.0.1:5878',
      msg: '10.0.0.2:5878 is dead',
      member: '10.0.0.2:5878',
      status: 'dead',
      was: 'suspect',
    });
    expect(Date.parse(first.time)).to.be.closeTo(Date.now(), 60_000);
    expect(second).to.include({ level: 'warn', msg: 'no fields' });
    expect(out.lines.every((line) => line.endsWith('\n'))).to.equal(true);
  });

  it('writes readable lines on a terminal, or when asked for pretty, and JSON when asked for json', () => {
    const terminal = lines(true);
    createLogger('127.0.0.1:5878', 'info', { destination: terminal }).info('hello', { member: 'x:1' });
    const asked = lines();
    createLogger('127.0.0.1:5878', 'info', { destination: asked, format: 'pretty' }).info('hello', {
      member: 'x:1',
    });
    const plain = asked.lines[0] ?? '';
    expect(plain).to.match(/^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] INFO: \[127\.0\.0\.1:5878\] hello/);
    expect(plain).to.contain('"member":"x:1"');
    expect(() => JSON.parse(plain)).to.throw();
    // On a terminal the same line, in colour.
    const uncoloured = stripVTControlCharacters(terminal.lines[0] ?? '');
    expect(uncoloured.replace(/^\[[^\]]+\]/, '')).to.equal(plain.replace(/^\[[^\]]+\]/, ''));
    expect(terminal.lines[0]).to.not.equal(uncoloured);

    const json = lines(true);
    createLogger('127.0.0.1:5878', 'info', { destination: json, format: 'json' }).info('hello');
    expect(JSON.parse(json.lines[0] ?? '')).to.include({ msg: 'hello' });
  });

  it('leaves out lines below its level, and everything when silent', () => {
    const out = lines();
    const log = createLogger('a:1', 'warn', { destination: out });
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e', { code: 1 });
    expect(out.lines.map((line) => JSON.parse(line).msg)).to.deep.equal(['w', 'e']);
    const silent = lines();
    const quiet = createLogger('a:1', 'silent', { destination: silent });
    quiet.error('e');
    expect(silent.lines).to.deep.equal([]);
  });
});
