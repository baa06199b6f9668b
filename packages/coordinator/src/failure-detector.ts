import {
  type GossipReply,
  isLaterPhase,
  type MemberAddress,
  type MemberPhase,
  type MemberState,
  type MemberStatus,
  type PingParams,
  pick,
  type ReplicationSetting,
  reasonOf,
  type SyncParams,
} from '@kvdb/core';
import { type Clock, type Repeating, repeat, systemClock, type TimerHandle } from './clock.js';
import { ClockSkew } from './clock-skew.js';
import {
  DEFAULT_TIMINGS,
  MAX_PIGGYBACK,
  suspicionTimeoutFor,
  syncIntervalFor,
  TIMING_PRESETS,
  type Timings,
} from './defaults.js';
import { type Logger, silentLogger } from './logger.js';
import type { Membership } from './membership.js';
import type { PeerTransport } from './peer-transport.js';

export interface FailureDetectorComponents {
  membership: Membership;
  transport: PeerTransport;
  clock?: Clock;
  logger?: Logger;
  /** Source of randomness for target and helper choice; seed it to replay a test. @default Math.random */
  random?: () => number;
}

/**
 * SWIM-style failure detection and membership gossip. Each round this node pings one member (round-robin over
 * a shuffled list); if no ack comes in time it asks `indirectChecks` others to ping it, and only if none gets
 * through does it suspect the member. A suspect that does not refute (by raising its incarnation) within the
 * suspicion timeout is declared dead. Updates ride on pings and acks; a periodic push-pull sync with one member,
 * dead ones included, repairs whatever gossip missed and lets partitions heal. The sync also carries the cluster's
 * replication setting, which a change broadcasts at once (see `publishReplication`).
 */
export class FailureDetector {
  private readonly membership: Membership;
  private readonly transport: PeerTransport;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly timings: Timings;
  private readonly queue = new Map<MemberAddress, { state: MemberState; sent: number }>();
  private readonly suspicions = new Map<MemberAddress, TimerHandle>();
  private probeOrder: MemberAddress[] = [];
  private loops: Repeating[] = [];
  private unsubscribe: (() => void) | undefined;
  private running = false;
  /** Whether any member has been heard from (a sync answered, a probe acked, a peer's gossip received). */
  heard = false;
  private leaving = false;

  constructor(components: FailureDetectorComponents, init: { timings?: Timings } = {}) {
    this.membership = components.membership;
    this.clock = components.clock ?? systemClock;
    this.log = components.logger ?? silentLogger;
    this.transport = ClockSkew.watch(components.transport, { clock: this.clock, logger: this.log });
    this.random = components.random ?? Math.random;
    this.timings = init.timings ?? TIMING_PRESETS[DEFAULT_TIMINGS];
  }

  private get self(): MemberAddress {
    return this.membership.self;
  }

  /** Members that have not left, this node included: what the suspicion timeout and push-pull scale with. */
  private get size(): number {
    return this.membership.others('alive', 'suspect', 'dead').length + 1;
  }

  /** Joins through every known member (the seeds), then probes and syncs on the preset's timers. */
  start(): Promise<number> {
    this.running = true;
    this.unsubscribe = this.membership.onChange(({ address, from, to }) =>
      this.onStatusChange(address, from, to),
    );
    const onError = (error: unknown) => this.log.warn(`membership round failed: ${reasonOf(error)}`);
    this.loops = [
      repeat(this.clock, this.timings.probeIntervalMs, () => this.probeRound(), onError),
      repeat(
        this.clock,
        () => syncIntervalFor(this.timings, this.size),
        () => this.syncRound(),
        onError,
      ),
    ];
    return this.join();
  }

  stop(): void {
    this.running = false;
    for (const loop of this.loops) loop.stop();
    for (const timer of this.suspicions.values()) this.clock.clearTimeout(timer);
    this.suspicions.clear();
    this.unsubscribe?.();
  }

  /**
   * Exchanges member lists with every other known member, then tells every member it learned of this node's own
   * state directly: a joining node is a pending owner, and a write that does not reach it is one it may lack when
   * it starts serving reads. Resolves with how many of the first members answered.
   */
  async join(): Promise<number> {
    const targets = this.membership.others('alive', 'suspect', 'dead');
    const answers = await Promise.all(targets.map((target) => this.sync(target)));
    const answered = answers.filter(Boolean).length;
    if (answered > 0) await this.broadcast(this.membership.own);
    return answered;
  }

  /** Push-pulls with every alive member; resolves whether all answered (then each knows all this node knew). */
  async syncAll(): Promise<boolean> {
    const answers = await Promise.all(this.membership.others('alive').map((target) => this.sync(target)));
    return answers.every(Boolean);
  }

  /**
   * Changes this node's own phase or `filled` mark, and tells every member directly rather than waiting for gossip:
   * reads move to or from this node when its phase changes. Resolves with how many acknowledged.
   */
  restate(change: Pick<MemberState, 'phase' | 'filled'>): Promise<number> {
    return this.spread(this.membership.restate(change));
  }

  /**
   * States this node's own new status (`left` for good, `dead` on shutdown) at a raised incarnation, and tells
   * every member directly rather than waiting for gossip. Resolves with how many acknowledged.
   */
  async announce(status: Extract<MemberStatus, 'left' | 'dead'>): Promise<number> {
    this.leaving = true;
    const own = this.membership.own;
    return this.spread(this.membership.update(this.self, status, own.incarnation + 1));
  }

  /**
   * Moves another member to a later phase on its behalf (an operator taking a dead member out: `leaving`, so that
   * its ranges get new owners before it goes) and tells everyone. Resolves with how many acknowledged.
   */
  async advance(address: MemberAddress, phase: MemberPhase): Promise<number> {
    const state = this.membership.get(address);
    if (state === undefined) return 0;
    const next = { ...state, phase };
    if (!this.membership.apply(next)) return 0;
    return this.spread(next);
  }

  /** Adopts a new replication setting and tells every member directly; resolves with how many acknowledged. */
  publishReplication(setting: ReplicationSetting): Promise<number> {
    this.membership.applyReplication(setting);
    return this.broadcastSync({ members: [this.membership.own], replication: setting });
  }

  /** Marks another member as left for good (an operator removing a dead node) and tells everyone. */
  async remove(address: MemberAddress): Promise<number> {
    const state = this.membership.get(address);
    if (state === undefined) return 0;
    return this.spread(this.membership.update(address, 'left', state.incarnation));
  }

  /** Tells every member of a state this node has set, directly and by gossip; resolves with how many acknowledged. */
  spread(state: MemberState): Promise<number> {
    this.enqueue(state);
    return this.broadcast(state);
  }

  handlePing(params: PingParams): GossipReply {
    this.receive([params.from, ...params.updates]);
    return { updates: this.outgoing(params.from.address), from: this.self };
  }

  async handlePingReq(
    params: PingParams & { target: MemberAddress },
  ): Promise<GossipReply & { ack: boolean }> {
    this.receive([params.from, ...params.updates]);
    const ack = await this.ping(params.target, this.timings.probeTimeoutMs);
    return { ack, updates: this.outgoing(params.from.address), from: this.self };
  }

  handleSync(params: SyncParams): SyncParams {
    this.receive(params.members);
    if (params.replication !== undefined) this.membership.applyReplication(params.replication);
    return { ...this.syncParams(), from: this.self };
  }

  /** This node's member list, replication setting and wall time (see `ClockSkew`), as a sync carries them. */
  private syncParams(): SyncParams {
    const { replication } = this.membership;
    const sync = { members: this.membership.states(), time: Math.floor(this.clock.now()) };
    return replication === undefined ? sync : { ...sync, replication };
  }

  /** Merges membership news; news that this node is suspect or dead is refuted by raising its incarnation. */
  receive(states: readonly MemberState[]): void {
    this.heard ||= states.some((state) => state.address !== this.self);
    for (const state of states) {
      if (state.address !== this.self) continue;
      // A restarted member learns how far it had got: a joined one serves its ranges again at once.
      if (state.status !== 'left' && isLaterPhase(state.phase, this.membership.own.phase)) {
        const more = state.phase === 'leaving' ? ' (ask it to leave again to finish leaving)' : '';
        this.log.info(`the cluster knows this node as ${state.phase}: taking that phase up again${more}`);
        void this.restate({ phase: state.phase });
      }
      const own = this.membership.own;
      if (!this.leaving && state.status !== 'alive' && state.incarnation >= own.incarnation) {
        this.membership.update(this.self, 'alive', state.incarnation + 1);
        this.enqueue(this.membership.own);
        this.log.info(`refuted being ${state.status} (incarnation ${state.incarnation + 1})`);
        // A refutation races every suspicion timer in the cluster: tell everyone now rather than by gossip.
        void this.broadcast(this.membership.own);
      }
    }
    const others = states.filter((state) => state.address !== this.self);
    for (const state of this.membership.applyAll(others)) this.enqueue(state);
  }

  private onStatusChange(address: MemberAddress, from: MemberStatus | undefined, to: MemberStatus): void {
    if (address === this.self) return;
    const suspicion = this.suspicions.get(address);
    if (suspicion !== undefined) {
      this.clock.clearTimeout(suspicion);
      this.suspicions.delete(address);
    }
    const change =
      from === undefined ? `joined (${to})` : to === 'alive' ? `is alive again (was ${from})` : `is ${to}`;
    const alias = from !== undefined && to !== 'alive' && this.membership.get(address)?.aliasOf !== undefined;
    if (!alias) this.log.info(`${address} ${change}`, { member: address, status: to, was: from ?? null });
    if (to === 'suspect' && this.running) {
      const incarnation = this.membership.get(address)?.incarnation;
      const timeoutMs = suspicionTimeoutFor(this.timings, this.size);
      const timer = this.clock.setTimeout(() => {
        this.suspicions.delete(address);
        const state = this.membership.get(address);
        if (state?.status === 'suspect' && state.incarnation === incarnation) {
          this.enqueue(this.membership.update(address, 'dead', state.incarnation));
        }
      }, timeoutMs);
      this.suspicions.set(address, timer);
    }
  }

  private async probeRound(): Promise<void> {
    const target = this.nextTarget();
    if (target === undefined) return;
    if (await this.ping(target, this.timings.probeTimeoutMs)) return;

    const helpers = pick(
      this.random,
      this.membership.others('alive').filter((member) => member !== target),
      this.timings.indirectChecks,
    );
    const wait = Math.max(
      this.timings.probeIntervalMs - this.timings.probeTimeoutMs,
      this.timings.probeTimeoutMs,
    );
    const acks = await Promise.all(
      helpers.map((helper) =>
        this.transport
          .call(
            helper,
            'peer.ping_req',
            { from: this.membership.own, target, updates: this.outgoing(helper) },
            { timeoutMs: wait },
          )
          .then(
            (reply) => {
              this.receive(reply.updates);
              return reply.ack;
            },
            () => false,
          ),
      ),
    );
    if (acks.includes(true)) return;

    const state = this.membership.get(target);
    if (state?.status === 'alive') {
      const suspected = this.membership.update(target, 'suspect', state.incarnation);
      this.enqueue(suspected);
      // Tell the suspect itself at once, so a live one can refute before any suspicion timer runs out.
      void this.transport
        .call(
          target,
          'peer.sync',
          { members: [suspected, this.membership.own] },
          { timeoutMs: this.timings.probeTimeoutMs },
        )
        .then(
          (reply) => this.receive(reply.members),
          () => {},
        );
    }
  }

  private async ping(target: MemberAddress, timeoutMs: number): Promise<boolean> {
    try {
      const reply = await this.transport.call(
        target,
        'peer.ping',
        { from: this.membership.own, updates: this.outgoing(target) },
        { timeoutMs },
      );
      this.receive(reply.updates);
      return true;
    } catch {
      return false;
    }
  }

  private async syncRound(): Promise<void> {
    const dead = this.membership.others('dead');
    const reachable = this.membership.others('alive', 'suspect');
    const preferDead = dead.length > 0 && (reachable.length === 0 || this.random() < 0.5);
    const candidates = preferDead ? dead : reachable;
    const [target] = pick(this.random, candidates, 1);
    if (target !== undefined) await this.sync(target);
  }

  private async sync(target: MemberAddress): Promise<boolean> {
    try {
      const reply = await this.transport.call(target, 'peer.sync', this.syncParams(), {
        timeoutMs: this.timings.probeIntervalMs * 2,
      });
      this.receive(reply.members);
      if (reply.replication !== undefined) this.membership.applyReplication(reply.replication);
      return true;
    } catch {
      return false;
    }
  }

  private broadcast(state: MemberState): Promise<number> {
    return this.broadcastSync({ members: [state] });
  }

  private async broadcastSync(params: SyncParams): Promise<number> {
    const targets = this.membership.others('alive', 'suspect');
    const acks = await Promise.all(
      targets.map((target) =>
        this.transport
          .call(target, 'peer.sync', params, { timeoutMs: this.timings.probeIntervalMs * 2 })
          .then(
            () => true,
            () => false,
          ),
      ),
    );
    return acks.filter(Boolean).length;
  }

  /** The next member to probe: alive or suspect, round-robin over a list reshuffled each cycle. */
  private nextTarget(): MemberAddress | undefined {
    for (let attempts = 0; attempts < 2; attempts++) {
      for (
        let candidate = this.probeOrder.pop();
        candidate !== undefined;
        candidate = this.probeOrder.pop()
      ) {
        const status = this.membership.get(candidate)?.status;
        if (status === 'alive' || status === 'suspect') return candidate;
      }
      this.probeOrder = pick(
        this.random,
        this.membership.others('alive', 'suspect'),
        Number.POSITIVE_INFINITY,
      );
    }
    return undefined;
  }

  private enqueue(state: MemberState): void {
    this.queue.set(state.address, { state: { ...state }, sent: 0 });
  }

  /** Updates to piggyback: the least-sent first, each at most λ·log10(n+1) times, plus our view of the recipient. */
  private outgoing(recipient: MemberAddress): MemberState[] {
    const limit = Math.max(
      1,
      Math.ceil(this.timings.retransmitMultiplier * Math.log10(this.membership.states().length + 1)),
    );
    const chosen = [...this.queue.values()].sort((a, b) => a.sent - b.sent).slice(0, MAX_PIGGYBACK);
    const updates: MemberState[] = [this.membership.own];
    for (const entry of chosen) {
      entry.sent += 1;
      if (entry.sent >= limit) this.queue.delete(entry.state.address);
      if (entry.state.address !== this.self) updates.push(entry.state);
    }
    const view = this.membership.get(recipient);
    if (view !== undefined && view.status !== 'alive') updates.push(view);
    return updates;
  }
}
