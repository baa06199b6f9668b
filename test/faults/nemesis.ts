import type { FaultCluster } from './fault-cluster.js';
import type { Heal } from './fault-proxy.js';
import type { FaultEvent, History } from './history.js';
import type { Random } from './random.js';

export interface NemesisInit {
  /** Quiet time before the first fault, ms. */
  warmupMs: number;
  /** Time between starting one fault and the next, ms: [min, max]. */
  gapMs: [number, number];
  /** How long a fault lasts before it is healed (restart, SIGCONT, links restored), ms: [min, max]. */
  holdMs: [number, number];
  /** Odds that the next fault starts while this one still holds (at most two at a time). @default 0.3 */
  overlap?: number;
}

/** Relative odds of each fault. */
const FAULTS = {
  kill: 30,
  pause: 20,
  'partition-isolate': 18,
  'partition-split': 20,
  'partition-one-way': 12,
} as const;

const MAX_ACTIVE = 2;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Injects faults drawn from a seeded stream, each healed after a while: kill -9 then restart (an in-memory node
 * comes back empty, a durable one with its data dir), SIGSTOP then SIGCONT, and partitions (one node cut off, a
 * 2|3 split, or one node's links cut one way only). Sometimes a second fault starts while the first still holds.
 * Every fault goes into the history with the time it started and the time it was healed.
 *
 * Pauses, partitions and kills of durable nodes lose no state, so any mix of them must keep every acknowledged
 * write. A kill -9 of an in-memory node does lose its replicas, so the nemesis never takes more than the cluster
 * can survive: no in-memory node is killed until every one killed before is back and has caught up with each peer
 * (equal anti-entropy digests over the segments they share); a kill drawn before then takes a durable node.
 */
export class Nemesis {
  /** For each in-memory node restarted empty, ms from its restart until it had caught up with every peer. */
  readonly catchUpMs: number[] = [];
  /** Kills drawn for an in-memory node while another was still catching up, taken by a durable node instead. */
  redirectedKills = 0;
  /** In-memory nodes killed, and whether each has caught up since its restart. */
  private readonly caughtUp = new Map<number, boolean>();
  private readonly active = new Set<Promise<void>>();
  private failure: unknown;
  private stopped: () => boolean = () => false;

  constructor(
    private readonly cluster: FaultCluster,
    private readonly history: History,
    private readonly random: Random,
    private readonly init: NemesisInit,
  ) {}

  /** Injects faults until `stopped()`, then waits for the last ones to heal. Rejects if a node fails to restart. */
  async run(stopped: () => boolean): Promise<void> {
    this.stopped = stopped;
    await sleep(this.init.warmupMs);
    const size = this.cluster.nodes.length;
    const durable = this.cluster.nodes.filter((node) => node.dataDir !== undefined).map((node) => node.index);
    while (!stopped() && this.failure === undefined) {
      const gap = this.random.int(...this.init.gapMs);
      const hold = this.random.int(...this.init.holdMs);
      const kind = this.random.weighted(FAULTS);
      const target = this.random.int(0, size - 1);
      const fallback = this.random.pick(durable);
      const order = this.random.shuffle(this.cluster.nodes.map((node) => node.index));
      const outgoing = this.random.next() < 0.5;
      const overlap = this.random.next() < (this.init.overlap ?? 0.3);
      await sleep(gap);
      if (stopped()) break;
      const fault = this.inject(kind, { target, fallback, order, outgoing, hold });
      const tracked: Promise<void> = fault
        .catch((error: unknown) => {
          this.failure ??= error;
        })
        .finally(() => this.active.delete(tracked));
      this.active.add(tracked);
      if (!overlap) await Promise.all(this.active);
      else if (this.active.size >= MAX_ACTIVE) await Promise.race(this.active);
    }
    await Promise.all(this.active);
    if (this.failure !== undefined) throw this.failure;
  }

  /** Heals every link, resumes every paused node and starts every node that is down. */
  async healEverything(): Promise<void> {
    this.cluster.mesh.healAll();
    for (const node of this.cluster.nodes) this.cluster.resume(node.index);
    await Promise.all(
      this.cluster.nodes
        .filter((node) => node.state === 'down')
        .map((node) => this.cluster.startNode(node.index)),
    );
  }

  private inject(
    kind: keyof typeof FAULTS,
    draw: { target: number; fallback: number; order: number[]; outgoing: boolean; hold: number },
  ): Promise<void> {
    const { target, fallback, order, outgoing, hold } = draw;
    switch (kind) {
      case 'kill': {
        if (this.cluster.isDurable(target) || this.memoryKillSafe()) return this.kill(target, hold);
        this.redirectedKills += 1;
        return this.kill(fallback, hold);
      }
      case 'pause':
        return this.pause(target, hold);
      case 'partition-isolate':
        return this.partition(kind, [target], this.others([target]), hold);
      case 'partition-split':
        return this.partition(kind, order.slice(0, 2), order.slice(2), hold);
      case 'partition-one-way':
        return this.oneWay(target, outgoing, hold);
    }
  }

  private memoryKillSafe(): boolean {
    return [...this.caughtUp.values()].every(Boolean);
  }

  private async kill(index: number, hold: number): Promise<void> {
    const node = this.cluster.node(index);
    if (node.state === 'down' || node.state === 'starting') return;
    const durable = this.cluster.isDurable(index);
    if (!durable) this.caughtUp.set(index, false);
    const event = this.record(durable ? 'kill-durable' : 'kill-memory', node.name, !durable);
    await this.cluster.kill(index);
    await sleep(hold);
    await this.cluster.startNode(index);
    this.history.healed(event);
    if (!durable) void this.watchCatchUp(index);
  }

  private async pause(index: number, hold: number): Promise<void> {
    const node = this.cluster.node(index);
    if (node.state !== 'running') return;
    const event = this.record('pause', node.name);
    this.cluster.pause(index);
    await sleep(hold);
    this.cluster.resume(index);
    this.history.healed(event);
  }

  private async partition(kind: string, groupA: number[], groupB: number[], hold: number): Promise<void> {
    const event = this.record(kind, `${this.names(groupA)} | ${this.names(groupB)}`);
    await this.holdThenHeal(
      event,
      this.cluster.mesh.partition(this.addresses(groupA), this.addresses(groupB)),
      hold,
    );
  }

  /** Cuts one node's links to every other node one way: it cannot reach them (`outgoing`), or they cannot reach it. */
  private async oneWay(index: number, outgoing: boolean, hold: number): Promise<void> {
    const node = this.cluster.node(index);
    const others = this.others([index]);
    const event = this.record(
      'partition-one-way',
      outgoing ? `${node.name} -/-> ${this.names(others)}` : `${this.names(others)} -/-> ${node.name}`,
    );
    const heals = outgoing
      ? [this.cluster.mesh.cutOneWay(node.address, this.addresses(others))]
      : others.map((other) => this.cluster.mesh.cutOneWay(this.cluster.node(other).address, [node.address]));
    await this.holdThenHeal(
      event,
      () => {
        for (const heal of heals) heal();
      },
      hold,
    );
  }

  private async holdThenHeal(event: FaultEvent, heal: Heal, hold: number): Promise<void> {
    await sleep(hold);
    heal();
    this.history.healed(event);
  }

  /** Polls until the restarted node's digests equal each peer's over the segments they share. */
  private async watchCatchUp(index: number): Promise<void> {
    const started = Date.now();
    const pending = new Set(this.others([index]));
    while (pending.size > 0 && !this.stopped()) {
      for (const peer of [...pending]) {
        if (this.cluster.node(index).state !== 'running' || this.cluster.node(peer).state !== 'running')
          continue;
        if ((await this.cluster.digestsAgree(index, peer)) === true) pending.delete(peer);
      }
      if (pending.size > 0) await sleep(100);
    }
    if (pending.size === 0) {
      this.caughtUp.set(index, true);
      this.catchUpMs.push(Date.now() - started);
    }
  }

  private record(kind: string, detail: string, losesState = false): FaultEvent {
    return this.history.fault(kind, detail, losesState);
  }

  private others(indexes: readonly number[]): number[] {
    return this.cluster.nodes.map((node) => node.index).filter((index) => !indexes.includes(index));
  }

  private names(indexes: readonly number[]): string {
    return indexes.map((index) => this.cluster.node(index).name).join(' ');
  }

  private addresses(indexes: readonly number[]): string[] {
    return indexes.map((index) => this.cluster.node(index).address);
  }
}
