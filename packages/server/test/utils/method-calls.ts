import { isDeepStrictEqual } from 'node:util';
import { encodeJson, InvalidParamsError } from '@kvdb/core';
import { expect } from 'chai';
import { RequestSource } from '../../src/json-spans.js';
import type { MethodContext, MethodDefinition } from '../../src/methods/types.js';
import { normalizeParams } from '../../src/params.js';

/**
 * Calls a method as the server does: raw params normalised by name (with the text of a body that holds them, as
 * the front end passes it, when they are JSON), then validated by the method; the result as a client reads it back.
 */
export async function call(method: MethodDefinition, raw: unknown, context: MethodContext): Promise<unknown> {
  const text = JSON.stringify({ params: raw }) as string | undefined;
  const json = text !== undefined && isDeepStrictEqual(JSON.parse(text), { params: raw });
  const from = json ? { source: new RequestSource(text), index: 0 } : undefined;
  const result: unknown = await method.call(normalizeParams(method.name, raw, method.params, from), context);
  const reply = method.reply === undefined ? result : (method.reply as (result: unknown) => unknown)(result);
  return reply === undefined ? undefined : JSON.parse(encodeJson(reply));
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
