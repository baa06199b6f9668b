import { createHash } from 'node:crypto';
import {
  compareKeys,
  type Hasher,
  HashRing,
  type MemberAddress,
  MemoryStore,
  type PeerParams,
  RING_SIZE,
  type RingKeysReply,
} from '@kvdb/core';
import { expect } from 'chai';
import { KeyPositions } from '../src/key-positions.js';
import { type Listing, listPage, ringKeysPage } from '../src/ring-listing.js';
import { defined } from './utils/assertions.js';
import { live } from './utils/values.js';

const md5 = (s: string) => Number.parseInt(createHash('md5').update(s).digest('hex').slice(0, 12), 16);
/** Few distinct positions, so that keys (and tokens) share them; some at 0 and at the top of the ring. */
const coarse: Hasher = {
  name: 'coarse',
  hash: (s) => {
    const h = md5(s);
    if (h % 17 === 0) return 0;
    if (h % 17 === 1) return RING_SIZE - 1;
    return Math.floor(h / 2 ** 42) * 2 ** 42;
  },
};
const fine: Hasher = { name: 'fine', hash: md5 };

interface Replica {
  store: MemoryStore;
  positions: KeyPositions;
}

/** md5 hashes the replicas made: what a prefix looked up by key costs. */
const hashes = { count: 0 };
/**
 * Replicas of `keys` on a ring, each answering `peer.ring_keys` directly; a popped key's first replica missed the
 * pop and still holds the value.
 */
function cluster(
  members: string[],
  hasher: Hasher,
  replicas: number,
  keys: string[],
  popped: Set<string>,
  vnodes = 4,
) {
  const ring = new HashRing(members, { vnodes, hasher });
  const nodes = new Map<MemberAddress, Replica>(
    members.map((m) => [m, { store: new MemoryStore(), positions: new KeyPositions() }]),
  );
  for (const key of keys) {
    const position = hasher.hash(key);
    const holders = ring.segmentReplicas(ring.segmentAt(position), Math.min(replicas, members.length));
    holders.forEach((member, i) => {
      const node = defined(nodes.get(member));
      const dead = popped.has(key);
      const stale = dead && i === 0 && holders.length > 1;
      // one replica of a popped key missed the pop: it still holds the live value
      const version = { wall: dead && !stale ? 2 : 1, counter: 0, node: 'n' };
      node.store.mergeSync(key, dead && !stale ? { version, deleted: true } : live(version, 1));
      node.positions.add(key, position);
    });
  }
  const listing = (r = ring): Listing => ({
    ring: r,
    replicas,
    ask: (async (requests: ReadonlyMap<MemberAddress, PeerParams<'peer.ring_keys'>>) => {
      const succeeded: Array<{ target: string; value: RingKeysReply }> = [];
      for (const [target, params] of requests) {
        const node = defined(nodes.get(target));
        succeeded.push({
          target,
          value: ringKeysPage(
            node.positions,
            node.store,
            (k) => {
              hashes.count++;
              return hasher.hash(k);
            },
            params,
            Date.now(),
          ),
        });
      }
      return { succeeded, failed: [], timedOut: false };
    }) as Listing['ask'],
  });
  return { ring, listing };
}

async function walkAll(
  listing: (page: number) => Listing,
  limit: number,
  prefix?: string,
): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 100_000; page++) {
    const result = await listPage(listing(page), { limit, cursor, prefix });
    expect(result.keys.length).to.be.at.most(limit);
    keys.push(...result.keys);
    if (result.cursor === null) return keys;
    cursor = result.cursor;
  }
  throw new Error('does not end');
}

describe('a ring walk over replicas that disagree, with keys sharing positions', () => {
  const keys = Array.from({ length: 600 }, (_, i) => `k${i}`);
  const popped = new Set(keys.filter((_, i) => i % 7 === 0));
  const live = keys.filter((key) => !popped.has(key)).sort(compareKeys);
  for (const hasher of [fine, coarse]) {
    for (const [n, replicas] of [
      [2, 1],
      [3, 2],
      [5, 3],
    ] as const) {
      it(`lists every live key once: ${hasher.name} hasher, ${n} members, R=${replicas}`, async () => {
        const members = Array.from({ length: n }, (_, i) => `10.0.0.${i}:1`);
        const { listing } = cluster(members, hasher, replicas, keys, popped);
        for (const limit of [1, 2, 3, 7, 50, 1000]) {
          const got = await walkAll(() => listing(), limit);
          expect([...got].sort(compareKeys), `limit ${limit}`).to.deep.equal(live);
          const pre = await walkAll(() => listing(), limit, 'k1');
          expect([...pre].sort(compareKeys), `prefix, limit ${limit}`).to.deep.equal(
            live.filter((k) => k.startsWith('k1')),
          );
        }
      });
    }
  }

  it('lists every live key once while the membership changes between pages (3, then 4, then 2 members)', async () => {
    for (const hasher of [fine, coarse]) {
      const m = (n: number) => Array.from({ length: n }, (_, i) => `10.0.0.${i}:1`);
      const rings = [
        cluster(m(3), hasher, 2, keys, popped),
        cluster(m(4), hasher, 2, keys, popped),
        cluster(m(2), hasher, 2, keys, popped),
      ];
      for (const limit of [1, 5, 40]) {
        const got = await walkAll(
          (page) => defined(rings[Math.min(2, Math.floor(page / 4))]).listing(),
          limit,
        );
        expect([...got].sort(compareKeys), `${hasher.name} limit ${limit}`).to.deep.equal(live);
      }
    }
  });

  it('lists a prefix in pages of 100 at about the cost of the keys it lists, not of every match a call', async () => {
    const keys2 = Array.from({ length: 38_000 }, (_, i) => (i % 2 === 0 ? `user:${i}` : `other:${i}`));
    const members = Array.from({ length: 3 }, (_, i) => `10.0.0.${i}:1`);
    const { listing } = cluster(members, fine, 3, keys2, new Set(), 256);
    hashes.count = 0;
    let cursor: string | undefined;
    let listed = 0;
    for (let page = 0; page < 10; page++) {
      const result = await listPage(listing(), { limit: 100, cursor, prefix: 'user:' });
      listed += result.keys.length;
      cursor = result.cursor ?? undefined;
    }
    expect(hashes.count / listed, `${hashes.count} md5 hashes for ${listed} keys listed`).to.be.below(10);
  });
});
