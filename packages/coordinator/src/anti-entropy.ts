import {
  compareVersions,
  type DigestParams,
  type DigestReply,
  type KeyVersion,
  type KVRecord,
  type MemberAddress,
  reasonOf,
} from '@kvdb/core';
import type { PeerHandler } from './peer-transport.js';
import { ReplicaTask, type ReplicaTaskComponents, type ReplicaTaskInit } from './replica-task.js';

export interface AntiEntropyComponents extends ReplicaTaskComponents {
  /** Applies repaired records locally (the coordinator, so its clock observes their versions). */
  local: PeerHandler;
}

/** `intervalMs`: how often a round runs; `batchSize`: records per get_many/put_many call. */
export type AntiEntropyInit = ReplicaTaskInit;

export interface AntiEntropyStats {
  rounds: number;
  /** Peer comparisons that found every shared segment equal at the first (root) exchange. */
  inSync: number;
  segmentsRepaired: number;
  keysPulled: number;
  keysPushed: number;
}

/**
 * Background repair between replicas, without client reads. Each round this node compares, with each alive
 * peer, the digests of the ring segments both replicate: first one combined digest (constant traffic when they
 * agree), then per-segment digests, then the key versions of only the segments that differ; it pulls what the
 * peer has newer and pushes what it has newer. Tombstones travel like values, so pops win everywhere.
 */
export class AntiEntropy extends ReplicaTask {
  readonly stats: AntiEntropyStats = {
    rounds: 0,
    inSync: 0,
    segmentsRepaired: 0,
    keysPulled: 0,
    keysPushed: 0,
  };
  private readonly local: PeerHandler;

  constructor(components: AntiEntropyComponents, init: AntiEntropyInit) {
    super(components, init, 'anti-entropy round');
    this.local = components.local;
  }

  protected tick(): Promise<void> {
    return this.round();
  }

  /** Compares with every alive peer in turn; one peer's failure does not stop the round. */
  async round(): Promise<void> {
    this.stats.rounds += 1;
    for (const peer of this.membership.others('alive')) {
      try {
        await this.syncWith(peer);
      } catch (error) {
        this.log.debug(`anti-entropy with ${peer} failed: ${reasonOf(error)}`);
      }
    }
  }

  /** One comparison with one peer; resolves with how many segments differed. */
  async syncWith(peer: MemberAddress): Promise<number> {
    const digests = this.replica.digests;
    const ring = digests.ring;
    const shared = digests.sharedSegments(this.membership.self, peer, this.replicas());
    if (shared.length === 0) return 0;
    const ask = (detail: boolean) =>
      this.transport.call(
        peer,
        'peer.digest',
        { from: this.membership.self, ring: ring.id, detail },
        { timeoutMs: this.timeoutMs },
      );

    const summary = await ask(false);
    if (summary.ring !== ring.id) return 0;
    const [high, low] = digests.combine(shared);
    if (summary.root[0] === high && summary.root[1] === low) {
      this.stats.inSync += 1;
      return 0;
    }

    const detail = await ask(true);
    if (detail.ring !== ring.id || detail.segments === undefined) return 0;
    const theirs = new Map(detail.segments.map(([segment, h, l]) => [segment, `${h}.${l}`]));
    const differing = shared.filter((segment) => {
      const [h, l] = digests.segment(segment);
      return theirs.get(segment) !== `${h}.${l}`;
    });
    if (differing.length === 0) return 0;

    const remote = await this.transport.call(
      peer,
      'peer.range',
      { ring: ring.id, segments: differing },
      { timeoutMs: this.timeoutMs },
    );
    await this.reconcile(peer, await this.replica.keyVersions(new Set(differing)), remote);
    this.stats.segmentsRepaired += differing.length;
    return differing.length;
  }

  handleDigest(params: DigestParams): DigestReply {
    const digests = this.replica.digests;
    const ring = digests.ring;
    if (params.ring !== ring.id) return { ring: ring.id, root: [0, 0] };
    const shared = digests.sharedSegments(this.membership.self, params.from, this.replicas());
    const reply: DigestReply = { ring: ring.id, root: digests.combine(shared) };
    if (params.detail) {
      reply.segments = shared.map((segment) => {
        const [high, low] = digests.segment(segment);
        return [segment, high, low];
      });
    }
    return reply;
  }

  async handleRange(params: { ring: string; segments: number[] }): Promise<KeyVersion[]> {
    if (params.ring !== this.replica.digests.ring.id) return [];
    return this.replica.keyVersions(new Set(params.segments));
  }

  private async reconcile(peer: MemberAddress, mine: KeyVersion[], theirs: KeyVersion[]): Promise<void> {
    const ours = new Map(mine.map(([key, version]) => [key, version]));
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
      await this.local.handlePeer('peer.put_many', { entries });
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
