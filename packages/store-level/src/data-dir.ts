import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DataDirError } from '@kvdb/core';
import { ClassicLevel } from 'classic-level';
import { LEVEL_OPTIONS } from './constants.js';
import { decodeHead, paxosFromFormat2 } from './record-codec.js';

/** Who wrote a data dir: a node refuses a dir written by another cluster or under another address. */
export interface DataDirIdentity {
  cluster: string;
  address: string;
}

/**
 * The data format this version writes: records as head and value (see record-codec.ts), each head also under its
 * own key. Format 2, of earlier builds, kept whole records alone; this version reads it and upgrades it at open
 * (see `upgrade`), after which those builds refuse the dir by its format rather than misread its records. Format
 * 1 was an LMDB environment (`data.mdb`).
 */
export const FORMAT = 3;
const UPGRADABLE = 2;

/**
 * Key prefixes: records, their heads, hints (`member NUL key`), serial rounds' states, and the dir's identity.
 * '0' is the character after '/'.
 */
export const RECORDS = 'r/';
export const HEADS = 'k/';
export const HEADS_END = 'k0';
export const HINTS = 'h/';
export const HINTS_END = 'h0';
export const PAXOS = 'p/';
export const PAXOS_END = 'p0';
const RECORDS_END = 'r0';
const IDENTITY = 'meta/identity';

/** Records read, and heads written, a step at a time by `upgrade`. */
const UPGRADE_STEP = 1_000;

/**
 * Opens (creating if needed) the LevelDB in `dir`, checking that it was written by this cluster and address in a
 * format this version reads, and upgrading it to `FORMAT`.
 */
export async function openDataDir(
  dir: string,
  identity: DataDirIdentity,
): Promise<ClassicLevel<string, string>> {
  if (existsSync(join(dir, 'data.mdb'))) {
    throw new DataDirError(
      `${dir} holds data format 1 (LMDB), written by an earlier kvdb; this kvdb reads format ${FORMAT} (LevelDB): start it with an empty --data-dir, and the node's replicas will resync it`,
    );
  }
  mkdirSync(dir, { recursive: true });
  const db = new ClassicLevel<string, string>(dir, {
    keyEncoding: 'utf8',
    valueEncoding: 'utf8',
    ...LEVEL_OPTIONS,
  });
  try {
    await db.open();
  } catch (error) {
    const cause = ((error as { cause?: Error }).cause ?? error) as NodeJS.ErrnoException;
    if (cause.code === 'LEVEL_LOCKED') {
      throw new DataDirError(`${dir} is in use by another kvdb-server (${cause.message})`);
    }
    throw new DataDirError(`${dir} cannot be opened: ${cause.message}`);
  }
  try {
    const found = await db.get(IDENTITY);
    const format = found === undefined ? FORMAT : checkIdentity(dir, JSON.parse(found), identity);
    const stamped = JSON.stringify({ ...identity, format: FORMAT });
    if (format === UPGRADABLE) await upgrade(db, stamped);
    else if (found === undefined) await db.put(IDENTITY, stamped, { sync: true });
    return db;
  } catch (error) {
    await db.close();
    throw error;
  }
}

/**
 * Refuses a data dir written in a format this version does not read, by another cluster, or under another
 * address; returns its format.
 */
export function checkIdentity(
  dir: string,
  found: DataDirIdentity & { format: number },
  identity: DataDirIdentity,
): number {
  if (found.format !== FORMAT && found.format !== UPGRADABLE) {
    throw new DataDirError(`${dir} holds data format ${found.format}; this kvdb reads format ${FORMAT}`);
  }
  if (found.cluster !== identity.cluster) {
    throw new DataDirError(
      `${dir} belongs to cluster "${found.cluster}", not "${identity.cluster}" (--cluster-name); refusing to mix their data`,
    );
  }
  if (found.address !== identity.address) {
    throw new DataDirError(
      `${dir} was written by the node at ${found.address}, not ${identity.address}; start that node with it, or use an empty --data-dir`,
    );
  }
  return found.format;
}

/**
 * Writes the head of each record of a format-2 dir under its own key. Format 2's records were whole, and as many
 * as its builds held in memory, so reading them all once is affordable. Done again from the start should the
 * process stop halfway: the dir keeps format 2 until it is done.
 */
async function upgrade(db: ClassicLevel<string, string>, stamped: string): Promise<void> {
  const iterator = db.iterator({ gte: RECORDS, lt: RECORDS_END });
  try {
    for (;;) {
      const step = await iterator.nextv(UPGRADE_STEP);
      if (step.length === 0) break;
      await db.batch(
        step.map(([key, text]) => ({
          type: 'put' as const,
          key: HEADS + key.slice(RECORDS.length),
          value: JSON.stringify(decodeHead(text)),
        })),
      );
    }
  } finally {
    await iterator.close();
  }
  // Serial rounds' states held their accepted record's value parsed; this format holds its text. They are few (a
  // state is dropped once its key has been quiet a while), so they are converted in the batch that stamps the dir
  // with its new format: converting twice, which would turn a value into the text of its text, cannot happen.
  const states = await db.iterator({ gte: PAXOS, lt: PAXOS_END }).all();
  await db.batch(
    [
      ...states.map(([key, text]) => ({ type: 'put' as const, key, value: paxosFromFormat2(text) })),
      { type: 'put' as const, key: IDENTITY, value: stamped },
    ],
    { sync: true },
  );
}
