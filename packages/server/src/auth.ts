import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Checks `Authorization: Bearer <token>` against the node's token in constant time: both sides are hashed to
 * equal-length digests first, so neither the comparison nor the lengths leak how much of a guess was right.
 */
export function createTokenCheck(token: string): (header: string | undefined) => boolean {
  const expected = createHash('sha256').update(token).digest();
  return (header) => {
    const presented = /^Bearer (.+)$/i.exec(header ?? '')?.[1] ?? '';
    return timingSafeEqual(createHash('sha256').update(presented).digest(), expected);
  };
}

/** Whether binding `host` exposes the node beyond this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
