import { ConnectionError, type MemberAddress, type MemberState, type PeerMethod } from '@kvdb/core';
import { DEFAULT_TIMINGS, TIMING_PRESETS, type Timings } from './defaults.js';
import type { FailureDetector } from './failure-detector.js';
import { type Logger, silentLogger } from './logger.js';
import type { Membership } from './membership.js';
import type { PeerTransport } from './peer-transport.js';

/** The membership calls, whose replies name the node that answered (`from`). */
const ANSWERS_NAMED: ReadonlySet<PeerMethod> = new Set(['peer.ping', 'peer.ping_req', 'peer.sync']);

export interface MemberNamesComponents {
  membership: Membership;
  /** What tells every member of a state this node sets: the failure detector, made after this. */
  detector: () => Pick<FailureDetector, 'spread' | 'restate'>;
  logger?: Logger;
}

export interface MemberNamesInit {
  /** The replication factor this node was given, which a founding member brings. @default undefined */
  replicas?: number;
  /** Probe timings: a seed learned from another node is probed at once, within the probe timeout. @default DEFAULT_TIMINGS */
  timings?: Timings;
}

/**
 * Keeps one node one member. A member is named by the address it advertises, and every reply to a membership call
 * names the node that gave it (`from`). A member known only as a seed (`-C`, here or on another node) that answers
 * as another node is another name of it: a second address, a DNS name, `localhost`. It is marked `left` with
 * `aliasOf`, which takes it off every ring and out of `list_members` as gossip carries the mark, and the node it
 * names stays a member under its own address only. A seed that turns out to be this node itself makes it a
 * founding member, as naming itself in `-C` does. A member that has answered as itself and now answers as another
 * node is not counted alive: its address names someone else now, so it goes dead, for an operator to remove.
 *
 * It also warns, once per member, when a member no node has heard from is declared dead: most likely a wrong
 * address in some node's `-C`, which holds a place on the ring until it is removed.
 */
export class MemberNames {
  private readonly membership: Membership;
  private readonly log: Logger;
  private readonly detector: MemberNamesComponents['detector'];
  private readonly replicas: number | undefined;
  private readonly probeTimeoutMs: number;
  /** The transport `watch` made, for probes of this node's own. */
  private watched: PeerTransport | undefined;
  /** Members already warned of as never having answered, or as answering as another node. */
  private readonly neverAnswered = new Set<MemberAddress>();
  private readonly answeringAsOther = new Set<MemberAddress>();

  constructor(components: MemberNamesComponents, init: MemberNamesInit = {}) {
    this.membership = components.membership;
    this.log = components.logger ?? silentLogger;
    this.detector = components.detector;
    this.replicas = init.replicas;
    this.probeTimeoutMs = (init.timings ?? TIMING_PRESETS[DEFAULT_TIMINGS]).probeTimeoutMs;
    this.membership.onChange(({ address, from, to }) => {
      if (from === undefined && to !== 'left') this.probeIfSeed(address);
      if (to === 'dead') this.warnIfNeverAnswered(address);
      const aliasOf = to === 'left' ? this.membership.get(address)?.aliasOf : undefined;
      if (aliasOf !== undefined) {
        const owner = aliasOf === this.membership.self ? 'this node' : aliasOf;
        this.log.info(`${address} is another address of ${owner}: dropped it from the members`);
      }
    });
  }

  /** `transport`, with the node that answered each membership call checked against the address called. */
  watch(transport: PeerTransport): PeerTransport {
    this.watched = {
      call: async (to, method, params, options) => {
        const reply = await transport.call(to, method, params, options);
        if (!ANSWERS_NAMED.has(method)) return reply;
        const mark = this.answered(to, (reply as { from?: unknown }).from);
        const owner = mark?.aliasOf;
        if (mark !== undefined && owner !== undefined && owner !== this.membership.self) {
          // The node that answered hears at once that it was called by another name, before it gossips that name.
          transport.call(owner, 'peer.sync', { members: [mark] }, options).catch(() => {});
        }
        return reply;
      },
    };
    return this.watched;
  }

  /**
   * Probes a seed learned from another node at once rather than when its turn comes: if it is another name of a
   * member (this node included), every ring drops it after one round trip.
   */
  private probeIfSeed(address: MemberAddress): void {
    if (this.watched === undefined || this.membership.get(address)?.phase !== undefined) return;
    const ping = { from: this.membership.own, updates: [] };
    this.watched.call(address, 'peer.ping', ping, { timeoutMs: this.probeTimeoutMs }).catch(() => {});
  }

  /**
   * Checks that the node that answered a call to `target` is `target`; returns the mark when `target` turned out to
   * be another name of `from`. Throws when `target`, a member that has answered as itself, answers as another.
   */
  private answered(target: MemberAddress, from: unknown): MemberState | undefined {
    if (typeof from !== 'string' || from === target) return undefined;
    const state = this.membership.get(target);
    if (state === undefined || state.status === 'left') return undefined;
    if (state.phase === undefined) return this.drop(state, from);
    if (!this.answeringAsOther.has(target)) {
      this.answeringAsOther.add(target);
      this.log.warn(
        `${target} now answers as ${from}: it is not counted alive. If it was an old address of ${from}, remove it with \`leave ${target}\` sent to any node once it is dead`,
      );
    }
    throw new ConnectionError(`${target} answered as ${from}`);
  }

  /** Marks a seed as another name of `owner` and tells every member; returns the mark. */
  private drop(seed: MemberState, owner: MemberAddress): MemberState | undefined {
    const mark: MemberState = { ...seed, status: 'left', aliasOf: owner };
    if (!this.membership.apply(mark)) return undefined;
    void this.detector().spread(mark);
    if (owner === this.membership.self) this.founded();
    return mark;
  }

  /** A joining node that finds itself among its seeds is a founding member after all, as if it had named itself. */
  private founded(): void {
    const { membership } = this;
    if (membership.own.phase !== 'joining') return;
    const { replicas } = this;
    if (replicas !== undefined) membership.applyReplication({ replicas, stamp: 0, by: membership.self });
    this.log.info('this node is among its own -C: a founding member, it owns its ranges at once');
    void this.detector().restate({ phase: 'normal' });
  }

  private warnIfNeverAnswered(address: MemberAddress): void {
    const state = this.membership.get(address);
    if (state === undefined || state.phase !== undefined || state.aliasOf !== undefined) return;
    if (this.neverAnswered.has(address)) return;
    this.neverAnswered.add(address);
    this.log.warn(
      `${address} has never answered (a member known only from -C, this node's or another's): check the address. ` +
        'It holds a place on the ring, and writes to its ranges may fail for want of a quorum; if it is wrong, ' +
        `take it out of -C and remove it with \`leave ${address}\` sent to any node (\`kvdb --yes leave ${address}\`)`,
    );
  }
}
