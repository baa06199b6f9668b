import { ClusterNode, type Coordinator } from '@kvdb/coordinator';
import { InvalidParamsError, MemoryStore } from '@kvdb/core';
import { expect } from 'chai';
import type { Limits } from '../../src/config.js';
import type { MethodContext, MethodDefinition } from '../../src/methods/types.js';
import { normalizeParams } from '../../src/params.js';

export const SELF = '127.0.0.1:5878';

/** A one-member node in memory, not started: every replica call it makes is to itself, so no transport is needed. */
export function singleNode(limits: Limits): { context: MethodContext; coordinator: Coordinator } {
  const transport = { call: () => Promise.reject(new Error('a single node calls no peer')) };
  const node = new ClusterNode(
    { store: new MemoryStore(), transport },
    { self: SELF, seeds: [SELF], replicas: 1 },
  );
  const { coordinator, peerHandlers: peer } = node;
  return { coordinator, context: { node, coordinator, peer, limits, onLeft: () => {} } };
}

/** Calls a method as the server does: raw params normalised by name, then validated by the method. */
export async function call(method: MethodDefinition, raw: unknown, context: MethodContext): Promise<unknown> {
  return method.call(normalizeParams(method.name, raw, method.params), context);
}

/** The InvalidParamsError (-32602) a call rejects with; fails on any other outcome. */
export async function refusal(promise: Promise<unknown>): Promise<InvalidParamsError> {
  try {
    const value = await promise;
    expect.fail(`expected -32602, got ${JSON.stringify(value)}`);
  } catch (error) {
    expect(error).to.be.instanceOf(InvalidParamsError);
    expect((error as InvalidParamsError).code).to.equal(-32602);
    return error as InvalidParamsError;
  }
}
