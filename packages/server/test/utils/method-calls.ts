import { InvalidParamsError } from '@kvdb/core';
import { expect } from 'chai';
import type { MethodContext, MethodDefinition } from '../../src/methods/types.js';
import { normalizeParams } from '../../src/params.js';

/** Calls a method as the server does: raw params normalised by name, then validated by the method. */
export async function call(method: MethodDefinition, raw: unknown, context: MethodContext): Promise<unknown> {
  return method.call(normalizeParams(method.name, raw, method.params), context);
}

/** The -32602 a call rejects with; fails on any other outcome. */
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
