import { ErrorCode, InvalidParamsError } from '@kvdb/core';
import { expect } from 'chai';
import { JsonRpcDispatcher, type JsonRpcReply, parseRequest } from '../src/json-rpc.js';
import type { MethodContext, MethodDefinition } from '../src/methods/index.js';
import { warnings } from './utils/node-harness.js';

/** The methods of the examples in JSON-RPC 2.0 §7, as kvdb defines methods; `calls` records every call made. */
function exampleMethods(calls: string[]): MethodDefinition[] {
  const numbers = (values: unknown[]) => values.map((value) => value as number);
  const define = (
    name: string,
    params: string[],
    body: (values: unknown[]) => unknown,
  ): MethodDefinition => ({
    name,
    params,
    call: async (given) => {
      calls.push(name);
      return body(params.map((param) => given.get(param)));
    },
  });
  return [
    define('subtract', ['minuend', 'subtrahend'], (values) => {
      const [minuend = 0, subtrahend = 0] = numbers(values);
      return minuend - subtrahend;
    }),
    define('sum', ['a', 'b', 'c'], (values) => numbers(values).reduce((sum, value) => sum + value, 0)),
    define('update', ['a', 'b', 'c', 'd', 'e'], () => null),
    define('notify_hello', ['n'], () => null),
    define('notify_sum', ['a', 'b', 'c'], () => null),
    define('get_data', [], () => ['hello', 5]),
    define('ping', [], () => 'pong'),
    define('fails', [], () => {
      throw new InvalidParamsError('no such thing', { data: { why: 'test' } });
    }),
    define('crashes', [], () => {
      throw new Error('a bug');
    }),
    {
      name: 'answers_at_once',
      params: [],
      call: () => {
        calls.push('answers_at_once');
        return { at: 'once' };
      },
    },
    {
      name: 'throws_at_once',
      params: [],
      call: () => {
        throw new InvalidParamsError('thrown before any promise');
      },
    },
  ];
}

describe('JsonRpcDispatcher', () => {
  let calls: string[];
  let log: ReturnType<typeof warnings> & { errors: string[] };
  let dispatcher: JsonRpcDispatcher;

  beforeEach(() => {
    calls = [];
    const errors: string[] = [];
    log = Object.assign(warnings(), { errors, error: (line: string) => errors.push(line) });
    dispatcher = new JsonRpcDispatcher(
      { methods: exampleMethods(calls), context: {} as MethodContext, logger: log },
      { maxBatch: 10 },
    );
  });

  /** The reply to a request given as JSON text, as a node would parse and answer it. */
  async function answer(text: string): Promise<JsonRpcReply> {
    const parsed = parseRequest(Buffer.from(text), 'body');
    return 'error' in parsed ? parsed.error : dispatcher.dispatch(parsed.request, parsed.source);
  }

  describe('the examples of JSON-RPC 2.0 §7', () => {
    it('rpc call with positional parameters', async () => {
      expect(
        await answer('{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}'),
      ).to.deep.equal({
        jsonrpc: '2.0',
        result: 19,
        id: 1,
      });
      expect(
        await answer('{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}'),
      ).to.deep.equal({
        jsonrpc: '2.0',
        result: -19,
        id: 2,
      });
    });

    it('rpc call with named parameters', async () => {
      expect(
        await answer(
          '{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}',
        ),
      ).to.deep.equal({ jsonrpc: '2.0', result: 19, id: 3 });
      expect(
        await answer(
          '{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}',
        ),
      ).to.deep.equal({ jsonrpc: '2.0', result: 19, id: 4 });
    });

    it('a notification: run, and not answered', async () => {
      expect(await answer('{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}')).to.equal(
        undefined,
      );
      expect(await answer('{"jsonrpc": "2.0", "method": "foobar"}')).to.equal(undefined);
      expect(calls, 'foobar does not exist: nothing ran, nothing answered').to.deep.equal(['update']);
    });

    it('rpc call of non-existent method', async () => {
      expect(await answer('{"jsonrpc": "2.0", "method": "foobar", "id": "1"}')).to.deep.equal({
        jsonrpc: '2.0',
        error: { code: -32601, message: 'Method not found: "foobar"' },
        id: '1',
      });
    });

    it('rpc call with invalid JSON', async () => {
      const reply = await answer('{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]');
      expect(reply).to.deep.include({ jsonrpc: '2.0', id: null });
      expect((reply as { error: { code: number } }).error.code).to.equal(-32700);
    });

    it('rpc call with invalid Request object', async () => {
      expect(await answer('{"jsonrpc": "2.0", "method": 1, "params": "bar"}')).to.deep.equal({
        jsonrpc: '2.0',
        error: { code: -32600, message: 'Expected `method` to be a string' },
        id: null,
      });
    });

    it('rpc call Batch, invalid JSON', async () => {
      const reply = await answer(
        '[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"}, {"jsonrpc": "2.0", "method"]',
      );
      expect(reply).to.not.be.an('array');
      expect(reply).to.deep.include({ jsonrpc: '2.0', id: null });
      expect((reply as { error: { code: number } }).error.code).to.equal(-32700);
      expect(calls).to.deep.equal([]);
    });

    it('rpc call with an empty Array: one error, not a batch', async () => {
      expect(await answer('[]')).to.deep.equal({
        jsonrpc: '2.0',
        error: { code: -32600, message: 'Expected at least one request in the batch' },
        id: null,
      });
    });

    it('rpc call with an invalid Batch (but not empty)', async () => {
      expect(await answer('[1]')).to.deep.equal([
        {
          jsonrpc: '2.0',
          error: {
            code: -32600,
            message: 'Expected each member of a batch to be a request object, got number',
          },
          id: null,
        },
      ]);
    });

    it('rpc call with invalid Batch', async () => {
      const reply = (await answer('[1,2,3]')) as Array<{ id: unknown; error: { code: number } }>;
      expect(reply.map(({ id, error }) => [id, error.code])).to.deep.equal([
        [null, -32600],
        [null, -32600],
        [null, -32600],
      ]);
    });

    it('rpc call Batch', async () => {
      const reply = await answer(`[
        {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
        {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
        {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
      ]`);
      expect(reply).to.deep.equal([
        { jsonrpc: '2.0', result: 7, id: '1' },
        { jsonrpc: '2.0', result: 19, id: '2' },
        { jsonrpc: '2.0', error: { code: -32600, message: 'Expected `jsonrpc` to be "2.0"' }, id: null },
        { jsonrpc: '2.0', error: { code: -32601, message: 'Method not found: "foo.get"' }, id: '5' },
        { jsonrpc: '2.0', result: ['hello', 5], id: '9' },
      ]);
      expect(calls).to.have.members(['sum', 'notify_hello', 'subtract', 'get_data']);
    });

    it('rpc call Batch (all notifications): nothing returned', async () => {
      const reply = await answer(`[
        {"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}
      ]`);
      expect(reply).to.equal(undefined);
      expect(calls).to.deep.equal(['notify_sum', 'notify_hello']);
    });
  });

  describe('id null is a request, not a notification', () => {
    it('is answered with id null, alone and in a batch', async () => {
      expect(await answer('{"jsonrpc":"2.0","id":null,"method":"ping"}')).to.deep.equal({
        jsonrpc: '2.0',
        id: null,
        result: 'pong',
      });
      expect(
        await answer(
          '[{"jsonrpc":"2.0","id":null,"method":"ping"},{"jsonrpc":"2.0","id":1,"method":"ping"}]',
        ),
      ).to.deep.equal([
        { jsonrpc: '2.0', id: null, result: 'pong' },
        { jsonrpc: '2.0', id: 1, result: 'pong' },
      ]);
    });

    it('gets its error answered too, where a notification’s is not', async () => {
      expect(await answer('{"jsonrpc":"2.0","id":null,"method":"nope"}')).to.deep.include({
        id: null,
        error: { code: -32601, message: 'Method not found: "nope"' },
      });
      expect(await answer('{"jsonrpc":"2.0","method":"nope"}')).to.equal(undefined);
      expect(await answer('{"jsonrpc":"2.0","method":"fails"}')).to.equal(undefined);
      expect(await answer('{"jsonrpc":"2.0","method":"throws_at_once"}')).to.equal(undefined);
    });
  });

  describe('nested batches', () => {
    it('answer a batch inside a batch with a -32600 entry', async () => {
      expect(await answer('[[{"jsonrpc":"2.0","id":1,"method":"ping"}]]')).to.deep.equal([
        {
          jsonrpc: '2.0',
          id: null,
          error: {
            code: -32600,
            message:
              'Expected each member of a batch to be a request object, got an array (batches do not nest)',
          },
        },
      ]);
      expect(calls, 'the nested request did not run').to.deep.equal([]);
    });

    it('answer the valid members beside an invalid one, in order', async () => {
      const reply = (await answer('[{"jsonrpc":"2.0","id":1,"method":"ping"},[1],2]')) as Array<{
        id: unknown;
        result?: unknown;
        error?: { code: number };
      }>;
      expect(reply.map(({ id, result, error }) => [id, result ?? error?.code])).to.deep.equal([
        [1, 'pong'],
        [null, -32600],
        [null, -32600],
      ]);
    });
  });

  describe('invalid requests', () => {
    const cases: Array<[string, string]> = [
      ['42', 'Expected a JSON-RPC request object or a batch array'],
      ['"text"', 'Expected a JSON-RPC request object or a batch array'],
      ['null', 'Expected a JSON-RPC request object or a batch array'],
      ['{"foo": 1}', 'Expected `jsonrpc` to be "2.0"'],
      ['{"jsonrpc":"1.0","id":1,"method":"ping"}', 'Expected `jsonrpc` to be "2.0"'],
      ['{"jsonrpc":"2.0","id":1,"method":5}', 'Expected `method` to be a string'],
      [
        '{"jsonrpc":"2.0","id":1,"method":"ping","params":"not structured"}',
        'Expected `params` to be an object or an array',
      ],
      [
        '{"jsonrpc":"2.0","id":1,"method":"ping","params":null}',
        'Expected `params` to be an object or an array',
      ],
      ['{"jsonrpc":"2.0","id":{},"method":"ping"}', 'Expected `id` to be a string, a number or null'],
      ['{"jsonrpc":"2.0","id":[1],"method":"ping"}', 'Expected `id` to be a string, a number or null'],
      ['{"jsonrpc":"2.0","id":true,"method":"ping"}', 'Expected `id` to be a string, a number or null'],
    ];
    for (const [text, message] of cases) {
      it(`-32600 for ${text}`, async () => {
        const reply = (await answer(text)) as { id: unknown; error: { code: number; message: string } };
        expect(reply.error).to.deep.equal({ code: ErrorCode.INVALID_REQUEST, message });
        expect(calls).to.deep.equal([]);
      });
    }

    it('keeps the id of an invalid request when it has a valid one, to match it in a batch', async () => {
      expect(await answer('{"jsonrpc":"2.0","id":"a","method":"ping","params":3}')).to.deep.include({
        id: 'a',
      });
      expect(
        await answer('{"jsonrpc":"2.0","method":"ping","params":3}'),
        'answered, not a notification',
      ).to.deep.include({ id: null });
    });

    it('refuses a batch over the limit whole, naming the limit', async () => {
      const batch = JSON.stringify(
        Array.from({ length: 11 }, (_, id) => ({ jsonrpc: '2.0', id, method: 'ping' })),
      );
      expect(await answer(batch)).to.deep.equal({
        jsonrpc: '2.0',
        id: null,
        error: {
          code: -32600,
          message: 'Batch of 11 requests; the limit is 10 (--max-batch)',
          data: { limit: 10 },
        },
      });
      expect(calls).to.deep.equal([]);
    });

    it('answers -32601 for a name on the object prototype', async () => {
      expect(await answer('{"jsonrpc":"2.0","id":1,"method":"__proto__"}')).to.deep.include({
        error: { code: -32601, message: 'Method not found: "__proto__"' },
      });
      expect(await answer('{"jsonrpc":"2.0","id":1,"method":"toString"}')).to.deep.include({ id: 1 });
    });
  });

  describe('a method that answers at once, without a promise', () => {
    it('is answered alone and in a batch, and runs as a notification without a reply', async () => {
      expect(await answer('{"jsonrpc":"2.0","id":1,"method":"answers_at_once"}')).to.deep.equal({
        jsonrpc: '2.0',
        id: 1,
        result: { at: 'once' },
      });
      expect(
        await answer(
          '[{"jsonrpc":"2.0","id":2,"method":"answers_at_once"},{"jsonrpc":"2.0","method":"answers_at_once"}]',
        ),
      ).to.deep.equal([{ jsonrpc: '2.0', id: 2, result: { at: 'once' } }]);
      expect(await answer('{"jsonrpc":"2.0","method":"answers_at_once"}')).to.equal(undefined);
      expect(calls).to.deep.equal([
        'answers_at_once',
        'answers_at_once',
        'answers_at_once',
        'answers_at_once',
      ]);
    });
  });

  describe('method errors', () => {
    it('go back as their KVError, thrown at once or rejected', async () => {
      expect(await answer('{"jsonrpc":"2.0","id":1,"method":"fails"}')).to.deep.equal({
        jsonrpc: '2.0',
        id: 1,
        error: { code: ErrorCode.INVALID_PARAMS, message: 'no such thing', data: { why: 'test' } },
      });
      expect(await answer('{"jsonrpc":"2.0","id":2,"method":"throws_at_once"}')).to.deep.equal({
        jsonrpc: '2.0',
        id: 2,
        error: { code: ErrorCode.INVALID_PARAMS, message: 'thrown before any promise' },
      });
    });

    it('-32602 for params the method does not take', async () => {
      const reply = (await answer('{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}')) as {
        error: { code: number; message: string };
      };
      expect(reply.error).to.deep.equal({
        code: ErrorCode.INVALID_PARAMS,
        message: '`ping` takes at most 0 positional params (none), got 1',
      });
    });

    it('an unexpected error is an internal error, logged with its stack and never sent', async () => {
      expect(await answer('{"jsonrpc":"2.0","id":1,"method":"crashes"}')).to.deep.equal({
        jsonrpc: '2.0',
        id: 1,
        error: { code: ErrorCode.INTERNAL_ERROR, message: 'Internal error' },
      });
      expect(await answer('{"jsonrpc":"2.0","method":"crashes"}')).to.equal(undefined);
      expect(log.errors).to.have.length(2);
      expect(log.errors[0]).to.match(/^internal error: Error: a bug\n\s+at /);
    });
  });
});
