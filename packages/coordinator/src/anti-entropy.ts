import {
  type AntiEntropyStats,
  compareVersions,
  type DigestParams,
  type DigestReply,
  type HashRing,
  type KeyVersion,
  type KVRecord,
  type MemberAddress,
  reasonOf,
  UnavailableError,
  type Version,
} from '@kvdb/core';
import { sleep } from './clock.js';
import { DEFAULT_SETTLE_MS, SCAN_PAUSE_FACTOR } from './defaults.js';
import type { DigestIndex } from './digest-index.js';
import { ReplicaTask, type ReplicaTaskComponents, type ReplicaTaskInit } from './replica-task.js';

/**
 * `intervalMs`: the least pause between rounds; `batchSize`: records per get_many/put_many call; `settleMs`: how
 * long a difference must last to be repaired.
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
 * one scan of this node's keys serves every peer compared with, each peer sends the key versions of only its
 * differing segments, and this node pulls what the peer has newer and pushes what it has newer. Tombstones
 * travel like values, so pops win everywhere.
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

    const started = this.clock.now();
    const mine = await this.replica.keyVersions(new Set([...differing.values()].flat()), signal);
    this.stats.scanMs += this.clock.now() - started;
    const pulled = new Map<string, Version>();
    let repaired = 0;
    for (const [peer, segments] of differing) {
      if (!current()) break;
      await this.attempt(peer, async () => {
        const remote = await this.transport.call(
          peer,
          'peer.range',
          { ring: digests.id, segments },
          { timeoutMs: this.timeoutMs },
        );
        if (!current()) return; // this node's ring changed during the call: its segments no longer compare
        await this.reconcile(peer, this.held(ring, segments, mine, pulled), remote, pulled);
        this.stats.segmentsRepaired += segments.length;
        repaired += segments.length;
      });
    }
    return repaired;
  }

  /**
   * The version this node holds of each key in `segments`: as scanned, or as pulled from an earlier peer in the
   * same round, so that a record just pulled from one peer is passed on to the next.
   */
  private held(
    ring: HashRing,
    segments: readonly number[],
    mine: ReadonlyMap<number, KeyVersion[]>,
    pulled: ReadonlyMap<string, Version>,
  ): Map<string, Version> {
    const held = new Map<string, Version>();
    for (const segment of segments) {
      for (const [key, version] of mine.get(segment) ?? []) held.set(key, version);
    }
    const wanted = new Set(segments);
    for (const [key, version] of pulled) if (wanted.has(ring.segmentOf(key))) held.set(key, version);
    return held;
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
   * This node's keys in `segments`. Refused when this node is on another ring than the asker (its ring changed
   * since the asker compared digests): an empty answer would read as "none held here" and have the asker push
   * every record of those segments.
   */
  async handleRange(params: { ring: string; segments: number[] }): Promise<KeyVersion[]> {
    const onAskersRing = () => {
      if (params.ring !== this.replica.digests.id) {
        throw new UnavailableError(`${this.membership.self} is on another ring now; compare digests again`);
      }
    };
    onAskersRing();
    const found = await this.replica.keyVersions(new Set(params.segments));
    onAskersRing(); // the ring may have changed while the keys were read, a page at a time
    return [...found.values()].flat();
  }

  /** Pulls what `peer` holds newer than `ours` (noting it in `pulled`) and pushes what this node holds newer. */
  private async reconcile(
    peer: MemberAddress,
    ours: Map<string, Version>,
    theirs: KeyVersion[],
    pulled: Map<string, Version>,
  ): Promise<void> {
    const pull: string[] = [];
    const push: string[] = [];
    for (const [key, version] of theirs) {
      const own = ours.get(key);
      if (own === undefined || compareVersions(version, own) > 0) pull.push(key);
      else if (compareVersions(own, version) > 0) push.push(key);
      ours.delete(key);
    }
    push.push(...ours.keys());

    for (let i = 0; i < pull.length; i += this.batchSize) {
      const keys = pull.slice(i, i + this.batchSize);
      const records = await this.transport.call(
        peer,
        'peer.get_many',
        { keys },
        { timeoutMs: this.timeoutMs },
      );
      const entries: Array<[string, KVRecord]> = [];
      keys.forEach((key, index) => {
        const record = records[index];
        if (record) entries.push([key, record]);
      });
      await this.replica.answer('peer.put_many', { entries });
      for (const [key, record] of entries) pulled.set(key, record.version);
      this.stats.keysPulled += entries.length;
    }
    for (let i = 0; i < push.length; i += this.batchSize) {
      const entries: Array<[string, KVRecord]> = [];
      for (const key of push.slice(i, i + this.batchSize)) {
        const record = await this.replica.get(key);
        if (record !== undefined) entries.push([key, record]);
      }
      await this.transport.call(peer, 'peer.put_many', { entries }, { timeoutMs: this.timeoutMs });
      this.stats.keysPushed += entries.length;
    }
    if (pull.length + push.length > 0) {
      this.log.debug(`anti-entropy with ${peer}: pulled ${pull.length}, pushed ${push.length}`);
    }
  }
}
