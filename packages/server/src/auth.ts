import { createHash, timingSafeEqual } from 'node:crypto';
import { ErrorCode } from '@kvdb/core';
import { errorReply } from './json-rpc.js';

/** Whether an `Authorization` header lets a request in. */
export type AuthCheck = (header: string | undefined) => boolean;

/**
 * Checks `Authorization: Bearer <token>` against the node's token in constant time: both sides are hashed to
 * equal-length digests first, so neither the comparison nor the lengths leak how much of a guess was right.
 * Without a token every request is let in.
 */
export function createTokenCheck(token: string | undefined): AuthCheck {
  if (token === undefined) return () => true;
  const expected = createHash('sha256').update(token).digest();
  return (header) => {
    const presented = /^Bearer (.+)$/i.exec(header ?? '')?.[1] ?? '';
    return timingSafeEqual(createHash('sha256').update(presented).digest(), expected);
  };
}

/** The reply to a request, or a peer stream, without the node's token: over HTTP and at the switch alike. */
export const UNAUTHORIZED_REPLY = errorReply(
  ErrorCode.UNAUTHORIZED,
  'Missing or wrong auth token (Authorization: Bearer …)',
);

/** Whether binding `host` exposes the node beyond this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
