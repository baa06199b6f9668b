import { parseStamp } from '@kvdb/core';
import { expect } from 'chai';
import { SessionClock } from '../src/session-clock.js';

describe('SessionClock (a client stamping its writes)', () => {
  const wallOf = (stamp: string | undefined) => parseStamp(stamp ?? '')?.wall;

  it('stamps above the last token, and keeps up with the nodes while idle on a machine whose clock is behind', () => {
    let machine = 1_000_000; // this machine's clock: 10 s behind the nodes'
    const clock = new SessionClock(() => machine, true);
    clock.join(`${machine + 10_000}.4`);
    expect(parseStamp(clock.stamp() ?? '')).to.include({ wall: machine + 10_000, counter: 5 });
    machine += 6_000; // six seconds idle: the nodes' clocks read 16 s past the start
    expect(wallOf(clock.stamp())).to.equal(machine + 10_000);
  });

  it('learns the offset again at every reply: a machine clock set right adds nothing more', () => {
    let machine = 1_000_000;
    const clock = new SessionClock(() => machine, true);
    clock.join(`${machine + 10_000}.0`);
    machine += 10_000; // NTP steps this machine's clock forward to the nodes'
    clock.join(`${machine}.0`);
    machine += 1_000;
    expect(wallOf(clock.stamp())).to.equal(machine);
  });

  it('never stamps below a stamp it gave, and gives none when stamps are off', () => {
    let machine = 1_000_000;
    const clock = new SessionClock(() => machine, true);
    clock.join(`${machine + 5_000}.0`);
    const first = clock.stamp();
    clock.join(`${machine}.0`); // a reply from a node whose clock is not ahead: the offset goes
    const second = clock.stamp();
    expect(wallOf(second)).to.equal(wallOf(first));
    expect(parseStamp(second ?? '')?.counter).to.equal((parseStamp(first ?? '')?.counter ?? 0) + 1);
    machine += 100;
    expect(new SessionClock(() => machine, false, `${machine}.0`).stamp()).to.equal(undefined);
  });
});
