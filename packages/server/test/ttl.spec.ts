import { ClusterNode } from '@kvdb/coordinator';
import { MAX_TTL_SECONDS, MemoryStore } from '@kvdb/core';
import { expect } from 'chai';
import sinon from 'sinon';
import { ClusterView } from '../src/cluster-view.js';
import type { Limits } from '../src/config.js';
import { METHODS } from '../src/methods/index.js';
import type { MethodContext, MethodDefinition } from '../src/methods/types.js';
import { call as callMethod, refusal } from './utils/method-calls.js';

const SELF = '127.0.0.1:5878';
const LIMITS: Limits = { maxKeyBytes: 64, maxValueBytes: 1_000, maxBodyBytes: 10_000, maxBatch: 10 };
const NOW = 1_700_000_000_000;

function method(name: string): MethodDefinition {
  const found = METHODS.find((definition) => definition.name === name);
  if (found === undefined) throw new Error(`no method ${name}`);
  return found;
}

/** Calls a method of the table by name, as the server does. */
function call(name: string, raw: unknown, context: MethodContext): Promise<unknown> {
  return callMethod(method(name), raw, context);
}

describe('ttl params (set, ttl, and the peer methods that carry expiry)', () => {
  let clock: sinon.SinonFakeTimers;
  let store: MemoryStore;
  let context: MethodContext;

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: NOW, toFake: ['Date'] });
    store = new MemoryStore();
    const transport = { call: () => Promise.reject(new Error('a single node calls no peer')) };
    const node = new ClusterNode({ store, transport }, { self: SELF, seeds: [SELF], replicas: 1 });
    context = {
      node,
      coordinator: node.coordinator,
      peer: node.peerHandlers,
      limits: LIMITS,
      view: new ClusterView({ node, transport }),
      onLeft: () => {},
    };
  });

  afterEach(() => {
    clock.restore();
  });

  it('sets with a ttl, named or in its place after consistency, and answers ttl with the seconds left', async () => {
    expect(await call('set', { key: 'named', value: 1, ttl: 2 }, context)).to.equal(true);
    expect(await call('set', ['positional', 1, null, 0.5], context)).to.equal(true);
    expect(await call('set', ['forever', 1], context)).to.equal(true);
    expect(store.headSync('named')?.expires).to.equal(NOW + 2_000);
    expect(store.headSync('positional')?.expires).to.equal(NOW + 500);
    expect(store.headSync('forever')).to.not.have.property('expires');

    clock.tick(500);
    expect(await call('ttl', { key: 'named' }, context)).to.deep.equal({ exists: true, ttl: 1.5 });
    expect(await call('ttl', ['named', 'all'], context)).to.deep.equal({ exists: true, ttl: 1.5 });
    expect(await call('ttl', ['positional'], context)).to.deep.equal({ exists: false, ttl: null });
    expect(await call('ttl', ['forever'], context)).to.deep.equal({ exists: true, ttl: null });
    expect(await call('ttl', ['missing'], context)).to.deep.equal({ exists: false, ttl: null });
    expect(await call('get', ['positional', 'gone'], context)).to.equal('gone');
    expect(await call('has', ['positional'], context)).to.equal(false);
    expect(await call('list_keys', {}, context)).to.deep.equal(['forever', 'named']);
  });

  it('refuses a bad ttl with -32602 naming `ttl`, and changes nothing', async () => {
    await call('set', ['k', 'before'], context);
    const before = await store.get('k');
    for (const ttl of [0, -1, MAX_TTL_SECONDS + 1, '5', true, [], {}]) {
      const error = await refusal(call('set', { key: 'k', value: 'after', ttl }, context));
      expect(error.message, JSON.stringify(ttl)).to.match(
        /^Expected `ttl` to be a number of seconds above 0 and at most 315360000 \(10 years\), got /,
      );
    }
    expect(await store.get('k')).to.deep.equal(before);
  });

  it('refuses ttl without a key, with a bad consistency, or with params it does not take', async () => {
    await refusal(call('ttl', {}, context));
    await refusal(call('ttl', { key: 'k', consistency: 'most' }, context));
    await refusal(call('ttl', { key: 'k', ttl: 5 }, context));
    await refusal(call('ttl', ['k', 'one', 'extra'], context));
  });

  it('takes records with an expiry from peers, and refuses a malformed one', async () => {
    const version = { wall: NOW, counter: 0, node: SELF };
    const record = { version, value: 'v', expires: NOW + 1_000 };
    expect(await call('peer.put', { key: 'k', record }, context)).to.deep.equal({ stored: true });
    expect(await store.get('k')).to.deep.equal(record);
    for (const expires of [0, 1.5, '1', null]) {
      await refusal(call('peer.put', { key: 'x', record: { version, value: 'v', expires } }, context));
    }
    await refusal(call('peer.put', { key: 'x', record: { version, deleted: true, expires: NOW } }, context));
    expect(await store.get('x')).to.equal(undefined);
  });

  it('takes the sender’s wall time on peer.sync, answers with its own, and refuses a bad one', async () => {
    const members = [{ address: SELF, status: 'alive', incarnation: 0 }];
    const reply = (await call('peer.sync', { members, time: NOW - 5 }, context)) as { time?: number };
    expect(reply.time).to.equal(NOW);
    for (const time of [-1, 1.5, 'now', null]) {
      const error = await refusal(call('peer.sync', { members, time }, context));
      expect(error.message).to.match(/`time`/);
    }
  });
});
