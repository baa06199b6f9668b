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

/**
 * The refusal of a peer stream asked for without the peer credential (`--peer-token`, else the auth token): peer
 * streams carry the `peer.` methods, for the nodes of the cluster only.
 */
export const PEER_UNAUTHORIZED_REPLY = errorReply(
  ErrorCode.UNAUTHORIZED,
  'Missing or wrong peer token (Authorization: Bearer …): peer streams are for the nodes of the cluster, which share --peer-token (the auth token when none is set)',
);

/** Whether binding `host` exposes the node beyond this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
