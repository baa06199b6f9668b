import type { KVClient } from '@kvdb/client';
import type { JsonValue, MemberPhase, MemberStatus } from '@kvdb/core';
import { defined } from '@kvdb/core/testing';
import { waitFor } from './wait.js';

/** Runs `task` over `items`, at most `limit` at a time; resolves with the results in order. */
export async function inParallel<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  // One iterator shared by the workers: each takes the next item the moment it is free.
  const entries = items.entries();
  const worker = async () => {
    for (const [index, item] of entries) results[index] = await task(item, index);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The item `index` falls on, going round and round `items` (which must not be empty). */
export function roundRobin<T>(items: readonly T[], index: number): T {
  return defined(items[index % items.length], 'an item: the list is empty');
}

/** How `client`'s node sees the member at `address` (undefined if it does not list it). */
export async function statusOn(client: KVClient, address: string): Promise<MemberStatus | undefined> {
  const members = await client.listMembers();
  return members.find((member) => member.address === address)?.status;
}

/**
 * Waits until every client's node sees `address` in a status `accept` takes; resolves with the ms it took,
 * counted from `since`.
 */
export async function waitForStatus(
  clients: readonly KVClient[],
  address: string,
  accept: (status: MemberStatus | undefined) => boolean,
  { since = Date.now(), timeoutMs = 10_000, what = 'the status' } = {},
): Promise<number> {
  const seen = new Array<boolean>(clients.length).fill(false);
  await waitFor(
    `${what} of ${address} on every node`,
    async () => {
      await Promise.all(
        clients.map(async (client, index) => {
          if (!seen[index]) seen[index] = accept(await statusOn(client, address));
        }),
      );
      if (!seen.every(Boolean))
        throw new Error(`seen on ${seen.filter(Boolean).length} of ${clients.length}`);
      return true;
    },
    { timeoutMs: Math.max(0, since + timeoutMs - Date.now()) },
  );
  return Date.now() - since;
}

/** Sum of `stats.keys` (live keys held as a replica) over the clients' nodes. */
export async function totalKeys(clients: readonly KVClient[]): Promise<number> {
  const stats = await Promise.all(clients.map((client) => client.stats()));
  return stats.reduce((sum, s) => sum + s.keys, 0);
}

/**
 * Waits until the clients' nodes together hold `expected` live keys; resolves with the ms it took.
 * Fails with the last per-node counts.
 */
export async function waitForTotalKeys(
  clients: readonly KVClient[],
  expected: number,
  { timeoutMs = 30_000, intervalMs = 200 } = {},
): Promise<number> {
  const started = Date.now();
  await waitFor(
    `the nodes to hold ${expected} live keys in all`,
    async () => {
      const stats = await Promise.all(clients.map((client) => client.stats()));
      const total = stats.reduce((sum, s) => sum + s.keys, 0);
      if (total !== expected) {
        throw new Error(`${total} = ${stats.map((s) => `${s.address}: ${s.keys}`).join(' + ')}`);
      }
      return true;
    },
    { timeoutMs, intervalMs },
  );
  return Date.now() - started;
}

/**
 * Waits until each client's node holds exactly its count of live keys (`counts[i]` for `clients[i]`); resolves
 * with the ms it took. Fails with the last per-node counts.
 */
export async function waitForKeyCounts(
  clients: readonly KVClient[],
  counts: readonly number[],
  { timeoutMs = 30_000, intervalMs = 200 } = {},
): Promise<number> {
  const started = Date.now();
  await waitFor(
    `the nodes to hold ${counts.join(', ')} live keys`,
    async () => {
      const stats = await Promise.all(clients.map((client) => client.stats()));
      if (stats.some((s, index) => s.keys !== counts[index])) {
        throw new Error(stats.map((s, index) => `${s.address}: ${s.keys} of ${counts[index]}`).join(', '));
      }
      return true;
    },
    { timeoutMs, intervalMs },
  );
  return Date.now() - started;
}

/** What a key should read as: its latest value, or null once popped. */
export type Expected = Map<string, JsonValue>;

/** Live keys of `expected`, sorted the way list_keys sorts them. */
export function liveKeys(expected: Expected): string[] {
  return [...expected]
    .filter(([, value]) => value !== null)
    .map(([key]) => key)
    .sort();
}

/**
 * Reads every key of `expected` (round-robin over `clients`) and resolves with a line per key that did not read
 * as expected: empty when all did.
 */
export async function mismatches(
  clients: readonly KVClient[],
  expected: Expected,
  options: { consistency?: 'one' | 'quorum' | 'all' } = {},
): Promise<string[]> {
  const entries = [...expected];
  const wrong: string[] = [];
  await inParallel(entries, 16, async ([key, value], index) => {
    const client = roundRobin(clients, index);
    try {
      const actual = await client.get(key, undefined, options);
      if (JSON.stringify(actual) !== JSON.stringify(value)) {
        wrong.push(
          `${key} via ${client.address}: ${JSON.stringify(actual)}, expected ${JSON.stringify(value)}`,
        );
      }
    } catch (error) {
      wrong.push(`${key} via ${client.address}: ${(error as Error).name}: ${(error as Error).message}`);
    }
  });
  return wrong;
}

/** Fails listing (the first 20 of) the lines `mismatches` found, if any. */
export function expectNoMismatch(wrong: readonly string[], what = 'keys not read back as written'): void {
  if (wrong.length > 0) {
    throw new Error(`${wrong.length} ${what}:\n  ${wrong.slice(0, 20).join('\n  ')}`);
  }
}

/** Waits until every client's node lists each of `addresses` in `phase`. */
export async function waitForPhase(
  clients: readonly KVClient[],
  addresses: readonly string[],
  phase: MemberPhase,
  timeoutMs: number,
): Promise<void> {
  await waitFor(
    `${addresses.join(', ')} ${phase} on every node`,
    async () => {
      const lists = await Promise.all(clients.map((client) => client.listMembers()));
      return lists.every((members) =>
        addresses.every((address) => members.some((m) => m.address === address && m.phase === phase)),
      );
    },
    { timeoutMs, intervalMs: 200 },
  );
}

/**
 * Waits until each client's node holds exactly the keys it replicates, as `locate` on the first client names
 * them, each key on `replicas` nodes; resolves with the ms it took.
 */
export async function waitForPlacement(
  clients: readonly KVClient[],
  keys: readonly string[],
  { replicas, timeoutMs }: { replicas: number; timeoutMs: number },
): Promise<number> {
  const addresses = await Promise.all(clients.map(async (client) => (await client.stats()).address));
  const owned = new Map(addresses.map((address) => [address, 0]));
  const first = defined(clients[0], 'a client');
  await inParallel(keys, 16, async (key) => {
    const located = await first.locate(key);
    if (located.length !== replicas)
      throw new Error(`${key} has ${located.length} replicas, not ${replicas}`);
    for (const address of located) owned.set(address, (owned.get(address) ?? 0) + 1);
  });
  const counts = addresses.map((address) => owned.get(address) ?? 0);
  return waitForKeyCounts(clients, counts, { timeoutMs });
}
