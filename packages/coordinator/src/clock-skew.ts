import {
  formatVersion,
  InvalidParamsError,
  type MemberAddress,
  type SyncParams,
  type Version,
} from '@kvdb/core';
import type { Clock } from './clock.js';
import { MAX_CLOCK_SKEW_MS } from './defaults.js';
import { type Logger, silentLogger } from './logger.js';
import type { PeerTransport } from './peer-transport.js';

export interface ClockSkewComponents {
  clock: Clock;
  logger?: Logger;
}

export interface ClockSkewInit {
  /** How far a peer's clock may be from this node's before a warning is logged, in ms. @default MAX_CLOCK_SKEW_MS */
  maxSkewMs?: number;
}

/**
 * Notices peers whose wall clock is further from this node's than nodes may be apart (`MAX_CLOCK_SKEW_MS`), from
 * the `time` a peer puts in its reply to a push-pull sync. The peer read its clock somewhere between the call and
 * the reply, so only the part of the difference beyond that round trip counts: a slow network never makes a clock
 * look off. A warning names the peer once when its clock goes off, and a note says when it is back.
 */
export class ClockSkew {
  readonly maxSkewMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  /** Peers whose clock was last seen too far off. */
  private readonly off = new Set<MemberAddress>();

  constructor(components: ClockSkewComponents, init: ClockSkewInit = {}) {
    this.clock = components.clock;
    this.log = components.logger ?? silentLogger;
    this.maxSkewMs = init.maxSkewMs ?? MAX_CLOCK_SKEW_MS;
  }

  /** `transport`, with the clock of every peer that answers a `peer.sync` made through it checked. */
  static watch(
    transport: PeerTransport,
    components: ClockSkewComponents,
    init?: ClockSkewInit,
  ): PeerTransport {
    const skew = new ClockSkew(components, init);
    return {
      call: (to, method, params, options) => {
        const sent = skew.clock.now();
        const reply = transport.call(to, method, params, options);
        if (method !== 'peer.sync') return reply;
        return reply.then((answer) => {
          const { time } = answer as SyncParams;
          if (time !== undefined) skew.check(to, time, sent, skew.clock.now());
          return answer;
        });
      },
    };
  }

  /**
   * Checks a peer's clock reading, `time`, taken between `sent` and `received` on this node's clock; returns the
   * least it can be off by (positive: ahead of this node's), 0 when the round trip covers the difference.
   */
  check(peer: MemberAddress, time: number, sent: number, received: number): number {
    const offset = time < sent ? time - sent : time > received ? time - received : 0;
    const ms = Math.round(Math.abs(offset));
    if (ms > this.maxSkewMs) {
      if (!this.off.has(peer)) {
        this.off.add(peer);
        this.log.warn(
          `the clock of ${peer} is at least ${ms} ms ${offset > 0 ? 'ahead of' : 'behind'} this node's, more than the ${this.maxSkewMs} ms nodes may differ by: values with a ttl expire at different times on different nodes; keep the clocks in step (NTP)`,
        );
      }
    } else if (this.off.delete(peer)) {
      this.log.info(`the clock of ${peer} is within ${this.maxSkewMs} ms of this node's again`);
    }
    return offset;
  }
}

/**
 * Refuses a client's stamp (see `parseStamp`) more than `maxSkewMs` ahead of `now`, this node's wall clock: its
 * write would win over every write stamped by the nodes until their clocks caught up, and push every node's clock
 * ahead as it spread. A stamp behind the clock is taken as it is: last-writer-wins orders it by its time.
 */
export function refuseFutureStamp(stamp: Version, now: number, maxSkewMs = MAX_CLOCK_SKEW_MS): void {
  const ahead = stamp.wall - now;
  if (ahead > maxSkewMs) {
    throw new InvalidParamsError(
      `\`stamp\` ${formatVersion(stamp)} is ${Math.round(ahead)} ms ahead of this node's clock, more than the ${maxSkewMs} ms clocks may differ by: check the client's clock (NTP)`,
    );
  }
}
