import type { PeerMethod, SyncParams } from '@kvdb/core';
import { expect } from 'chai';
import { type Clock, systemClock } from '../src/clock.js';
import { ClockSkew } from '../src/clock-skew.js';
import { MAX_CLOCK_SKEW_MS } from '../src/defaults.js';
import { FailureDetector } from '../src/failure-detector.js';
import type { Logger } from '../src/logger.js';
import { Membership } from '../src/membership.js';
import type { PeerTransport } from '../src/peer-transport.js';

const SELF = '10.0.0.1:5878';
const PEER = '10.0.0.2:5878';

/** A logger that keeps what it is told, by level. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (message: string) => lines.push(`${level}: ${message}`);
  return { lines, debug: () => {}, info: at('info'), warn: at('warn'), error: at('error') };
}

/** Wall time the test sets; real timers. */
function manualClock(start: number): Clock & { time: number } {
  const clock = { ...systemClock, time: start, now: () => clock.time };
  return clock;
}

describe('clock skew', () => {
  describe('ClockSkew.check', () => {
    it('counts only what the round trip cannot explain, ahead or behind', () => {
      const skew = new ClockSkew({ clock: systemClock }, { maxSkewMs: 500 });
      expect(skew.check(PEER, 1_500, 1_000, 2_000), 'inside the round trip').to.equal(0);
      expect(skew.check(PEER, 2_300, 1_000, 2_000), 'ahead').to.equal(300);
      expect(skew.check(PEER, 400, 1_000, 2_000), 'behind').to.equal(-600);
    });

    it('warns once when a peer goes further off than the bound, and notes when it is back', () => {
      const logger = recordingLogger();
      const skew = new ClockSkew({ clock: systemClock, logger }, { maxSkewMs: 500 });
      skew.check(PEER, 1_500, 1_000, 1_010);
      expect(logger.lines, 'within the bound').to.deep.equal([]);
      skew.check(PEER, 3_000, 1_000, 1_010);
      skew.check(PEER, 3_100, 1_000, 1_010);
      expect(logger.lines).to.have.length(1);
      expect(logger.lines[0]).to.match(/^warn: the clock of 10\.0\.0\.2:5878 is at least 1990 ms ahead of/);
      expect(logger.lines[0]).to.contain('500 ms').and.contain('ttl');
      skew.check(PEER, 1_005, 1_000, 1_010);
      expect(logger.lines.slice(1)).to.deep.equal([
        "info: the clock of 10.0.0.2:5878 is within 500 ms of this node's again",
      ]);
      skew.check(PEER, 0, 1_000, 1_010);
      expect(logger.lines[2]).to.match(/^warn: .* is at least 1000 ms behind/);
    });

    it('defaults to the documented bound', () => {
      expect(new ClockSkew({ clock: systemClock }).maxSkewMs).to.equal(MAX_CLOCK_SKEW_MS);
    });
  });

  describe('on the push-pull sync', () => {
    /** A peer that answers every sync with its member list and its clock, `offsetMs` off this node's. */
    function peerAt(
      clock: { time: number },
      offsetMs: number,
      calls: Array<[PeerMethod, number | undefined]>,
    ): PeerTransport {
      return {
        call: async (_to, method, params) => {
          const sent = params as SyncParams;
          calls.push([method, sent.time]);
          return { members: sent.members, time: clock.time + offsetMs } as never;
        },
      };
    }

    it('sends its wall time, answers with it, and warns about a peer whose clock is too far off', async () => {
      const clock = manualClock(1_700_000_000_000);
      const logger = recordingLogger();
      const calls: Array<[PeerMethod, number | undefined]> = [];
      const membership = new Membership(SELF, [PEER]);
      const transport = peerAt(clock, MAX_CLOCK_SKEW_MS + 1_000, calls);
      const detector = new FailureDetector({ membership, transport, clock, logger });

      expect(detector.handleSync({ members: [] }).time).to.equal(clock.time);
      expect(await detector.syncAll()).to.equal(true);
      expect(calls).to.deep.equal([['peer.sync', clock.time]]);
      expect(logger.lines.filter((line) => line.startsWith('warn:'))).to.deep.equal([
        `warn: the clock of ${PEER} is at least ${MAX_CLOCK_SKEW_MS + 1_000} ms ahead of this node's, more than the ${MAX_CLOCK_SKEW_MS} ms nodes may differ by: values with a ttl expire at different times on different nodes; keep the clocks in step (NTP)`,
      ]);
    });

    it('stays quiet about a peer within the bound', async () => {
      const clock = manualClock(1_700_000_000_000);
      const logger = recordingLogger();
      const membership = new Membership(SELF, [PEER]);
      const transport = peerAt(clock, -(MAX_CLOCK_SKEW_MS - 1), []);
      const detector = new FailureDetector({ membership, transport, clock, logger });
      expect(await detector.syncAll()).to.equal(true);
      expect(logger.lines.filter((line) => line.startsWith('warn:'))).to.deep.equal([]);
    });
  });
});
