import { type JsonValue, KVClient } from '@kvdb/client';
import { defined } from '@kvdb/core/testing';
import type { FaultCluster } from './fault-cluster.js';
import type { History, OpKind } from './history.js';
import type { Random } from './random.js';

export interface WorkloadInit {
  /** Concurrent client loops. */
  clients: number;
  /** Keys every client writes: `s:0` … `s:(n-1)`. */
  sharedKeys: number;
  /** Client-side timeout of a call: past it the outcome is unknown. Leave room for the server's 2 s quorum timeout. */
  timeoutMs: number;
}

/** What each iteration does, by weight: unique keys (`u:<client>:<n>`, each set once) and shared keys. */
const MIX = {
  setUnique: 30,
  getUnique: 10,
  popUnique: 7,
  setShared: 20,
  getShared: 18,
  popShared: 15,
} as const;

/**
 * Client loops that run quorum set/pop/get through random running nodes until told to stop, recording every
 * operation in the history. Every set writes a value unique to the run (`<client>.<n>`), so a read names the write
 * it saw. Each client draws from its own seeded stream.
 */
export class Workload {
  private readonly clients = new Map<string, KVClient>();

  constructor(
    private readonly cluster: FaultCluster,
    private readonly history: History,
    private readonly random: Random,
    private readonly init: WorkloadInit,
  ) {}

  async run(stopped: () => boolean): Promise<void> {
    await Promise.all(Array.from({ length: this.init.clients }, (_, id) => this.client(id, stopped)));
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((client) => client.close()));
    this.clients.clear();
  }

  private async client(id: number, stopped: () => boolean): Promise<void> {
    const random = this.random.fork(id + 1);
    const unique: string[] = [];
    let sequence = 0;
    while (!stopped()) {
      const nodeRoll = random.next();
      const keyRoll = random.next();
      let action: keyof typeof MIX = random.weighted(MIX);
      const running = this.cluster.running();
      const node = running[Math.floor(nodeRoll * running.length)];
      if (node === undefined) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      if (unique.length === 0 && (action === 'getUnique' || action === 'popUnique')) action = 'setUnique';
      let key: string;
      if (action === 'setUnique') {
        key = `u:${id}:${unique.length}`;
        unique.push(key);
      } else if (action === 'getUnique' || action === 'popUnique') {
        key = defined(unique[Math.floor(keyRoll * unique.length)], 'a unique key written before');
      } else {
        key = `s:${Math.floor(keyRoll * this.init.sharedKeys)}`;
      }
      const op: OpKind = action.startsWith('set') ? 'set' : action.startsWith('pop') ? 'pop' : 'get';
      const kv = this.kv(id, node.port);
      if (op === 'set') {
        const value = `${id}.${sequence++}`;
        const operation = this.history.invoke({
          process: id,
          op,
          key,
          value,
          consistency: 'quorum',
          node: node.name,
        });
        await this.history.run(operation, () => kv.set(key, value, { consistency: 'quorum' }));
      } else {
        const operation = this.history.invoke({
          process: id,
          op,
          key,
          consistency: 'quorum',
          node: node.name,
        });
        const call = op === 'get' ? () => kv.get(key, null, { consistency: 'quorum' }) : () => kv.pop(key);
        await this.history.run(operation, call, asResult);
      }
    }
  }

  /** One keep-alive client per client loop and node, so a hung call never blocks another loop. */
  private kv(id: number, port: number): KVClient {
    const name = `${id}@${port}`;
    let client = this.clients.get(name);
    if (client === undefined) {
      client = new KVClient({ host: '127.0.0.1', port, timeoutMs: this.init.timeoutMs, maxSockets: 4 });
      this.clients.set(name, client);
    }
    return client;
  }
}

function asResult(value: JsonValue): string | null {
  if (value === null || typeof value === 'string') return value;
  return JSON.stringify(value);
}
