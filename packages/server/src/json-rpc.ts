import type { Logger } from '@kvdb/coordinator';
import { DEFAULT_MAX_BATCH, ErrorCode, encodeJson } from '@kvdb/core';
import { RequestSource } from './json-spans.js';
import type { MethodContext, MethodDefinition } from './methods/index.js';
import { normalizeParams } from './params.js';
import { type RpcErrorObject, toRpcError } from './rpc-errors.js';

/** A request's id: a notification has none, and its reply none; an id the request could not give is null. */
export type RequestId = string | number | null;

export interface JsonRpcResponse {
  jsonrpc: '2.0';
  id: RequestId;
  result?: unknown;
  error?: RpcErrorObject;
}

/** What a request or batch gets back: one response, a batch of them, or nothing (only notifications). */
export type JsonRpcReply = JsonRpcResponse | JsonRpcResponse[] | undefined;

export interface JsonRpcDispatcherComponents {
  /** The method table. */
  methods: readonly MethodDefinition[];
  /** What every method is called with. */
  context: MethodContext;
  /** Where internal errors of methods are reported (their stack never goes on the wire). */
  logger: Logger;
  /** Told of each request answered (each member of a batch, each notification): metrics and request logs. @default none */
  observer?: RequestObserver;
}

/**
 * Hears of a request once it is answered: `method` is its method if the table has it, else `unknown`; `code` is
 * the error's code (undefined if it succeeded, and for a notification, which has no answer); `startedAt` is
 * `performance.now()` when the dispatcher took it.
 */
export type RequestObserver = (method: string, code: number | undefined, startedAt: number) => void;

export interface JsonRpcDispatcherInit {
  /** Most requests in a batch (`--max-batch`); a longer batch is refused whole. @default DEFAULT_MAX_BATCH */
  maxBatch?: number;
  /**
   * Why a method this table leaves out on purpose is not found here (a `peer.` method on POST `/`): the message of
   * its -32601 error. Undefined for a method not left out. @default none: "Method not found"
   */
  whyNotFound?: (method: string) => string | undefined;
}

/** One member's answer: at once when it is refused before any call, else once its call is done. */
type MemberReply = JsonRpcResponse | Promise<JsonRpcResponse | undefined>;

const NOTHING: Promise<undefined> = Promise.resolve(undefined);

/**
 * JSON-RPC 2.0 for a node, from HTTP and peer streams alike: takes a parsed request or batch, calls the methods
 * and returns the reply; never rejects (every failure is a JSON-RPC error). A request of the everyday shape goes
 * straight to its method, with one promise between the method's and the reply, or none when the method answers
 * at once (a replica call to a store that answers at once); batch members run concurrently and are answered in
 * order. A request object without an `id` member is a notification: it runs and gets no
 * reply, even when it fails. One with `"id": null` is a request, answered with `"id": null`.
 */
export class JsonRpcDispatcher {
  private readonly methods: ReadonlyMap<string, MethodDefinition>;
  private readonly context: MethodContext;
  private readonly log: Logger;
  private readonly maxBatch: number;
  private readonly whyNotFound: (method: string) => string | undefined;
  private readonly observer: RequestObserver | undefined;
  private readonly failed = (id: RequestId, error: unknown): JsonRpcResponse => ({
    jsonrpc: '2.0',
    id,
    error: toRpcError(error, this.log),
  });
  /** A notification's failure: no reply, but an internal error is still logged. */
  private readonly quietly = (error: unknown): undefined => {
    toRpcError(error, this.log);
  };

  constructor(components: JsonRpcDispatcherComponents, init: JsonRpcDispatcherInit = {}) {
    this.methods = new Map(components.methods.map((method) => [method.name, method]));
    this.context = components.context;
    this.log = components.logger;
    this.maxBatch = init.maxBatch ?? DEFAULT_MAX_BATCH;
    this.whyNotFound = init.whyNotFound ?? (() => undefined);
    this.observer = components.observer;
  }

  /**
   * `source` is the body's text, when the request was parsed from one: values are then taken as the text the
   * client sent (see `Params.text`) instead of being stringified again.
   */
  dispatch(request: unknown, source?: RequestSource): Promise<JsonRpcReply> {
    if (!Array.isArray(request)) {
      const answer = this.answer(request, false, source, 0);
      return answer instanceof Promise ? answer : Promise.resolve(answer);
    }
    if (request.length === 0) {
      return Promise.resolve(
        errorReply(ErrorCode.INVALID_REQUEST, 'Expected at least one request in the batch'),
      );
    }
    if (request.length > this.maxBatch) {
      const message = `Batch of ${request.length} requests; the limit is ${this.maxBatch} (--max-batch)`;
      return Promise.resolve(errorReply(ErrorCode.INVALID_REQUEST, message, { limit: this.maxBatch }));
    }
    const answers: MemberReply[] = [];
    for (const [index, item] of request.entries()) answers.push(this.answer(item, true, source, index));
    return Promise.all(answers).then(withoutNotifications);
  }

  /** `answerNow`, its outcome told to the observer. */
  private answer(
    request: unknown,
    inBatch: boolean,
    source: RequestSource | undefined,
    index: number,
  ): MemberReply {
    const observer = this.observer;
    if (observer === undefined) return this.answerNow(request, inBatch, source, index);
    const startedAt = performance.now();
    const reply = this.answerNow(request, inBatch, source, index);
    const name = (request as { method?: unknown } | null)?.method;
    const method = typeof name === 'string' && this.methods.has(name) ? name : 'unknown';
    if (!(reply instanceof Promise)) {
      observer(method, reply.error?.code, startedAt);
      return reply;
    }
    return reply.then((response) => {
      observer(method, response?.error?.code, startedAt);
      return response;
    });
  }

  /** The answer to one request object, checked as JSON-RPC 2.0 §4 has it; `inBatch` only words the errors. */
  private answerNow(
    request: unknown,
    inBatch: boolean,
    source: RequestSource | undefined,
    index: number,
  ): MemberReply {
    if (typeof request !== 'object' || request === null || Array.isArray(request)) {
      return invalid(null, notARequest(request, inBatch));
    }
    const { jsonrpc, id, method, params } = request as Record<string, unknown>;
    if (id !== undefined && id !== null && typeof id !== 'string' && typeof id !== 'number') {
      return invalid(null, 'Expected `id` to be a string, a number or null');
    }
    if (jsonrpc !== '2.0') return invalid(id ?? null, 'Expected `jsonrpc` to be "2.0"');
    if (typeof method !== 'string') return invalid(id ?? null, 'Expected `method` to be a string');
    if (params !== undefined && (typeof params !== 'object' || params === null)) {
      return invalid(id ?? null, 'Expected `params` to be an object or an array');
    }
    const definition = this.methods.get(method);
    if (definition === undefined) {
      if (id === undefined) return NOTHING;
      const message = this.whyNotFound(method) ?? `Method not found: ${quoted(method)}`;
      const error = { code: ErrorCode.METHOD_NOT_FOUND, message };
      return { jsonrpc: '2.0', id, error };
    }
    let answer: unknown;
    try {
      const from = source === undefined ? undefined : { source, index };
      answer = definition.call(normalizeParams(method, params, definition.params, from), this.context);
    } catch (error) {
      if (id !== undefined) return this.failed(id, error);
      this.quietly(error);
      return NOTHING;
    }
    const reply = definition.reply as ((result: unknown) => unknown) | undefined;
    if (!(answer instanceof Promise)) {
      if (id === undefined) return NOTHING;
      return { jsonrpc: '2.0', id, result: reply === undefined ? answer : reply(answer) };
    }
    if (id === undefined) return answer.then(() => undefined, this.quietly);
    return answer.then(
      (result: unknown) => ({ jsonrpc: '2.0', id, result: reply === undefined ? result : reply(result) }),
      (error: unknown) => this.failed(id, error),
    );
  }
}

/** A batch's responses without the notifications' places. */
function withoutNotifications(answers: Array<JsonRpcResponse | undefined>): JsonRpcReply {
  if (!answers.includes(undefined)) return answers as JsonRpcResponse[];
  const responses = answers.filter((answer) => answer !== undefined);
  return responses.length === 0 ? undefined : responses;
}

function notARequest(request: unknown, inBatch: boolean): string {
  if (!inBatch) return 'Expected a JSON-RPC request object or a batch array';
  const got = Array.isArray(request)
    ? 'an array (batches do not nest)'
    : request === null
      ? 'null'
      : typeof request;
  return `Expected each member of a batch to be a request object, got ${got}`;
}

function invalid(id: RequestId, message: string): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error: { code: ErrorCode.INVALID_REQUEST, message } };
}

/** A name from a request as a message shows it: quoted, and cut short. */
function quoted(name: string): string {
  return JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);
}

/** A response about a whole request or batch, whose id could not be known. */
export function errorReply(code: number, message: string, data?: unknown): JsonRpcResponse {
  const error = data === undefined ? { code, message } : { code, message, data };
  return { jsonrpc: '2.0', id: null, error };
}

/** Refuses bytes that are not UTF-8 instead of quietly turning them into U+FFFD. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A request body or a peer-stream frame, parsed, with its text (for `dispatch`); or the -32700 reply that says why
 * it could not be.
 */
export function parseRequest(
  bytes: Uint8Array,
  what: 'body' | 'frame',
): { request: unknown; source: RequestSource } | { error: JsonRpcResponse } {
  try {
    const text = utf8.decode(bytes);
    return { request: JSON.parse(text), source: new RequestSource(text) };
  } catch (error) {
    const reason = error instanceof TypeError ? `the ${what} is not valid UTF-8` : (error as Error).message;
    return { error: errorReply(ErrorCode.PARSE_ERROR, `Parse error: ${reason}`) };
  }
}

/**
 * JSON text of a reply, values (`RawJson`) written as their text; a reply that cannot be serialised becomes an
 * internal error (and is logged). Peer replies, which hold no `RawJson` (a record carries its value's text as a
 * string), take the quicker `JSON.stringify`.
 */
export function replyText(
  reply: JsonRpcReply,
  log: Logger,
  encode: (reply: JsonRpcReply) => string = encodeReply,
): string {
  try {
    return encode(reply);
  } catch (error) {
    log.error(`could not serialise a reply: ${String(error)}`);
    return JSON.stringify(errorReply(ErrorCode.INTERNAL_ERROR, 'Internal error'));
  }
}

/** A reply's text, values written as they are: `encodeJson`, with the envelope of each response written directly. */
function encodeReply(reply: JsonRpcReply): string {
  if (!Array.isArray(reply)) return encodeResponse(reply);
  return `[${reply.map(encodeResponse).join(',')}]`;
}

function encodeResponse(response: JsonRpcResponse | undefined): string {
  if (response === undefined || response.error !== undefined) return encodeJson(response);
  return `{"jsonrpc":"2.0","id":${JSON.stringify(response.id)},"result":${encodeJson(response.result)}}`;
}
