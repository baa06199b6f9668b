import {
  type FillLog,
  type FillProgress,
  type HandoffStats,
  isRecord,
  type KVRecord,
  type MemberAddress,
  reasonOf,
  type StreamParams,
  type StreamReply,
  UnavailableError,
} from '@kvdb/core';
import { sleep } from './clock.js';
import { SCAN_PAGE, STREAM_SCAN_LIMIT } from './defaults.js';
import type { PendingSegment, Placement } from './placement.js';
import { ReplicaTask, type ReplicaTaskComponents, type ReplicaTaskInit } from './replica-task.js';
import { entryBytes } from './transfer.js';

export interface RangeFillInit extends ReplicaTaskInit {
  /** Tells the cluster this node holds its pending ranges (see `FailureDetector.restate`). */
  restate: (change: { phase?: 'normal'; filled: string }) => Promise<unknown>;
  /**
   * Tells every alive member what this node knows of the members (see `FailureDetector.syncAll`); resolves whether
   * all of them answered.
   */
  announce: () => Promise<boolean>;
  /**
   * How long a write planned before its coordinator heard of a move may still be under way: the request timeout.
   * @default the task's timeout
   */
  settleMs?: number;
}

/** How far this node has got with the segments of one ring of every member that has not left. */
interface Progress {
  /** The move it is for (`Placement.fillId`). */
  fill: string;
  /** The members each segment has been streamed from in full. */
  from: Map<number, Set<MemberAddress>>;
  /**
   * Where a stream cut short (the source restarted, a call timed out) got to, by source: the next stream from it
   * picks up after that key for the same segments or fewer, rather than starting over.
   */
  cut: Map<MemberAddress, { segments: ReadonlySet<number>; after: string }>;
}

/**
 * Fetches the data of the ranges this node is about to own (as a joining member, or as a new owner of a leaving
 * member's ranges), and says so once it holds them: a joining node then turns `normal` and serves reads; a new
 * owner marks itself `filled`, which a leaving member waits for on every new owner before it leaves.
 *
 * A segment counts as held once it has been streamed in full from a quorum of the members that serve it now: every
 * write acknowledged before is on at least one of them, and every write since reached this node as a pending owner
 * or, failing that, every one of the segment's replicas (see `Coordinator.write`). Progress is kept per segment of
 * the ring of every member that has not left, so a member finishing its own move does not restart this one; a
 * member arriving or going does. Each streamed page is bounded in bytes and in keys scanned (see `handleStream`).
 */
export class RangeFill extends ReplicaTask {
  private readonly restate: RangeFillInit['restate'];
  private readonly announce: RangeFillInit['announce'];
  private readonly settleMs: number;
  private readonly fillLog: FillLog | undefined;
  /** The move whose every alive member has heard of it, and since when. */
  private announced: { fillId: string; at: number } | undefined;
  private progress: Progress = { fill: '', from: new Map(), cut: new Map() };
  private segments = { pending: 0, done: 0 };
  private keysFetched = 0;
  private bytesFetched = 0;
  private fetch: { startedAt: number; bytes: number } | undefined;
  private active: Promise<boolean> | undefined;
  /** The move whose fetch was logged as started, and the counts then: its end is logged with what it fetched. */
  private logged: { fillId: string; keys: number; bytes: number } | undefined;

  /** `fillLog` keeps the progress across restarts (a durable node's store provides one). */
  constructor(components: ReplicaTaskComponents & { fillLog?: FillLog }, init: RangeFillInit) {
    super(components, init, 'range fetch');
    this.restate = init.restate;
    this.announce = init.announce;
    this.settleMs = init.settleMs ?? this.timeoutMs;
    this.fillLog = components.fillLog;
    const stored = this.fillLog?.loadFill();
    if (stored !== undefined) this.progress = fromStored(stored);
  }

  protected tick(): Promise<boolean> {
    return this.fill();
  }

  /** The moves under way, and how far this node has got with its part. */
  get stats(): HandoffStats {
    const joining: MemberAddress[] = [];
    const leaving: MemberAddress[] = [];
    for (const { address, status, phase } of this.membership.states()) {
      if (status === 'left') continue;
      if (phase === 'joining') joining.push(address);
      else if (phase === 'leaving') leaving.push(address);
    }
    const elapsed = this.fetch === undefined ? 0 : this.clock.now() - this.fetch.startedAt;
    return {
      joining: joining.sort(),
      leaving: leaving.sort(),
      segments: { ...this.segments },
      keysFetched: this.keysFetched,
      bytesFetched: this.bytesFetched,
      bytesPerSecond:
        this.fetch === undefined || elapsed <= 0 ? 0 : Math.round((this.fetch.bytes * 1000) / elapsed),
    };
  }

  /** Fetches what is left of this node's pending segments; resolves whether it now holds them all. */
  fill(): Promise<boolean> {
    this.active ??= this.runs.track(
      this.fillNow().finally(() => {
        this.active = undefined;
      }),
    );
    return this.active;
  }

  private async fillNow(): Promise<boolean> {
    const placement = this.membership.placement;
    const own = this.membership.own;
    if (!placement.moving) {
      this.segments = { pending: 0, done: 0 };
      return true;
    }
    if (this.progress.fill !== placement.fillId) {
      this.progress = { fill: placement.fillId, from: new Map(), cut: new Map() };
    }
    const pending = placement.pendingSegments(own.address, this.replicas());
    // A replica that stays while the factor is lowered fetches its segments too, and counts as one of the quorum.
    for (const { segment, replicas } of pending)
      if (replicas.includes(own.address)) this.sourcesOf(segment).add(own.address);
    const unheld = () => pending.filter((segment) => !this.holds(segment));
    this.segments = { pending: pending.length, done: pending.length - unheld().length };
    const signal = this.signal;
    if (unheld().length > 0 && !(await this.everyoneKnows(placement.fillId, signal))) return false;
    if (unheld().length > 0 && this.logged?.fillId !== placement.fillId) {
      this.logged = { fillId: placement.fillId, keys: this.keysFetched, bytes: this.bytesFetched };
      const segments = unheld().length;
      this.log.info(`fetching the data of ${segments} segment(s) it is about to own`, { segments });
    }
    const tried = new Set<MemberAddress>();
    for (let left = unheld(); left.length > 0; left = unheld()) {
      const source = this.nextSource(left, tried);
      if (source === undefined || signal.aborted || this.membership.placement.fillId !== placement.fillId) {
        return false;
      }
      tried.add(source);
      const segments = left.filter(({ segment, replicas }) => this.wants(segment, replicas, source));
      try {
        await this.streamFrom(
          source,
          placement,
          segments.map(({ segment }) => segment),
        );
      } catch (error) {
        this.log.debug(`fetching ranges from ${source} failed: ${reasonOf(error)}`);
        continue;
      }
      for (const { segment } of segments) this.sourcesOf(segment).add(source);
      await this.save();
      this.segments.done = pending.length - unheld().length;
    }
    this.fetch = undefined;
    const current = this.membership.own;
    if (this.membership.placement.fillId !== placement.fillId || current.filled === placement.fillId)
      return true;
    const becomeNormal = current.phase === 'joining';
    const since = this.logged?.fillId === placement.fillId ? this.logged : { keys: 0, bytes: 0 };
    const [keys, bytes] = [this.keysFetched - since.keys, this.bytesFetched - since.bytes];
    // A member that gains no segment in this move has nothing to say about it.
    if (becomeNormal || pending.length > 0) {
      this.log.info(
        becomeNormal
          ? `holds the data of its ${pending.length} segment(s): serving them now`
          : `holds the data of its ${pending.length} new segment(s)`,
        { segments: pending.length, keys, bytes },
      );
    }
    await this.restate(
      becomeNormal ? { phase: 'normal', filled: placement.fillId } : { filled: placement.fillId },
    );
    return true;
  }

  /** Stores the progress, so that a restart takes the fetch up where it is; a failure to store is only logged. */
  private async save(): Promise<void> {
    if (this.fillLog === undefined) return;
    try {
      await this.fillLog.saveFill(toStored(this.progress));
    } catch (error) {
      this.log.warn(`could not store the range fetch's progress: ${reasonOf(error)}`);
    }
  }

  /**
   * Whether every alive member has heard of the move, and the writes planned before they did have had their time:
   * only then are the writes this node does not receive as a pending owner sure to reach every replica it fetches
   * from (see `Coordinator.write`). A coordinator that had not heard of the move would have written to the key's
   * old replicas alone, at their quorum, and this node could miss such a write in the replica it streamed first.
   * Resolves false (try again at the next run) when some alive member did not answer.
   */
  private async everyoneKnows(fillId: string, signal: AbortSignal): Promise<boolean> {
    if (this.announced?.fillId !== fillId) {
      if (!(await this.announce())) return false;
      this.announced = { fillId, at: this.clock.now() };
    }
    const wait = this.announced.at + this.settleMs - this.clock.now();
    if (wait > 0) await sleep(this.clock, wait, signal);
    return !signal.aborted && this.membership.placement.fillId === fillId;
  }

  /** Whether a quorum of the members serving the segment have streamed it in full (none are needed if none do). */
  private holds({ segment, replicas }: PendingSegment): boolean {
    const from = this.progress.from.get(segment);
    const needed = replicas.length === 0 ? 0 : Math.floor(replicas.length / 2) + 1;
    let count = 0;
    for (const replica of replicas) if (from?.has(replica)) count++;
    return count >= needed;
  }

  private wants(segment: number, replicas: readonly MemberAddress[], source: MemberAddress): boolean {
    return replicas.includes(source) && !this.progress.from.get(segment)?.has(source);
  }

  private sourcesOf(segment: number): Set<MemberAddress> {
    let from = this.progress.from.get(segment);
    if (from === undefined) {
      from = new Set();
      this.progress.from.set(segment, from);
    }
    return from;
  }

  /** The alive member not yet tried this run that serves the most segments still to fetch. */
  private nextSource(
    left: readonly PendingSegment[],
    tried: ReadonlySet<MemberAddress>,
  ): MemberAddress | undefined {
    const counts = new Map<MemberAddress, number>();
    for (const { segment, replicas } of left) {
      for (const replica of replicas) {
        if (
          tried.has(replica) ||
          !this.membership.isAlive(replica) ||
          !this.wants(segment, replicas, replica)
        )
          continue;
        counts.set(replica, (counts.get(replica) ?? 0) + 1);
      }
    }
    let best: MemberAddress | undefined;
    for (const [replica, count] of counts)
      if (best === undefined || count > (counts.get(best) ?? 0)) best = replica;
    return best;
  }

  /**
   * Streams every record `source` holds in `segments`, page by page, into this node's replica; from where an
   * earlier stream from it was cut short, when that one covered these segments.
   */
  private async streamFrom(source: MemberAddress, placement: Placement, segments: number[]): Promise<void> {
    const signal = this.signal;
    this.fetch ??= { startedAt: this.clock.now(), bytes: 0 };
    const cut = this.progress.cut.get(source);
    let after =
      cut !== undefined && segments.every((segment) => cut.segments.has(segment)) ? cut.after : undefined;
    const wanted = new Set(segments);
    do {
      signal.throwIfAborted();
      if (this.membership.placement.all.id !== placement.all.id) throw new Error('the ring changed');
      const params: StreamParams = { ring: placement.all.id, segments, maxBytes: this.batchBytes };
      if (after !== undefined) params.after = after;
      const page = await this.transport.call(source, 'peer.stream', params, { timeoutMs: this.timeoutMs });
      // A peer is not trusted blindly: a malformed page stores nothing, and the source is tried again later.
      if (!isStreamReply(page)) throw new Error(`${source} answered peer.stream with a malformed page`);
      if (page.entries.length > 0) await this.replica.answer('peer.put_many', { entries: page.entries });
      this.keysFetched += page.entries.length;
      this.bytesFetched += page.bytes;
      this.fetch.bytes += page.bytes;
      after = page.next ?? undefined;
      if (after === undefined) this.progress.cut.delete(source);
      else {
        this.progress.cut.set(source, { segments: wanted, after });
        await this.save();
      }
    } while (after !== undefined);
  }

  /**
   * A page of this node's records in the asked segments, from after `after`: at most about `maxBytes` of records,
   * and at most `STREAM_SCAN_LIMIT` keys read, so that one page holds the event loop for a few milliseconds however
   * large the store or sparse the segments. The page goes once the node's throttle lets it: a stream is the bulk
   * of what a move sends, and it is the sender's to pace (Cassandra's `stream_throughput_outbound`).
   */
  async handleStream(params: StreamParams): Promise<StreamReply> {
    const all = this.membership.placement.all;
    if (params.ring !== all.id) {
      throw new UnavailableError(
        `${this.membership.self} is on another ring now; ask again when the two agree`,
      );
    }
    const wanted = new Set(params.segments);
    const maxBytes = Math.max(1, Math.min(params.maxBytes ?? this.batchBytes, this.batchBytes));
    const page = await this.streamPage(wanted, params.after, maxBytes);
    await this.throttle.take(page.bytes);
    return page;
  }

  private async streamPage(
    wanted: ReadonlySet<number>,
    from: string | undefined,
    maxBytes: number,
  ): Promise<StreamReply> {
    const all = this.membership.placement.all;
    const entries: Array<[string, KVRecord]> = [];
    let bytes = 0;
    let after = from;
    for (let scanned = 0; scanned < STREAM_SCAN_LIMIT; ) {
      const page = this.replica.scanKeys({ after, limit: SCAN_PAGE });
      for (const [key] of page) {
        scanned++;
        if (wanted.has(all.segmentOf(key))) {
          const record = await this.replica.get(key);
          const size = record === undefined ? 0 : entryBytes(key, record);
          // The page is full: this key starts the next one (a record larger than a page goes alone).
          if (entries.length > 0 && bytes + size > maxBytes) return { entries, next: after ?? null, bytes };
          if (record !== undefined) entries.push([key, record]);
          bytes += size;
        }
        after = key;
      }
      if (page.length < SCAN_PAGE) return { entries, next: null, bytes };
    }
    return { entries, next: after ?? null, bytes };
  }
}

function isStreamReply(reply: unknown): reply is StreamReply {
  if (typeof reply !== 'object' || reply === null) return false;
  const { entries, next, bytes } = reply as Record<string, unknown>;
  return (
    Number.isSafeInteger(bytes) &&
    (bytes as number) >= 0 &&
    (next === null || (typeof next === 'string' && next.length > 0)) &&
    Array.isArray(entries) &&
    entries.every(
      (entry) =>
        Array.isArray(entry) && entry.length === 2 && typeof entry[0] === 'string' && isRecord(entry[1]),
    )
  );
}

function toStored({ fill, from, cut }: Progress): FillProgress {
  return {
    fill,
    from: [...from].map(([segment, sources]) => [segment, [...sources]]),
    cut: [...cut].map(([source, { segments, after }]) => [source, [...segments], after]),
  };
}

function fromStored({ fill, from, cut }: FillProgress): Progress {
  return {
    fill,
    from: new Map(from.map(([segment, sources]) => [segment, new Set(sources)])),
    cut: new Map(cut.map(([source, segments, after]) => [source, { segments: new Set(segments), after }])),
  };
}
