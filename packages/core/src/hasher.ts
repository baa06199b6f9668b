import { getHashes, hash } from 'node:crypto';

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
    // The one-shot hash() with a hex digest is about four times cheaper than createHash().update().digest() with a
    // Buffer, and a coordinator hashes every key it serves: the first 12 hex digits are the same 48 bits.
    hash: (input) => Number.parseInt(hash(algorithm, input, 'hex').slice(0, 12), 16),
  };
}

export const md5Hasher: Hasher = cryptoHasher('md5');
