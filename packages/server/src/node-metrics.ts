import type { ClusterNode, Logger } from '@kvdb/coordinator';
import { ErrorCode, MEMBER_PHASES, MEMBER_STATUSES } from '@kvdb/core';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { RequestObserver } from './json-rpc.js';

/**
 * The process's own metrics (CPU, memory, GC, event-loop lag: prom-client's defaults), in one registry however
 * many nodes the process runs: they describe the process, and each set of collectors watches it for good.
 */
let processRegistry: Registry | undefined;

function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** Request latency buckets, in seconds: from a write to one in-memory node to a quorum that waited for a timeout. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** `ok`, or an error code's name (`quorum_not_reached`), as the `outcome` label and the request log say. */
const OUTCOMES = new Map<number, string>(
  Object.entries(ErrorCode).map(([name, code]) => [code, name.toLowerCase()]),
);

export function outcomeOf(code: number | undefined): string {
  return code === undefined ? 'ok' : (OUTCOMES.get(code) ?? 'error');
}

/**
 * What a node exposes to Prometheus at GET /metrics (`kvdb_*`, plus the process's defaults). Requests are counted
 * as they are answered; everything else is read from what the node keeps anyway (its stats), when scraped.
 */
export class NodeMetrics {
  /** This node's own metrics (without the process's). */
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'outcome'>;
  private readonly latency: Histogram<'method'>;
  private readonly quorumFailures: Counter<'method'>;
  private readonly peerRequests: Counter<'method' | 'outcome'>;

  constructor(node: ClusterNode) {
    // From the first node on, so that the process's event-loop lag and GC counts cover its whole life.
    processMetrics();
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'kvdb_requests_total',
      help: 'Client requests answered (each member of a batch counts), by method and outcome (ok or the error)',
      labelNames: ['method', 'outcome'],
      registers,
    });
    this.latency = new Histogram({
      name: 'kvdb_request_duration_seconds',
      help: 'Time from a client request read to its answer, by method',
      labelNames: ['method'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.quorumFailures = new Counter({
      name: 'kvdb_quorum_failures_total',
      help: 'Client requests that failed for want of a quorum of replicas (error quorum_not_reached), by method',
      labelNames: ['method'],
      registers,
    });
    this.peerRequests = new Counter({
      name: 'kvdb_peer_requests_total',
      help: 'Requests answered for other members on peer streams, by method and outcome',
      labelNames: ['method', 'outcome'],
      registers,
    });
    this.readings(node);
  }

  /**
   * What the client-facing dispatcher tells of each request: counted, timed and, with `debug`, logged (its method,
   * outcome and milliseconds; never its params, values or the token).
   */
  clientObserver(debug?: Logger): RequestObserver {
    return (method, code, startedAt) => {
      const seconds = (performance.now() - startedAt) / 1_000;
      const outcome = outcomeOf(code);
      this.requests.inc({ method, outcome });
      this.latency.observe({ method }, seconds);
      if (code === ErrorCode.QUORUM_NOT_REACHED) this.quorumFailures.inc({ method });
      if (debug === undefined) return;
      const ms = Math.round(seconds * 100_000) / 100;
      const fields = code === undefined ? { method, outcome, ms } : { method, outcome, code, ms };
      debug.debug(`request ${method}: ${outcome} in ${ms} ms`, fields);
    };
  }

  /** What the peer-stream dispatcher tells of each request: counted. */
  peerObserver(): RequestObserver {
    return (method, code) => this.peerRequests.inc({ method, outcome: outcomeOf(code) });
  }

  /** The scrape: this node's metrics and the process's, in Prometheus text format. */
  text(): Promise<string> {
    return Registry.merge([processMetrics(), this.registry]).metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The metrics read at each scrape from what the node counts already. */
  private readings(node: ClusterNode): void {
    const registers = [this.registry];
    const gauge = (name: string, help: string, read: () => number | Promise<number>) =>
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          this.set(await read());
        },
      });
    /** A counter the node keeps: set to its reading (a Counter has no `set`, so reset and add). */
    const counter = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    new Gauge({
      name: 'kvdb_members',
      help: 'Members this node knows, by status',
      labelNames: ['status'],
      registers,
      collect() {
        const states = node.membership.states();
        for (const status of MEMBER_STATUSES) {
          this.set({ status }, states.filter((state) => state.status === status).length);
        }
      },
    });
    new Gauge({
      name: 'kvdb_members_moving',
      help: 'Members joining (fetching their ranges) or leaving (handing them over)',
      labelNames: ['phase'],
      registers,
      collect() {
        const states = node.membership.states().filter(({ status }) => status !== 'left');
        for (const phase of MEMBER_PHASES.filter((phase) => phase !== 'normal')) {
          this.set({ phase }, states.filter((state) => state.phase === phase).length);
        }
      },
    });
    gauge(
      'kvdb_replicas',
      'Copies of each key (the replication factor, capped at the member count)',
      () => node.coordinator.replicas,
    );
    gauge(
      'kvdb_keys',
      'Live keys stored on this node, as one of their replicas',
      async () => (await node.replica.counts()).live,
    );
    gauge(
      'kvdb_tombstones',
      'Tombstones (deleted keys) stored on this node until collected',
      async () => (await node.replica.counts()).tombstones,
    );
    gauge('kvdb_hints_pending', 'Writes held for replicas that missed them (hinted handoff)', () =>
      node.hints.count(),
    );
    counter('kvdb_hints_replayed_total', 'Hinted writes sent to their replicas', () => node.hints.delivered);
    const antiEntropy = node.antiEntropy.stats;
    counter('kvdb_anti_entropy_rounds_total', 'Anti-entropy rounds run', () => antiEntropy.rounds);
    counter(
      'kvdb_anti_entropy_segments_repaired_total',
      'Ring segments anti-entropy found different and repaired',
      () => antiEntropy.segmentsRepaired,
    );
    new Counter({
      name: 'kvdb_anti_entropy_keys_repaired_total',
      help: 'Keys anti-entropy repaired: pulled from a peer that held them newer, or pushed to one that did not',
      labelNames: ['direction'],
      registers,
      collect() {
        this.reset();
        this.inc({ direction: 'pulled' }, antiEntropy.keysPulled);
        this.inc({ direction: 'pushed' }, antiEntropy.keysPushed);
      },
    });
    counter(
      'kvdb_handoff_keys_fetched_total',
      'Records fetched for ring ranges this node is about to own (a join, a leave, a replication change)',
      () => node.rangeFill.stats.keysFetched,
    );
    counter(
      'kvdb_handoff_bytes_fetched_total',
      'Bytes of records fetched for ring ranges this node is about to own',
      () => node.rangeFill.stats.bytesFetched,
    );
    gauge(
      'kvdb_handoff_segments_pending',
      'Ring segments this node is about to own and does not hold yet',
      () => {
        const { pending, done } = node.rangeFill.stats.segments;
        return pending - done;
      },
    );
    counter(
      'kvdb_rebalance_keys_handed_off_total',
      'Records this node handed to their new owners after the ring changed',
      () => node.rebalancer.handedOff,
    );
  }
}
