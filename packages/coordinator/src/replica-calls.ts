import {
  isSameRecord,
  type KVRecord,
  type MemberAddress,
  type PeerParams,
  type PeerResult,
  UnavailableError,
} from '@kvdb/core';
import type { OwnAnswer, ParallelExecutor, QuorumOptions, QuorumOutcome } from './executor.js';
import type { DataMethod, LocalReplica } from './local-replica.js';
import type { Membership } from './membership.js';
import type { PeerTransport } from './peer-transport.js';
import type { AskEach } from './ring-listing.js';

export interface ReplicaCallsComponents {
  membership: Membership;
  replica: LocalReplica;
  transport: PeerTransport;
  executor: ParallelExecutor;
  /** How long a call may take, in ms. */
  timeoutMs: number;
}

/** The least value (UTF-16 units of its JSON text) whose reads are digest reads (see `ReplicaCalls.read`). */
export const DIGEST_READ_BYTES = 1_024;

/**
 * How a coordinator calls a key's replicas: this node's own directly, the others over the transport, in parallel
 * through the executor, resolved at a quorum or a deadline. Shared by every kind of request (reads and writes,
 * listings, serial rounds).
 */
export class ReplicaCalls {
  private readonly self: MemberAddress;
  private readonly membership: Membership;
  private readonly replica: LocalReplica;
  private readonly transport: PeerTransport;
  private readonly executor: ParallelExecutor;
  private readonly timeoutMs: number;

  constructor(components: ReplicaCallsComponents) {
    this.membership = components.membership;
    this.self = this.membership.self;
    this.replica = components.replica;
    this.transport = components.transport;
    this.executor = components.executor;
    this.timeoutMs = components.timeoutMs;
  }

  /**
   * Asks each of `replicas` for its answer to one replica call, through the executor, and resolves once the
   * quorum's outcome is known. This node's own replica, when it is one of them, is asked first and directly, with
   * `LocalReplica.answer`, whatever its store: when the store answers at once, so does the replica, and the
   * executor counts that answer without a call (`QuorumOptions.own`); a request whose only replica is this node
   * (every request to a single node) is then decided without waiting on anything.
   */
  ask<M extends DataMethod>(
    replicas: readonly MemberAddress[],
    method: M,
    params: PeerParams<M>,
    options: Omit<QuorumOptions<unknown>, 'timeoutMs' | 'own'>,
  ): Promise<QuorumOutcome<PeerResult<M>>> {
    const own = replicas.includes(this.self) ? this.replica.ownAnswer(method, params) : undefined;
    return this.executor.quorum(
      replicas,
      (target) => this.call(target, method, params),
      this.quorumOptions(options, own),
    );
  }

  /** The executor's options for a quorum of replica calls: `options`, this node's timeout and its own answer. */
  private quorumOptions<T>(
    options: Omit<QuorumOptions<unknown>, 'timeoutMs' | 'own'>,
    own: OwnAnswer<T> | undefined,
  ): QuorumOptions<T> {
    // Written out, not spread: this runs for every request.
    return {
      required: options.required,
      timeoutMs: this.timeoutMs,
      waitForAll: options.waitForAll,
      graceMs: options.graceMs,
      fanout: options.fanout,
      hedgeMs: options.hedgeMs,
      own,
    };
  }

  /**
   * A read of one key from `replicas` (`peer.get`), as `ask` makes it; but when this node is one of them, its
   * store answers at once (in memory) and its value is large, a digest read: the others are sent its record's
   * version, and answer with their record only when theirs differs (Cassandra's digest reads), so replicas in
   * agreement, the common case, send no value. A small value costs less to send than a version to check.
   */
  read(
    replicas: readonly MemberAddress[],
    key: string,
    options: Omit<QuorumOptions<unknown>, 'timeoutMs' | 'own'>,
  ): Promise<QuorumOutcome<KVRecord | null>> {
    const params = { key };
    if (replicas.length === 1 || !replicas.includes(this.self)) {
      return this.ask(replicas, 'peer.get', params, options) as Promise<QuorumOutcome<KVRecord | null>>;
    }
    const own = this.replica.ownAnswer('peer.get', params) as OwnAnswer<KVRecord | null>;
    const quorum = this.quorumOptions(options, own);
    const mine = 'ok' in own && own.ok ? own.value : null;
    if (mine === null || mine.deleted === true || mine.value.length < DIGEST_READ_BYTES) {
      return this.executor.quorum(
        replicas,
        (target) => this.call(target, 'peer.get', params) as Promise<KVRecord | null>,
        quorum,
      );
    }
    const digest = { key, known: mine.version };
    return this.executor.quorum(
      replicas,
      (target) =>
        this.call(target, 'peer.get', digest).then((answer) => (isSameRecord(answer) ? mine : answer)),
      quorum,
    );
  }

  /** Asks each member its own params for one replica call; resolves once every call has settled or timed out. */
  readonly askEach: AskEach = (requests, method) => {
    const members = [...requests.keys()];
    const own = requests.get(this.self);
    return this.executor.quorum(
      members,
      (target) => this.call(target, method, requests.get(target) as PeerParams<typeof method>),
      {
        required: members.length,
        timeoutMs: this.timeoutMs,
        waitForAll: true,
        own: own === undefined ? undefined : this.replica.ownAnswer(method, own),
      },
    );
  };

  /**
   * One replica call, made by the executor to a replica other than this node's (whose answer `ask` begins itself)
   * and by read repair to any: this node's own replica directly, a peer over the transport unless it is known to be
   * down.
   */
  call<M extends DataMethod>(
    target: MemberAddress,
    method: M,
    params: PeerParams<M>,
  ): Promise<PeerResult<M>> {
    if (target === this.self) return this.replica.handlePeer(method, params);
    if (this.membership.get(target)?.status === 'dead') {
      return Promise.reject(new UnavailableError(`${target} is down (the failure detector marked it dead)`));
    }
    return this.transport.call(target, method, params, { timeoutMs: this.timeoutMs });
  }
}
