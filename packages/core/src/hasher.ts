import { createHash, getHashes } from 'node:crypto';

/** Maps a string to a position on the ring: an unsigned integer below 2^48, so it is exact in a double. */
export interface Hasher {
  readonly name: string;
  hash(input: string): number;
}

export const RING_SIZE = 2 ** 48;

/** A hasher from any digest node:crypto knows (md5, sha1, sha256, …), taking the digest's first 48 bits. */
export function cryptoHasher(algorithm: string): Hasher {
  if (!getHashes().includes(algorithm)) {
    throw new TypeError(`Expected \`hasher\` to be a digest node:crypto supports, got \`${algorithm}\``);
  }
  return {
    name: algorithm,
    hash: (input) => createHash(algorithm).update(input).digest().readUIntBE(0, 6),
  };
}

export const md5Hasher: Hasher = cryptoHasher('md5');
