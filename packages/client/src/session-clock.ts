import { randomBytes } from 'node:crypto';
import { formatVersion, HybridClock, laterSession, parseSession } from '@kvdb/core';

/**
 * A client's place in time: the highest session token the nodes sent it (see `formatSession`), and the hybrid
 * clock that stamps its writes, kept past that token. A stamp is above everything the client has read or written,
 * as a node's own stamp would be, and is chosen once per write, so the write can be sent again unchanged.
 *
 * A machine whose clock is behind the nodes' would stamp its writes in their past: they would lose to writes made
 * meanwhile, and a ttl would end early. So the clock runs at this machine's time plus how far the last token read
 * ahead of it, learnt again from every reply (an NTP correction here then takes effect at the next reply); a clock
 * ahead of the nodes' adds nothing, and nodes refuse its stamps beyond `MAX_CLOCK_SKEW_MS`.
 */
export class SessionClock {
  private latest: string | undefined;
  private readonly clock: HybridClock | undefined;
  /** How far the nodes' clocks read ahead of this machine's at the last reply, in ms (0 when not ahead). */
  private behindBy = 0;

  /** `stamps`: whether to stamp writes at all (`stampWrites`). */
  constructor(
    private readonly now: () => number,
    stamps: boolean,
    session?: string,
  ) {
    // 48 random bits name the writer, so two clients' stamps never tie.
    const writer = `c${randomBytes(6).toString('hex')}`;
    if (stamps) this.clock = new HybridClock(writer, () => now() + this.behindBy);
    this.join(session);
  }

  /** The highest session token heard, if any. */
  get session(): string | undefined {
    return this.latest;
  }

  /** Keeps the later token, moves the clock past it, and learns how far this machine's clock is behind it. */
  join(token: string | undefined): void {
    if (token === undefined) return;
    this.latest = laterSession(this.latest, token);
    const reading = parseSession(token);
    if (reading === undefined) return;
    this.behindBy = Math.max(0, reading.wall - this.now());
    this.clock?.observe(reading);
  }

  /** A stamp for one write, `wall.counter@writer`; undefined when writes are not stamped. */
  stamp(): string | undefined {
    return this.clock === undefined ? undefined : formatVersion(this.clock.now());
  }
}
