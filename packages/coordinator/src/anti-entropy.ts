import {
  type AntiEntropyStats,
  compareKeys,
  compareVersions,
  type DigestParams,
  type DigestReply,
  isRecord,
  type KeyVersion,
  type MemberAddress,
  type PeerParams,
  reasonOf,
  UnavailableError,
} from '@kvdb/core';
import { sleep } from './clock.js';
import { DEFAULT_SETTLE_MS, RANGE_PAGE, SCAN_PAUSE_FACTOR } from './defaults.js';
import type { DigestIndex } from './digest-index.js';
import { ReplicaTask, type ReplicaTaskComponents, type ReplicaTaskInit } from './replica-task.js';
import { type Entry, entryBytes } from './transfer.js';

/**
 * `intervalMs`: the least pause between rounds; `batchSize` and `batchBytes`: records and their bytes per
 * get_many/put_many call; `settleMs`: how long a difference must last to be repaired.
 */
export interface AntiEntropyInit extends ReplicaTaskInit {
  /**
   * A segment that differs is looked at again after this long and repaired only if it still differs: a write still
   * on its way between two replicas makes their digests differ for a moment, a write one of them missed makes
   * them differ until repaired. @default DEFAULT_SETTLE_MS
   */
  settleMs?: number;
}

/**
 * Background repair between replicas, without client reads. Each round this node compares, with one alive
 * replica peer in turn, the digests of the ring segments both replicate: first one combined digest (constant
 * traffic when they agree), then per-segment digests. Segments that still differ a moment later are repaired:
 * the peer sends the key versions of its differing segments a page at a time, this node walks its own keys in
 * those segments beside them, and pulls what the peer has newer and pushes what it has newer. Tombstones travel
 * like values, so pops win everywhere.
 */
export class AntiEntropy extends ReplicaTask {
  readonly stats: AntiEntropyStats = {
    rounds: 0,
    inSync: 0,
    settled: 0,
    segmentsRepaired: 0,
    keysPulled: 0,
    keysPushed: 0,
    scanMs: 0,
  };
  private readonly settleMs: number;
  /** The peer the last round compared with: the next round takes the one after it. */
  private lastPeer: MemberAddress | undefined;

  constructor(components: ReplicaTaskComponents, init: AntiEntropyInit) {
    super(components, init, 'anti-entropy round');
    this.settleMs = init.settleMs ?? DEFAULT_SETTLE_MS;
  }

  protected tick(): Promise<void> {
    return this.round();
  }

  protected override pauseMs(): number {
    return Math.max(this.intervalMs, SCAN_PAUSE_FACTOR * this.stats.scanMs);
  }

  /**
   * Compares with one replica peer: the alive peers that share segments with this node take turns, in address
   * order, so a round costs the same calls whatever the size of the cluster (every pair still meets, each of the
   * two taking its turn).
   */
  async round(): Promise<void> {
    this.stats.rounds += 1;
    this.stats.scanMs = 0;
    const peer = this.nextPeer();
    if (peer !== undefined) await this.syncWith(peer);
  }

  /** The alive replica peer after the last one compared with, in address order, wrapping round. */
  private nextPeer(): MemberAddress | undefined {
    const peers = this.replica.digests
      .replicaPeers(this.membership.self, this.replicas())
      .filter((peer) => this.membership.isAlive(peer));
    const last = this.lastPeer;
    const next = (last === undefined ? undefined : peers.find((peer) => peer > last)) ?? peers[0];
    this.lastPeer = next;
    return next;
  }

  /**
   * One comparison with each of `peers`, run side by side; resolves with how many segments were repaired, each
   * peer's counted. A peer that fails is logged and left out.
   */
  async syncWith(...peers: MemberAddress[]): Promise<number> {
    const signal = this.signal;
    const digests = this.replica.digests;
    const ring = digests.ring;
    // Gives up when the node stops or restarts, or the ring changes: segment numbers are the ring's.
    const current = () => !signal.aborted && this.replica.digests.ring.id === ring.id;
    const differing = new Map<MemberAddress, number[]>();
    const look = (first: boolean) =>
      Promise.all(
        (first ? peers : [...differing.keys()]).map(async (peer) => {
          const seen = await this.attempt(peer, () => this.compare(peer, digests, first));
          const before = new Set(differing.get(peer));
          const still = first ? seen : seen?.filter((segment) => before.has(segment));
          if (still !== undefined && still.length > 0) {
            differing.set(peer, still);
            return;
          }
          const gone = differing.delete(peer);
          if (gone && seen !== undefined) this.stats.settled += 1;
        }),
      );

    await look(true);
    if (differing.size === 0) return 0;
    await sleep(this.clock, this.settleMs, signal);
    if (!current()) return 0;
    await look(false);
    if (differing.size === 0 || !current()) return 0;

    let repaired = 0;
    for (const [peer, segments] of differing) {
      if (!current()) break;
      await this.attempt(peer, async () => {
        if (!(await this.repair(peer, digests.id, segments, current))) return;
        this.stats.segmentsRepaired += segments.length;
        repaired += segments.length;
      });
    }
    return repaired;
  }

  /**
   * The shared segments whose digests differ between this node and `peer` now, or undefined when the two cannot
   * be compared (another ring, or no segment in common). The first look starts with the combined digest, which
   * is all that replicas in agreement exchange.
   */
  private async compare(
    peer: MemberAddress,
    digests: DigestIndex,
    first: boolean,
  ): Promise<number[] | undefined> {
    const shared = digests.sharedSegments(this.membership.self, peer, this.replicas());
    if (shared.length === 0) return undefined;
    const ask = (detail: boolean) =>
      this.transport.call(
        peer,
        'peer.digest',
        { from: this.membership.self, ring: digests.id, detail },
        { timeoutMs: this.timeoutMs },
      );

    if (first) {
      const summary = await ask(false);
      if (summary.ring !== digests.id) return undefined;
      const [high, low] = digests.combine(shared);
      if (summary.root[0] === high && summary.root[1] === low) {
        this.stats.inSync += 1;
        return [];
      }
    }
    const detail = await ask(true);
    if (detail.ring !== digests.id || detail.segments === undefined) return undefined;
    const theirs = new Map(detail.segments.map(([segment, h, l]) => [segment, `${h}.${l}`]));
    return shared.filter((segment) => {
      const [h, l] = digests.segment(segment);
      return theirs.get(segment) !== `${h}.${l}`;
    });
  }

  /** Runs one peer's part of a round; a failure is logged and gives undefined. */
  private async attempt<T>(peer: MemberAddress, part: () => Promise<T>): Promise<T | undefined> {
    try {
      return await part();
    } catch (error) {
      this.log.debug(`anti-entropy with ${peer} failed: ${reasonOf(error)}`);
      return undefined;
    }
  }

  handleDigest(params: DigestParams): DigestReply {
    const digests = this.replica.digests;
    if (params.ring !== digests.id) return { ring: digests.id, root: [0, 0] };
    const shared = digests.sharedSegments(this.membership.self, params.from, this.replicas());
    const reply: DigestReply = { ring: digests.id, root: digests.combine(shared) };
    if (params.detail) {
      reply.segments = shared.map((segment) => {
        const [high, low] = digests.segment(segment);
        return [segment, high, low];
      });
    }
    return reply;
  }

  /**
   * This node's keys in `segments`: with `limit` (or `after`), one page of at most `limit` of them in key order,
   * after `after`; without, all of them at once, as an asker that does not page expects. Refused when this node is
   * on another ring than the asker (its ring changed since the asker compared digests): an empty answer would
   * read as "none held here" and have the asker push every record of those segments.
   */
  async handleRange(params: PeerParams<'peer.range'>): Promise<KeyVersion[]> {
    const onAskersRing = () => {
      if (params.ring !== this.replica.digests.id) {
        throw new UnavailableError(`${this.membership.self} is on another ring now; compare digests again`);
      }
    };
    onAskersRing();
    const segments = new Set(params.segments);
    const { after, limit } = params;
    const found =
      after === undefined && limit === undefined
        ? [...(await this.replica.keyVersions(segments)).values()].flat()
        : await this.replica.keyVersionsPage(segments, { after, limit: limit ?? RANGE_PAGE });
    onAskersRing(); // the ring may have changed while the keys were read, a page at a time
    return found;
  }

  /**
   * Reconciles `segments` with `peer`: walks the peer's keys, a page at a time, beside this node's own keys in the
   * same segments, both in key order, and pulls what the peer holds newer or alone, pushes what this node holds
   * newer or alone. It holds a page of each side at a time, however many keys differ; a record just pulled is
   * behind both walks, so it is never compared again. Resolves false when this node's ring changed meanwhile (its
   * segments no longer compare), leaving the rest for another round.
   */
  private async repair(
    peer: MemberAddress,
    ring: string,
    segments: number[],
    current: () => boolean,
  ): Promise<boolean> {
    const mine = this.replica.heads(new Set(segments), { signal: this.signal });
    const counts = { pulled: 0, pushed: 0 };
    const next = async (): Promise<KeyVersion | undefined> => {
      const started = this.clock.now();
      const step = await mine.next();
      this.stats.scanMs += this.clock.now() - started;
      return step.done ? undefined : step.value;
    };
    try {
      let head = await next();
      let after: string | undefined;
      for (;;) {
        const theirs = await this.transport.call(
          peer,
          'peer.range',
          { ring, segments, after, limit: RANGE_PAGE },
          { timeoutMs: this.timeoutMs },
        );
        if (!current()) return false;
        const pull: string[] = [];
        const push: string[] = [];
        for (const [key, version] of theirs) {
          for (; head !== undefined && compareKeys(head[0], key) < 0; head = await next()) push.push(head[0]);
          if (head?.[0] !== key) {
            pull.push(key);
            continue;
          }
          if (compareVersions(version, head[1]) > 0) pull.push(key);
          else if (compareVersions(head[1], version) > 0) push.push(key);
          head = await next();
        }
        counts.pulled += await this.pull(peer, pull);
        counts.pushed += await this.push(peer, push);
        const last = theirs.at(-1);
        if (last === undefined || theirs.length < RANGE_PAGE) break;
        after = last[0];
      }
      // What is left the peer did not list: it lacks it (if the segments still compare).
      while (head !== undefined) {
        if (!current()) return false;
        const push: string[] = [];
        for (; head !== undefined && push.length < RANGE_PAGE; head = await next()) push.push(head[0]);
        counts.pushed += await this.push(peer, push);
      }
    } finally {
      await mine.return(undefined);
    }
    if (counts.pulled + counts.pushed > 0) {
      const { pulled, pushed } = counts;
      const fields = { peer, segments: segments.length, pulled, pushed };
      this.log.info(`anti-entropy with ${peer}: repaired ${pulled + pushed} key(s)`, fields);
    }
    return true;
  }

  /**
   * Pulls `keys` from `peer` into this replica; resolves with how many it stored.
   * The peer caps each reply at `batchBytes` (the asker cannot know the sizes of records it has not seen): a reply
   * shorter than the keys asked stops before the record that would have taken it past the cap, and the rest are
   * asked for again.
   */
  private async pull(peer: MemberAddress, keys: readonly string[]): Promise<number> {
    let stored = 0;
    for (let i = 0; i < keys.length; ) {
      const asked = keys.slice(i, i + this.batchSize);
      const records = await this.transport.call(
        peer,
        'peer.get_many',
        { keys: asked, maxBytes: this.batchBytes },
        { timeoutMs: this.timeoutMs },
      );
      if (records.length === 0) throw new Error(`${peer} answered none of ${asked.length} key(s) asked`);
      if (!records.every((record) => record === null || isRecord(record))) {
        throw new Error(`${peer} answered peer.get_many with a malformed record`);
      }
      const entries: Entry[] = [];
      let bytes = 0;
      for (const [index, record] of records.slice(0, asked.length).entries()) {
        const key = asked[index] as string;
        if (!record) continue;
        entries.push([key, record]);
        bytes += entryBytes(key, record);
      }
      i += Math.min(records.length, asked.length);
      await this.replica.answer('peer.put_many', { entries });
      this.stats.keysPulled += entries.length;
      stored += entries.length;
      await this.throttle.take(bytes, this.signal);
    }
    return stored;
  }

  /** Pushes the current records of `keys` to `peer`, in batches within the limits; resolves with how many. */
  private async push(peer: MemberAddress, keys: Iterable<string>): Promise<number> {
    let pushed = 0;
    for await (const batch of this.recordBatches(keys)) {
      await this.putMany(peer, batch);
      this.stats.keysPushed += batch.entries.length;
      pushed += batch.entries.length;
    }
    return pushed;
  }
}
