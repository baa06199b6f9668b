import {
  ConnectionError,
  cryptoHasher,
  HashRing,
  type KVError,
  OutcomeUnknownError,
  QuorumNotReachedError,
  type RingInfo,
  seededRandom,
  TimeoutError,
} from '@kvdb/core';
import { expect } from 'chai';
import sinon from 'sinon';
import { KVClient, type KVClientOptions } from '../src/kv-client.js';
import type { NodeReply, NodeRequest, NodeTransport } from '../src/node-transport.js';

type Handler = (call: NodeRequest) => unknown;

/** Answers each call with what `handler` returns or throws; a node in `refusing` refuses every connection. */
class FakeTransport implements NodeTransport {
  readonly calls: NodeRequest[] = [];
  readonly refusing = new Set<string>();
  /** Nodes that take the request and then drop the connection: the outcome is unknown. */
  readonly resetting = new Set<string>();
  handler: Handler = () => 'ok';

  async request(call: NodeRequest): Promise<NodeReply> {
    this.calls.push(call);
    const { address } = call;
    if (this.refusing.has(address)) {
      throw new ConnectionError(`cannot reach kvdb at ${address}: connection refused`, {
        data: { node: address, sent: false },
      });
    }
    if (this.resetting.has(address)) {
      throw new ConnectionError(`cannot reach kvdb at ${address}: connection reset`, {
        data: { node: address, sent: true },
      });
    }
    return { result: await this.handler(call) };
  }

  async close(): Promise<void> {}

  nodesCalled(method: string): string[] {
    return this.calls.filter((call) => call.method === method).map((call) => call.address);
  }
}

const NODES = ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'];

describe('KVClient over several nodes (fake transport)', () => {
  let transport: FakeTransport;
  const clients: KVClient[] = [];
  const client = (options: KVClientOptions = {}) => {
    const created = new KVClient(
      { nodes: NODES, discover: false, ...options },
      { transport, random: seededRandom(7) },
    );
    clients.push(created);
    return created;
  };

  beforeEach(() => {
    transport = new FakeTransport();
  });
  afterEach(async () => {
    sinon.restore();
    await Promise.all(clients.splice(0).map((created) => created.close()));
  });

  it('refuses options it would otherwise ignore, naming them', () => {
    const options = { hosts: NODES } as KVClientOptions;
    expect(() => new KVClient(options)).to.throw(TypeError, 'Unknown option `hosts` (did you mean `nodes`?)');
    expect(() => new KVClient({ nodes: NODES, port: 1 })).to.throw(
      TypeError,
      'either `nodes` or `host`/`port`',
    );
    expect(() => new KVClient({ nodes: ['localhost'] })).to.throw(TypeError, 'host:port, got `localhost`');
    expect(() => new KVClient({ nodes: [] })).to.throw(TypeError, 'non-empty array');
    expect(() => new KVClient({ retry: { attempts: 0 } })).to.throw(TypeError, '`retry.attempts`');
  });

  it('moves a read to another node at once when a node refuses, and then skips that node', async () => {
    transport.refusing.add(NODES[0] as string);
    const kv = client();
    const down: string[] = [];
    kv.on('nodeDown', (address) => down.push(address));
    for (let i = 0; i < 6; i++) expect(await kv.get(`k${i}`)).to.equal('ok');
    const refused = transport.calls.filter((call) => call.address === NODES[0]);
    expect(refused).to.have.length(1);
    expect(down).to.deep.equal([NODES[0]]);
    expect(kv.downNodes).to.deep.equal([NODES[0]]);
  });

  it('probes a node that is down in the background and uses it again once it answers', async () => {
    const clock = sinon.useFakeTimers();
    transport.refusing.add(NODES[1] as string);
    const kv = client({ retry: { baseDelayMs: 100, maxDelayMs: 400 } });
    const up: string[] = [];
    kv.on('nodeUp', (address) => up.push(address));
    for (let i = 0; i < 3; i++) await kv.ping();
    expect(kv.downNodes).to.deep.equal([NODES[1]]);
    await clock.tickAsync(2_000);
    expect(transport.nodesCalled('ping').filter((address) => address === NODES[1]).length).to.be.at.least(3);
    transport.refusing.clear();
    await clock.tickAsync(1_000);
    expect(up).to.deep.equal([NODES[1]]);
    expect(kv.downNodes).to.deep.equal([]);
  });

  it('resends a stamped set that may have reached a node to another, with the same stamp', async () => {
    const kv = client();
    transport.resetting.add(NODES[0] as string);
    transport.refusing.add(NODES[1] as string);
    transport.handler = () => true;
    for (let i = 0; i < 3; i++) {
      const before = transport.calls.length;
      expect(await kv.set(`k${i}`, i)).to.equal(true);
      const sent = transport.calls.slice(before).filter((call) => call.method === 'set');
      expect(sent.at(-1)?.address).to.equal(NODES[2]);
      const stamps = new Set(sent.map((call) => (call.params as { stamp?: string }).stamp));
      expect(stamps.size, 'one stamp for every copy of the set').to.equal(1);
      expect([...stamps][0]).to.match(/^\d+\.\d+@c[0-9a-f]{12}$/);
    }
    expect(transport.nodesCalled('set'), 'a set was sent to the node that reset it').to.include(NODES[0]);
    await kv.mset([['a', 1]]);
    const mset = transport.calls.filter((call) => call.method === 'mset');
    expect(new Set(mset.map((call) => (call.params as { stamp?: string }).stamp)).size).to.equal(1);
  });

  it('fails a stamped set that no node answered as OutcomeUnknownError only when a copy reached one', async () => {
    const kv = client({ retry: { attempts: 4, baseDelayMs: 0 } });
    for (const node of NODES) transport.refusing.add(node);
    const refused = await kv.set('k', 1).catch((caught: unknown) => caught);
    expect(refused).to.be.instanceOf(ConnectionError);
    transport.resetting.add(NODES[2] as string);
    transport.refusing.delete(NODES[2] as string);
    const reset = (await kv.set('k', 1).catch((caught: unknown) => caught)) as KVError;
    expect(reset).to.be.instanceOf(OutcomeUnknownError);
    expect(reset.message).to.contain('may or may not have taken effect');
    expect(reset.data).to.have.property('tried').that.includes(NODES[2]);
  });

  it('stamps each write above the session tokens the nodes sent, and never twice alike', async () => {
    // The client's clock stands still, so that its stamps show the counter past the token's.
    const now = Date.now();
    const ahead = now + 60_000;
    const kv = new KVClient(
      { nodes: NODES, discover: false },
      {
        now: () => now,
        transport: {
          request: async (call) => {
            transport.calls.push(call);
            return { result: true, session: `${ahead}.7` };
          },
          close: async () => {},
        },
      },
    );
    clients.push(kv);
    await kv.ping();
    await kv.set('a', 1);
    await kv.set('b', 2);
    await kv.set('c', 3, { ifAbsent: true });
    const stamps = transport.calls.map((call) => (call.params as { stamp?: string }).stamp);
    expect(stamps[0]).to.equal(undefined);
    expect(stamps[1]).to.match(new RegExp(`^${ahead}\\.8@`));
    expect(stamps[2]).to.match(new RegExp(`^${ahead}\\.9@`));
    expect(stamps[3], 'a conditional set is serial: its round stamps it').to.equal(undefined);
  });

  it('never resends an unstamped write that may have reached a node; sends one that never did to another', async () => {
    const kv = client({ stampWrites: false });
    transport.refusing.add(NODES[0] as string);
    transport.resetting.add(NODES[1] as string);
    transport.handler = () => true;
    const sets = () => transport.calls.filter((call) => call.method === 'set').length;
    // Every node in turn goes first: whichever it is, the set is sent at most once to a resetting node.
    for (let i = 0; i < 3; i++) {
      const before = sets();
      const outcome = await kv.set(`k${i}`, i).then(
        () => 'stored',
        (error: unknown) => error,
      );
      const tried = transport.calls.slice(before).map((call) => call.address);
      expect(transport.calls.at(-1)?.params).to.not.have.property('stamp');
      if (outcome === 'stored') expect(tried.at(-1)).to.equal(NODES[2]);
      else {
        expect(outcome).to.be.instanceOf(OutcomeUnknownError);
        expect((outcome as Error).message)
          .to.contain(`set on ${NODES[1]}`)
          .and.contain('may or may not');
        expect(tried.at(-1)).to.equal(NODES[1]);
      }
      expect(tried.filter((address) => address === NODES[1]).length).to.be.at.most(1);
    }
  });

  it('fails a cas whose node dropped the connection with OutcomeUnknownError, sent once', async () => {
    const kv = client({ nodes: [NODES[0] as string] });
    transport.resetting.add(NODES[0] as string);
    const error = await kv.cas('k', 1).catch((caught: unknown) => caught);
    expect(error).to.be.instanceOf(OutcomeUnknownError);
    expect(transport.calls).to.have.length(1);
  });

  it('sends a pop or cas given a `stamp` through call() once: only set and mset take one', async () => {
    const kv = client({ nodes: [NODES[0] as string] });
    transport.resetting.add(NODES[0] as string);
    for (const method of ['pop', 'cas'] as const) {
      const error = await kv.call(method, { key: 'k', stamp: '1.0@app' }).catch((caught: unknown) => caught);
      expect(error, method).to.be.instanceOf(OutcomeUnknownError);
      expect(transport.nodesCalled(method), method).to.have.length(1);
    }
  });

  it("returns a node's own error as it is, without retrying", async () => {
    const kv = client();
    transport.handler = () => {
      throw new QuorumNotReachedError('quorum not reached');
    };
    const error = await kv.get('k').catch((caught: unknown) => caught);
    expect(error).to.be.instanceOf(QuorumNotReachedError);
    expect(transport.calls).to.have.length(1);
  });

  it('with one node that does not answer, fails with a ConnectionError naming it, after backing off', async () => {
    const clock = sinon.useFakeTimers();
    const only = NODES[0] as string;
    transport.refusing.add(only);
    const kv = client({ nodes: [only], retry: { attempts: 4, baseDelayMs: 100, maxDelayMs: 1_000 } });
    let failedAt = 0;
    const failed = kv.get('k').catch((caught: unknown) => {
      failedAt = Date.now();
      return caught;
    });
    await clock.tickAsync(10_000);
    const error = (await failed) as KVError;
    expect(error).to.be.instanceOf(ConnectionError);
    expect(error.message).to.contain(`cannot reach kvdb at ${only}: connection refused`);
    expect(error.message).to.contain(`get tried ${only} (4 times) in`);
    expect(error.data).to.deep.include({ tried: [only] });
    // Waits of 50-100, 100-200 and 200-400 ms between the four tries.
    expect(failedAt).to.be.within(350, 700);
  });

  it('says every node it tried when none answers', async () => {
    for (const node of NODES) transport.refusing.add(node);
    const kv = client({ retry: { attempts: 4, baseDelayMs: 1 } });
    const error = (await kv.has('k').catch((caught: unknown) => caught)) as KVError;
    expect(error).to.be.instanceOf(ConnectionError);
    expect((error.data as { tried: string[] }).tried).to.have.members(NODES);
    // Four tries of three nodes: each node's count is given.
    expect(error.message).to.match(/has tried (127\.0\.0\.1:700\d \((once|2 times)\)(, )?){3} in \d+ ms/);
    expect(error.message).to.contain('(2 times)');
  });

  it('refuses a call option no call takes, and a deadline not above 0, sending nothing', async () => {
    const kv = client();
    const typo = { deadlinMs: 5 } as unknown as { deadlineMs: number };
    const error = await kv.get('k', null, typo).catch((caught: unknown) => caught);
    expect(error).to.be.instanceOf(TypeError).with.property('message').that.contains('`deadlinMs`');
    const leaving = await client({ nodes: NODES.slice(0, 1) })
      .leave(undefined, typo)
      .catch((caught: unknown) => caught);
    expect(leaving).to.be.instanceOf(TypeError).with.property('message').that.contains('`deadlinMs`');
    for (const deadlineMs of [0, -1, Number.NaN]) {
      const refused = await kv.ping({ deadlineMs }).catch((caught: unknown) => caught);
      expect(refused, String(deadlineMs)).to.be.instanceOf(TypeError);
    }
    expect(transport.calls).to.deep.equal([]);
  });

  it('gives up at the deadline with the last error', async () => {
    const clock = sinon.useFakeTimers();
    transport.handler = (call) =>
      new Promise((_resolve, reject) =>
        setTimeout(
          () => reject(new TimeoutError('timed out', { data: { node: call.address, sent: true } })),
          call.timeoutMs,
        ),
      );
    const kv = client({ timeoutMs: 300 });
    const failed = kv.get('k', undefined, { deadlineMs: 500 }).catch((caught: unknown) => caught);
    await clock.tickAsync(2_000);
    const error = (await failed) as KVError;
    expect(error).to.be.instanceOf(TimeoutError);
    const gets = transport.calls.filter((call) => call.method === 'get');
    expect(gets.map((call) => call.timeoutMs)).to.deep.equal([300, 200]);
  });

  it('abandons a call when its signal aborts, even while backing off', async () => {
    const clock = sinon.useFakeTimers();
    transport.refusing.add(NODES[0] as string);
    const kv = client({ nodes: [NODES[0] as string], retry: { baseDelayMs: 1_000 } });
    const controller = new AbortController();
    const failed = kv.get('k', undefined, { signal: controller.signal }).catch((caught: unknown) => caught);
    await clock.tickAsync(10);
    controller.abort();
    await clock.tickAsync(10);
    expect(await failed).to.have.property('name', 'AbortError');
    expect(transport.calls).to.have.length(1);
  });

  it("learns the ring and sends each key's calls to one of its replicas", async () => {
    const members = [
      '127.0.0.1:7001',
      '127.0.0.1:7002',
      '127.0.0.1:7003',
      '127.0.0.1:7004',
      '127.0.0.1:7005',
    ];
    const ring = new HashRing(members, { vnodes: 16, hasher: cryptoHasher('md5') });
    const info: RingInfo = {
      self: NODES[0] as string,
      id: ring.id,
      members,
      vnodes: 16,
      hasher: 'md5',
      replicas: 3,
    };
    transport.handler = (call) => (call.method === 'ring' ? info : 'ok');
    const kv = client({ discover: true });
    const changes: Array<readonly string[]> = [];
    kv.on('members', (nodes) => changes.push(nodes));
    expect(await kv.refresh()).to.equal(true);
    expect(kv.nodes).to.deep.equal(members);
    expect(changes).to.have.length.at.least(1);
    for (let i = 0; i < 50; i++) await kv.get(`key-${i}`);
    const gets = transport.calls.filter((call) => call.method === 'get');
    for (const call of gets) {
      const { key } = call.params as { key: string };
      expect(ring.preferenceList(key, 3)).to.include(call.address);
    }
    // Replicas take turns coordinating.
    expect(new Set(gets.map((call) => call.address)).size).to.equal(members.length);
  });

  it('emits ready at the first answer, and error for a failed refresh only when listened for', async () => {
    for (const node of NODES) transport.refusing.add(node);
    const kv = client({ retry: { attempts: 1 } });
    expect(await kv.refresh()).to.equal(false);
    const errors: Error[] = [];
    kv.on('error', (error) => errors.push(error));
    expect(await kv.refresh()).to.equal(false);
    expect(errors).to.have.length(1);
    let ready = 0;
    kv.on('ready', () => ready++);
    transport.refusing.clear();
    await kv.ping();
    await kv.ping();
    expect(ready).to.equal(1);
  });
});
