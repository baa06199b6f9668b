import { type ClientRequest, request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { MemberAddress } from '@kvdb/core';
import type { TlsOptions } from './node-tls.js';
import { PEER_PATH } from './peer-stream.js';

/** `host:port` (`[v6]:port`) as node:net takes them. */
export function hostAndPort(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), Number(address.slice(colon + 1))];
}

/**
 * The request to switch a new connection to `peer` to a peer stream, dialled at `dial` (its address, or a proxy's):
 * over TLS when `tls` is given, verifying the peer's certificate against the CA given and against the member's own
 * host (whatever address it is dialled at), and presenting this node's certificate to a peer that asks for one.
 * Throws when node:http refuses a header (a token with a line break).
 */
export function dialPeer(
  peer: MemberAddress,
  dial: string,
  headers: Readonly<Record<string, string>>,
  tls: TlsOptions | undefined,
): ClientRequest {
  const [host, port] = hostAndPort(dial);
  // A connection of its own, never pooled: once switched, it is the link's.
  const target = { host, port, method: 'GET', path: PEER_PATH, headers, agent: false as const };
  if (tls === undefined) return request(target);
  const [member] = hostAndPort(peer);
  const identity = (_host: string, cert: PeerCertificate) => checkServerIdentity(member, cert);
  return httpsRequest({ ...target, ...tls, checkServerIdentity: identity });
}
