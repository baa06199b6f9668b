import type { KVError } from '@kvdb/core';
import type { ClusterMap } from './cluster-map.js';
import type { NodeTransport } from './node-transport.js';
import { backoffDelay, type RetryPolicy } from './retry-policy.js';

/** Probes start no faster than this, however small the retry policy's base delay. */
const MIN_PROBE_DELAY_MS = 50;

export interface NodeWatchComponents {
  map: ClusterMap;
  transport: NodeTransport;
  policy: Required<RetryPolicy>;
  random: () => number;
  timeoutMs: number;
  /** Tells the client's listeners: `nodeDown`, `nodeUp`, and `ready` for the first answer of any node. */
  emit(event: 'nodeDown', address: string, error: KVError): void;
  emit(event: 'nodeUp', address: string): void;
  emit(event: 'ready'): void;
}

/**
 * Which nodes answer. A node that fails to answer is marked down, so that calls skip it, and pinged in the
 * background with growing waits (up to the policy's `maxDelayMs`) until it answers again, or leaves the members.
 */
export class NodeWatch {
  private readonly probes = new Map<string, NodeJS.Timeout>();
  private heard = false;
  private closed = false;

  constructor(private readonly components: NodeWatchComponents) {}

  /** A node answered (a result or an error of its own). */
  answered(address: string): void {
    const { map, emit } = this.components;
    if (map.markUp(address)) {
      clearTimeout(this.probes.get(address));
      this.probes.delete(address);
      emit('nodeUp', address);
    }
    if (!this.heard) {
      this.heard = true;
      emit('ready');
    }
  }

  /** A node did not answer. With one node there is nothing to skip to: every call tries it. */
  failed(address: string, error: KVError): void {
    const { map, emit } = this.components;
    if (this.closed || map.nodes.length <= 1 || !map.markDown(address)) return;
    emit('nodeDown', address, error);
    this.probe(address, 1);
  }

  close(): void {
    this.closed = true;
    for (const timer of this.probes.values()) clearTimeout(timer);
    this.probes.clear();
  }

  private probe(address: string, round: number): void {
    const { map, transport, policy, random, timeoutMs } = this.components;
    const wait = backoffDelay(
      round,
      { ...policy, baseDelayMs: Math.max(policy.baseDelayMs, MIN_PROBE_DELAY_MS) },
      random,
    );
    const timer = setTimeout(async () => {
      if (this.closed || !map.isDown(address)) return;
      try {
        await transport.request({ address, method: 'ping', params: {}, timeoutMs });
        this.answered(address);
      } catch {
        if (!this.closed && map.isDown(address)) this.probe(address, round + 1);
      }
    }, wait);
    timer.unref();
    this.probes.set(address, timer);
  }
}
