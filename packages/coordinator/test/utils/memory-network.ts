import {
  ConnectionError,
  type MemberAddress,
  type PeerMethod,
  seededRandom,
  TimeoutError,
  TooLargeError,
} from '@kvdb/core';
import { type Clock, systemClock } from '../../src/clock.js';
import type { PeerCallOptions, PeerHandler, PeerTransport } from '../../src/peer-transport.js';

/** How a node that cannot be reached fails its callers: at once (connection refused) or never (until timeout). */
export type FailureMode = 'refuse' | 'hang';

export interface MemoryNetworkInit {
  /** Seed for the drop decisions, so a failing run can be replayed. @default 1 */
  seed?: number;
  /** Delay of every call, one way, in ms (through the clock). @default 0 */
  delayMs?: number;
}

export { seededRandom } from '@kvdb/core';

/**
 * An in-process network between peer handlers, with knobs for the faults a real one has: nodes that are down
 * (refusing or hanging), one-way or two-way partitions, random drops and delays. Params and results are copied
 * through JSON, as the wire would. Delays and timeouts run on the injected clock, so a fake clock drives them.
 */
export class MemoryNetwork {
  private readonly handlers = new Map<MemberAddress, PeerHandler>();
  private readonly down = new Map<MemberAddress, FailureMode>();
  private readonly cuts = new Set<string>();
  private readonly aliases = new Map<MemberAddress, MemberAddress>();
  private readonly clock: Clock;
  private readonly random: () => number;
  private dropRate = 0;
  /** One-way delay of every call, in ms. */
  delayMs: number;
  /** Calls made, by method, for asserting on traffic. */
  readonly calls = new Map<string, number>();
  /** The largest params and the largest result, in bytes of JSON, by method: what a frame would carry. */
  readonly largest = new Map<string, { call: number; reply: number }>();
  /** A call whose params take more bytes of JSON is refused, as a peer refuses a frame over its limit. */
  maxCallBytes = Number.POSITIVE_INFINITY;

  constructor(components: { clock?: Clock } = {}, init: MemoryNetworkInit = {}) {
    this.clock = components.clock ?? systemClock;
    this.random = seededRandom(init.seed ?? 1);
    this.delayMs = init.delayMs ?? 0;
  }

  /**
   * Makes `name` another name of the node at `address` (a second address, a DNS name): calls to it reach that node,
   * and fail as calls to it do.
   */
  alias(name: MemberAddress, address: MemberAddress): void {
    this.aliases.set(name, address);
  }

  register(address: MemberAddress, handler: PeerHandler): void {
    this.handlers.set(address, handler);
    this.down.delete(address);
  }

  /** Takes a node off the network: calls to it fail at once (`refuse`, a dead process) or hang (`hang`, a frozen one). */
  stop(address: MemberAddress, mode: FailureMode = 'refuse'): void {
    this.down.set(address, mode);
  }

  start(address: MemberAddress): void {
    this.down.delete(address);
  }

  /** Cuts every link between the two groups, both ways; calls across hang until their timeout. */
  partition(groupA: readonly MemberAddress[], groupB: readonly MemberAddress[]): void {
    for (const a of groupA) {
      for (const b of groupB) {
        this.cuts.add(`${a}>${b}`);
        this.cuts.add(`${b}>${a}`);
      }
    }
  }

  /** Cuts the link from one node to another only. */
  cut(from: MemberAddress, to: MemberAddress): void {
    this.cuts.add(`${from}>${to}`);
  }

  heal(): void {
    this.cuts.clear();
  }

  /** Drops this fraction of calls (each hangs until its timeout), decided by the seeded PRNG. */
  setDropRate(rate: number): void {
    this.dropRate = rate;
  }

  callCount(method: PeerMethod): number {
    return this.calls.get(method) ?? 0;
  }

  transport(from: MemberAddress): PeerTransport {
    return { call: (to, method, params, options) => this.deliver(from, to, method, params, options) };
  }

  private async deliver<M extends PeerMethod>(
    from: MemberAddress,
    called: MemberAddress,
    method: M,
    params: unknown,
    options: PeerCallOptions = {},
  ): Promise<never> {
    const to = this.aliases.get(called) ?? called;
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
    const timeoutMs = options.timeoutMs ?? 2_000;
    if (this.down.get(from) !== undefined) throw new ConnectionError(`${from} is down`);
    const mode = this.down.get(to);
    const handler = this.handlers.get(to);
    if (mode === 'refuse' || handler === undefined) throw new ConnectionError(`connect ECONNREFUSED ${to}`);
    const lost =
      mode === 'hang' ||
      this.cuts.has(`${from}>${to}`) ||
      (this.dropRate > 0 && this.random() < this.dropRate);
    if (lost) return this.hang(to, timeoutMs);

    const text = JSON.stringify(params ?? {});
    const bytes = Buffer.byteLength(text);
    const largest = this.largestOf(method);
    largest.call = Math.max(largest.call, bytes);
    if (bytes > this.maxCallBytes) throw new TooLargeError(`Frame over ${this.maxCallBytes} bytes`);
    await this.sleep(this.delayMs);
    const result = await handler.handlePeer(method, JSON.parse(text));
    if (this.cuts.has(`${to}>${from}`) || this.down.has(to)) return this.hang(to, timeoutMs);
    await this.sleep(this.delayMs);
    if (result === undefined) return undefined as never;
    const reply = JSON.stringify(result);
    largest.reply = Math.max(largest.reply, Buffer.byteLength(reply));
    return JSON.parse(reply) as never;
  }

  private largestOf(method: string): { call: number; reply: number } {
    let largest = this.largest.get(method);
    if (largest === undefined) {
      largest = { call: 0, reply: 0 };
      this.largest.set(method, largest);
    }
    return largest;
  }

  private hang(to: MemberAddress, timeoutMs: number): Promise<never> {
    return new Promise((_, reject) => {
      this.clock.setTimeout(
        () => reject(new TimeoutError(`call to ${to} timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => this.clock.setTimeout(resolve, ms));
  }
}
