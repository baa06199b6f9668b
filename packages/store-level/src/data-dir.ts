import { DataDirError } from '@kvdb/core';

/** Who wrote a data dir: a node refuses a dir written by another cluster or under another address. */
export interface DataDirIdentity {
  cluster: string;
  address: string;
}

/** The data format this version writes. Format 1 was an LMDB environment (`data.mdb`), of earlier builds. */
export const FORMAT = 2;

/** Refuses a data dir written in another format, by another cluster, or under another address. */
export function checkIdentity(
  dir: string,
  found: DataDirIdentity & { format: number },
  identity: DataDirIdentity,
): void {
  if (found.format !== FORMAT) {
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
}
