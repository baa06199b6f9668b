import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClassicLevel } from 'classic-level';
import sinon from 'sinon';
import type { DiskStore } from '../src/disk-store.js';

/** Who the stores of these tests are written by. */
export const identity = { cluster: 'test', address: '127.0.0.1:5878' };

export const v = (wall: number) => ({ wall, counter: 0, node: 'n' });

const dirs: string[] = [];

/** A new empty directory, removed after the last test. */
export function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kvdb-disk-'));
  dirs.push(dir);
  return dir;
}

after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The LevelDB under a store, to watch or fail its writes. */
export const levelOf = (store: DiskStore) => (store as unknown as { db: ClassicLevel<string, string> }).db;

type BatchSpy = sinon.SinonSpy<[{ key: string }[], { sync: boolean }], Promise<void>>;

/** Watches the store's LevelDB batches: what each wrote, and whether it was fsynced. */
export const spyBatches = (store: DiskStore) => sinon.spy(levelOf(store), 'batch') as unknown as BatchSpy;

/**
 * Holds the store's LevelDB batches until the returned function is called; `held()` tells whether one has been
 * asked for. `sinon.restore()` ends it.
 */
export function holdBatches(store: DiskStore): { release: () => void; held: () => boolean } {
  const level = levelOf(store);
  const real = level.batch.bind(level);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const stub = sinon
    .stub(level, 'batch')
    .callsFake(((operations: never, options: never) => gate.then(() => real(operations, options))) as never);
  return { release, held: () => stub.called };
}

/** Lets `count` turns of the event loop pass. */
export async function turns(count: number): Promise<void> {
  for (let turn = 0; turn < count; turn++) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Polls, a turn of the event loop at a time, until `condition` holds; fails after `limit` turns. Unlike the
 * harness's `until`, it needs no `setTimeout`, which some tests fake.
 */
export async function turnsUntil(condition: () => boolean, limit = 2_000): Promise<void> {
  for (let turn = 0; turn < limit; turn++) {
    if (condition()) return;
    await turns(1);
  }
  throw new Error(`not so after ${limit} turns`);
}
