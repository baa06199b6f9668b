import {
  DEFAULT_REPLICAS,
  type FillLog,
  type Hasher,
  InvalidParamsError,
  type LeaveResult,
  type MemberAddress,
  type PaxosLog,
  type PeerMethod,
  type PeerParams,
  type PeerResult,
  type ReplicationLog,
  type SetReplicasResult,
  type Store,
  TimeoutError,
  UsageError,
} from '@kvdb/core';
import { AntiEntropy } from './anti-entropy.js';
import { type Clock, sleep, systemClock } from './clock.js';
import { Coordinator, type CoordinatorInit } from './coordinator.js';
import {
  DEFAULT_LEAVE_TIMEOUT_MS,
  DEFAULT_STREAM_THROUGHPUT,
  DEFAULT_TIMINGS,
  DEFAULT_TOMBSTONE_GRACE_MS,
  MOVE_POLL_MS,
  TIMING_PRESETS,
  type Timings,
} from './defaults.js';
import { FailureDetector } from './failure-detector.js';
import { HintedHandoff, type HintLog } from './hinted-handoff.js';
import { LocalReplica } from './local-replica.js';
import { type Logger, silentLogger } from './logger.js';
import { MemberNames } from './member-names.js';
import { Membership } from './membership.js';
import { dispatchPeer, type PeerHandler, type PeerHandlers, type PeerTransport } from './peer-transport.js';
import { RangeFill } from './range-fill.js';
import { Rebalancer } from './rebalancer.js';
import { ReplicationChange } from './replication-change.js';
import { Throttle } from './throttle.js';
import { TombstoneCollector } from './tombstone-collector.js';

export interface ClusterNodeComponents {
  store: Store;
  transport: PeerTransport;
  clock?: Clock;
  logger?: Logger;
  /** Randomness for gossip targets and read fan-out; seed it to replay a test. @default Math.random */
  random?: () => number;
  /**
   * Keep across restarts hints, the cluster's replication setting, a range fetch's progress, and serial rounds'
   * promises (the disk store provides each); without them, each lives in memory only.
   */
  hintLog?: HintLog;
  replicationLog?: ReplicationLog;
  fillLog?: FillLog;
  paxosLog?: PaxosLog;
}

export interface ClusterNodeInit extends CoordinatorInit {
  /** This node's address: its identity on the ring. */
  self: MemberAddress;
  /**
   * Members to join through. A node that names itself among them (or names none) is a founding member and owns its
   * ranges at once; one that names only others joins: it fetches its ranges' data before it serves them.
   * @default []
   */
  seeds?: readonly MemberAddress[];
  /** Virtual nodes per member. @default DEFAULT_VNODES */
  vnodes?: number;
  /** Ring hasher. @default md5Hasher */
  hasher?: Hasher;
  /** Probe, gossip and repair intervals. @default the `DEFAULT_TIMINGS` preset */
  timings?: Timings;
  /** Starting incarnation. @default the clock's now(), so a restart outranks what the cluster remembers */
  incarnation?: number;
  /** How long a leave waits for the new owners to confirm before it fails. @default DEFAULT_LEAVE_TIMEOUT_MS */
  leaveTimeoutMs?: number;
  /**
   * How old a tombstone must be before it may be collected (once every replica holds it); hints older than this
   * are dropped. A member down longer than this should rejoin with an empty data dir.
   * @default DEFAULT_TOMBSTONE_GRACE_MS (1 hour)
   */
  tombstoneGraceMs?: number;
  /**
   * Bytes per second that the node's background transfers (rebalancing, a leave's drain, hint replay,
   * anti-entropy) send together, on average; 0 leaves them unthrottled. @default DEFAULT_STREAM_THROUGHPUT (32 MiB/s)
   */
  streamThroughput?: number;
  /**
   * Most bytes of records in one call of a background transfer; keep it at most half the peers' frame limit.
   * @default DEFAULT_BATCH_BYTES (1 MiB)
   */
  batchBytes?: number;
}

/**
 * One kvdb node's distributed machinery, wired together: membership and failure detection, the request
 * coordinator, hinted handoff, anti-entropy and rebalancing, over one local replica. It answers every `peer.`
 * method; the server only has to put it behind a transport.
 */
export class ClusterNode implements PeerHandler {
  readonly membership: Membership;
  readonly replica: LocalReplica;
  readonly coordinator: Coordinator;
  readonly detector: FailureDetector;
  readonly hints: HintedHandoff;
  readonly antiEntropy: AntiEntropy;
  readonly rebalancer: Rebalancer;
  readonly rangeFill: RangeFill;
  readonly tombstones: TombstoneCollector;
  /** The throttle every background transfer of the node shares (`streamThroughput`). */
  readonly throttle: Throttle;
  readonly replication: ReplicationChange;
  /** The handler of every peer method, each from the part that owns it. */
  readonly peerHandlers: PeerHandlers;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly leaveTimeoutMs: number;
  /** The replication factor this node was given, if any: it must be the cluster's. */
  private readonly givenReplicas: number | undefined;
  private started = false;

  constructor(components: ClusterNodeComponents, init: ClusterNodeInit) {
    const clock = components.clock ?? systemClock;
    const logger = components.logger ?? silentLogger;
    const { transport } = components;
    const timings = init.timings ?? TIMING_PRESETS[DEFAULT_TIMINGS];
    this.log = logger;
    this.clock = clock;
    this.leaveTimeoutMs = init.leaveTimeoutMs ?? DEFAULT_LEAVE_TIMEOUT_MS;
    this.givenReplicas = init.replicas;
    const tombstoneGraceMs = init.tombstoneGraceMs ?? DEFAULT_TOMBSTONE_GRACE_MS;
    const seeds = (init.seeds ?? []).filter((seed) => seed !== init.self);
    const founding = seeds.length === 0 || (init.seeds ?? []).includes(init.self);
    const throttle = new Throttle(clock, init.streamThroughput ?? DEFAULT_STREAM_THROUGHPUT);
    this.throttle = throttle;
    this.membership = new Membership(
      init.self,
      seeds,
      { vnodes: init.vnodes, hasher: init.hasher },
      init.incarnation ?? clock.now(),
      founding ? 'normal' : 'joining',
    );
    const membership = this.membership;
    this.adoptReplication(components.replicationLog, init, founding);
    // The store, and the disk's log of serial rounds' promises when there is one.
    this.replica = new LocalReplica({ ...components, ring: membership.ring, self: init.self, clock });
    this.hints = new HintedHandoff(
      { membership, transport, clock, logger, hintLog: components.hintLog, throttle },
      {
        replayIntervalMs: timings.hintReplayIntervalMs,
        maxAgeMs: tombstoneGraceMs,
        batchBytes: init.batchBytes,
      },
    );
    this.coordinator = new Coordinator(
      {
        membership,
        replica: this.replica,
        transport,
        hints: this.hints,
        clock,
        logger,
        random: components.random,
        ready: () => founding || this.detector.heard,
      },
      init,
    );
    // Every placement caps the factor at its ring's size itself; a ring still growing must not cap it lower.
    const replicas = () => this.coordinator.replicationFactor;
    const names = new MemberNames({ membership, logger, detector: () => this.detector }, init);
    this.detector = new FailureDetector(
      { membership, transport: names.watch(transport), clock, logger, random: components.random },
      { timings },
    );
    this.antiEntropy = new AntiEntropy(
      { membership, replica: this.replica, transport, clock, logger, throttle },
      { intervalMs: timings.antiEntropyIntervalMs, replicas, batchBytes: init.batchBytes },
    );
    this.rebalancer = new Rebalancer(
      { membership, replica: this.replica, transport, clock, logger, throttle },
      { intervalMs: timings.rebalanceIntervalMs, replicas, batchBytes: init.batchBytes },
    );
    this.rangeFill = new RangeFill(
      { membership, replica: this.replica, transport, clock, logger, throttle, fillLog: components.fillLog },
      {
        intervalMs: timings.rebalanceIntervalMs,
        replicas,
        restate: (change) => this.detector.restate(change),
        announce: () => this.detector.syncAll(),
        settleMs: this.coordinator.timeoutMs,
      },
    );
    this.tombstones = new TombstoneCollector(
      { membership, replica: this.replica, transport, clock, logger },
      { graceMs: tombstoneGraceMs, replicas },
    );
    this.replication = new ReplicationChange(
      { membership, detector: this.detector, clock, logger },
      {
        configured: init.replicas ?? DEFAULT_REPLICAS,
        untilMovesDone: (deadline) => this.untilMovesDone(deadline),
        timeoutMs: this.leaveTimeoutMs,
      },
    );
    this.peerHandlers = {
      'peer.ping': (params) => this.detector.handlePing(params),
      'peer.ping_req': (params) => this.detector.handlePingReq(params),
      'peer.sync': (params) => this.detector.handleSync(params),
      'peer.digest': (params) => this.antiEntropy.handleDigest(params),
      'peer.range': (params) => this.antiEntropy.handleRange(params),
      'peer.stream': (params) => this.rangeFill.handleStream(params),
      'peer.stats': () => this.coordinator.stats(),
      ...this.replica.handlers,
    };
    membership.onRingChange((placement) => {
      this.replica.useRing(placement.read);
      this.rebalancer.schedule();
      const [serving, moving] = [placement.read.size, placement.all.size - placement.read.size];
      const more = placement.moving ? `, ${moving} more joining or leaving` : '';
      this.log.info(`ring now has ${serving} member(s) serving reads${more}`, { serving, moving });
    });
  }

  get self(): MemberAddress {
    return this.membership.self;
  }

  /**
   * Starts the background loops and joins through the seeds; resolves with how many seeds answered. Rejects (a
   * `UsageError`, having stopped) when the cluster's replication factor is not the one this node was given.
   */
  async start(): Promise<number> {
    this.started = true;
    this.replica.useRing(this.membership.ring); // resumes a rebuild that a stop dropped
    this.hints.start();
    this.antiEntropy.start();
    this.rebalancer.start();
    this.rangeFill.start();
    this.tombstones.start();
    const answered = await this.detector.start();
    const mismatch = this.replicationMismatch();
    if (mismatch !== undefined) {
      this.log.error(mismatch);
      // A node that was joining is no pending owner any more; one that was a member is only down.
      if (this.membership.own.phase === 'joining') await this.detector.announce('left');
      await this.stop();
      throw new UsageError(mismatch);
    }
    return answered;
  }

  /** Changes the cluster's replication factor (see `ReplicationChange`). */
  setReplicas(replicas: number): Promise<SetReplicasResult> {
    return this.replication.set(replicas);
  }

  /**
   * Starts from the setting stored by the last run, or as a founding member given a factor from that one (at stamp
   * 0); any other node has none until it hears the cluster's, and reads and writes at `init.replicas` (else the
   * default) meanwhile. Stores every setting it takes up, its founding one too: a whole cluster restarted
   * without `-R` keeps its factor.
   */
  private adoptReplication(log: ReplicationLog | undefined, init: ClusterNodeInit, founding: boolean): void {
    const stored = log?.loadReplication();
    this.membership.onReplicationChange((setting) => {
      const change = setting.target === undefined ? '' : `, changing to ${setting.target}`;
      this.log.info(`replication is ${setting.replicas}${change}`);
      log?.saveReplication(setting).catch((error: unknown) => {
        this.log.warn(`could not store the replication setting: ${(error as Error).message}`);
      });
    });
    if (stored !== undefined) this.membership.applyReplication(stored);
    else if (founding && init.replicas !== undefined) {
      this.membership.applyReplication({ replicas: init.replicas, stamp: 0, by: init.self });
    }
  }

  /** Why this node may not take part in the cluster, if it may not: its `-R` is not the cluster's factor. */
  private replicationMismatch(): string | undefined {
    const conflict = this.membership.replicationConflict;
    const own = this.membership.replication;
    if (conflict !== undefined && own !== undefined) {
      return `${conflict.by} founded the cluster with replication factor ${conflict.replicas}, this node with ${own.replicas} (-R): start every founding member with the same -R`;
    }
    const given = this.givenReplicas;
    if (given === undefined || own === undefined || own.replicas === given) return undefined;
    const how = own.stamp > 0 ? 'as set by set_replicas' : "its founding members' -R";
    return `the cluster's replication factor is ${own.replicas} (${how}), but this node was started with -R ${given}: start it with -R ${own.replicas}, or without -R to take the cluster's`;
  }

  /** Stops the loops; with `announce`, first tells the members this node is going down, so they route around it. */
  async stop({ announce = true } = {}): Promise<void> {
    const hasLeft = this.membership.own.status === 'left';
    if (announce && this.started && !hasLeft) await this.detector.announce('dead');
    this.detector.stop();
    this.hints.stop();
    this.antiEntropy.stop();
    this.rebalancer.stop();
    this.rangeFill.stop();
    this.tombstones.stop();
    this.replica.stop();
    this.started = false;
  }

  /**
   * Resolves once the background work under way at `stop` has ended (repair rounds, handoff passes, hint replays
   * and writes, the read repairs and hints of requests already answered), so that the store can close under none
   * of it. Close the transport first: a run waiting on a peer call then ends at once, not at the call's timeout.
   */
  async idle(): Promise<void> {
    await this.coordinator.idle(); // its hints are written through `hints`, so it goes first
    await Promise.all([
      this.hints.idle(),
      this.antiEntropy.idle(),
      this.rebalancer.idle(),
      this.rangeFill.idle(),
      this.tombstones.idle(),
    ]);
  }

  /**
   * Takes a member out of the cluster for good. Without an address (or with this node's own), this node leaves: it
   * turns `leaving`, serves its ranges until their new owners say they hold them, then tells every member it has
   * left and hands over what remains before resolving. With another member's address, that member (which should be
   * down) is moved out the same way on its behalf, its ranges fetched by their new owners from the other replicas.
   * A member still joining, or one that never answered (`MemberInfo.answered`), holds no data, and goes at once.
   * When the new owners have not all confirmed within the leave timeout (one is down, or there is much to move),
   * this rejects with a `TimeoutError` and the member stays `leaving`, serving its ranges as before: ownership never
   * moves to owners that may lack the data. Asking again waits again; the fetches go on meanwhile.
   */
  async leave(address?: MemberAddress): Promise<LeaveResult> {
    const deadline = this.clock.now() + this.leaveTimeoutMs;
    if (address !== undefined && address !== this.self) {
      const state = this.membership.get(address);
      if (state === undefined) throw new InvalidParamsError(`\`${address}\` is not a member`);
      if (state.status === 'alive') {
        throw new InvalidParamsError(
          `\`${address}\` is alive: ask it to leave itself, so it hands its data over`,
        );
      }
      if (state.phase !== 'joining' && state.phase !== undefined) {
        await this.detector.advance(address, 'leaving');
        await this.movesDoneOrThrow(deadline, address);
      }
      await this.detector.remove(address);
      this.log.info(`removed ${address} from the cluster`, { member: address });
      return { left: address, handedOff: 0 };
    }
    if (this.membership.own.phase !== 'joining') {
      this.log.info('leaving the cluster: serving until the new owners hold the data');
      await this.detector.restate({ phase: 'leaving' });
      await this.movesDoneOrThrow(deadline, this.self);
    }
    await this.detector.announce('left');
    const { handedOff, remaining } = await this.rebalancer.drain(Math.max(0, deadline - this.clock.now()));
    if (remaining > 0)
      this.log.warn(`left with ${remaining} record(s) not handed over`, { handedOff, remaining });
    else this.log.info(`left: handed over ${handedOff} record(s)`, { handedOff, remaining });
    return { left: this.self, handedOff };
  }

  private async movesDoneOrThrow(deadline: number, leaving: MemberAddress): Promise<void> {
    const waiting = await this.movesUnderWay(deadline);
    if (waiting.length === 0) return;
    const seconds = Math.round(this.leaveTimeoutMs / 1_000);
    const message =
      `${leaving} is still leaving: ${waiting.join(', ')} did not confirm holding its ranges within ${seconds} s. ` +
      'It serves them as before, and the new owners go on fetching; ask it to leave again to wait for them';
    this.log.warn(message);
    throw new TimeoutError(message);
  }

  /** Whether every pending owner said it holds its new ranges by the deadline (see `movesUnderWay`). */
  private async untilMovesDone(deadline: number): Promise<boolean> {
    return (await this.movesUnderWay(deadline)).length === 0;
  }

  /**
   * Waits until every pending owner says it holds its new ranges (see `RangeFill`), or the deadline; resolves with
   * the owners still fetching then (none when the moves are done).
   */
  private async movesUnderWay(deadline: number): Promise<MemberAddress[]> {
    for (;;) {
      const n = this.coordinator.replicationFactor;
      const placement = this.membership.placement;
      const waiting = [...placement.pendingMembers(n)].filter(
        (member) => this.membership.get(member)?.filled !== placement.fillId,
      );
      if (waiting.length === 0 || this.clock.now() >= deadline || !this.started) return waiting;
      await sleep(this.clock, MOVE_POLL_MS);
    }
  }

  /** Answers a peer call with the handler of its method (see `peerHandlers`). */
  handlePeer<M extends PeerMethod>(method: M, params: PeerParams<M>): Promise<PeerResult<M>> {
    return dispatchPeer(this.peerHandlers, method, params);
  }
}
