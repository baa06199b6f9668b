import { randomBytes } from 'node:crypto';
import { formatVersion, HybridClock, laterSession, parseSession } from '@kvdb/core';

/**
 * A client's place in time: the highest session token the nodes sent it (see `formatSession`), and the hybrid
 * clock that stamps its writes, kept past that token. A stamp is above everything the client has read or written,
 * as a node's own stamp would be, and is chosen once per write, so the write can be sent again unchanged.
 */
export class SessionClock {
  private latest: string | undefined;
  private readonly clock: HybridClock | undefined;

  /** `stamps`: whether to stamp writes at all (`stampWrites`). */
  constructor(now: () => number, stamps: boolean, session?: string) {
    // 48 random bits name the writer, so two clients' stamps never tie.
    if (stamps) this.clock = new HybridClock(`c${randomBytes(6).toString('hex')}`, now);
    this.join(session);
  }

  /** The highest session token heard, if any. */
  get session(): string | undefined {
    return this.latest;
  }

  /** Keeps the later token, and moves the clock past it. */
  join(token: string | undefined): void {
    if (token === undefined) return;
    this.latest = laterSession(this.latest, token);
    const reading = parseSession(token);
    if (reading !== undefined) this.clock?.observe(reading);
  }

  /** A stamp for one write, `wall.counter@writer`; undefined when writes are not stamped. */
  stamp(): string | undefined {
    return this.clock === undefined ? undefined : formatVersion(this.clock.now());
  }
}
