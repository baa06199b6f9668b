import type { ServerResponse } from 'node:http';
import { KVDB_VERSION } from '@kvdb/core';
import type { Page } from '../http-front-end.js';
import type { KVNode } from '../node.js';

/** What `GET /ready` answers: whether the node should get traffic, each condition, and why any fails. */
export interface Readiness {
  ready: boolean;
  node: string;
  checks: { joined: boolean; storeOpen: boolean; notStopping: boolean };
  /** One line per failing condition. */
  failing: string[];
}

/**
 * Ready: joined (a founding member, or one that has reached a member named in -C, and holds the data of its
 * ranges), its store open (a disk that refused a commit closes it), and not stopping (a shutdown, or a leave,
 * under way).
 */
export function readiness(node: KVNode): Readiness {
  const failing: string[] = [];
  const own = node.cluster.membership.own;
  let joined = node.coordinator.ready();
  if (!joined) failing.push('joined: has not reached any member named in -C yet');
  else if (own.phase === 'joining') {
    joined = false;
    const { pending, done } = node.cluster.rangeFill.stats.segments;
    const held = pending > 0 ? ` (${done} of ${pending} segments held)` : '';
    failing.push(`joined: fetching the data of its ranges${held}`);
  }
  const storeOpen = node.storeOpen;
  if (!storeOpen) failing.push('storeOpen: the store is closed or has failed (see the log)');
  const leaving = own.phase === 'leaving' || own.status === 'left';
  const notStopping = !node.stopping && !leaving;
  if (node.stopping) failing.push('notStopping: shutting down');
  else if (leaving) failing.push('notStopping: leaving the cluster');
  const checks = { joined, storeOpen, notStopping };
  return { ready: failing.length === 0, node: node.address, checks, failing };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** `GET /health`: 200 whenever the process serves HTTP (a liveness probe). */
export function healthPage(node: KVNode): Page {
  const startedAt = Date.now();
  return {
    needsToken: false,
    serve: (_req, res) =>
      sendJson(res, 200, {
        status: 'ok',
        node: node.address,
        version: KVDB_VERSION,
        uptimeSeconds: Math.round((Date.now() - startedAt) / 1_000),
      }),
  };
}

/** `GET /ready`: 200 when the node should get traffic, else 503; the body says which condition fails. */
export function readyPage(node: KVNode): Page {
  return {
    needsToken: false,
    serve: (_req, res) => {
      const state = readiness(node);
      sendJson(res, state.ready ? 200 : 503, state);
    },
  };
}
