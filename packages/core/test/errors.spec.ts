import { expect } from 'chai';
import {
  ConnectionError,
  DataDirError,
  ErrorCode,
  errorFromRpc,
  InternalError,
  InvalidParamsError,
  InvalidRequestError,
  KVError,
  MethodNotFoundError,
  OutcomeUnknownError,
  ParseError,
  type QuorumFailure,
  QuorumNotReachedError,
  reasonOf,
  TimeoutError,
  TooLargeError,
  UnauthorizedError,
  UnavailableError,
  UsageError,
} from '../src/errors.js';

const classes: Array<[typeof KVError, string, number]> = [
  [ParseError, 'ParseError', ErrorCode.PARSE_ERROR],
  [InvalidRequestError, 'InvalidRequestError', ErrorCode.INVALID_REQUEST],
  [MethodNotFoundError, 'MethodNotFoundError', ErrorCode.METHOD_NOT_FOUND],
  [InvalidParamsError, 'InvalidParamsError', ErrorCode.INVALID_PARAMS],
  [InternalError, 'InternalError', ErrorCode.INTERNAL_ERROR],
  [QuorumNotReachedError, 'QuorumNotReachedError', ErrorCode.QUORUM_NOT_REACHED],
  [TimeoutError, 'TimeoutError', ErrorCode.TIMEOUT],
  [UnavailableError, 'UnavailableError', ErrorCode.UNAVAILABLE],
  [UnauthorizedError, 'UnauthorizedError', ErrorCode.UNAUTHORIZED],
  [TooLargeError, 'TooLargeError', ErrorCode.TOO_LARGE],
  [ConnectionError, 'ConnectionError', ErrorCode.CONNECTION_FAILED],
  [DataDirError, 'DataDirError', ErrorCode.DATA_DIR],
  [OutcomeUnknownError, 'OutcomeUnknownError', ErrorCode.OUTCOME_UNKNOWN],
  [UsageError, 'UsageError', ErrorCode.USAGE],
];
/** Raised by the tools only, never sent on the wire: `errorFromRpc` does not rebuild them. */
const localOnly = new Set<typeof KVError>([DataDirError, UsageError]);

describe('errors', () => {
  it('uses the JSON-RPC 2.0 codes for protocol faults and distinct codes outside the reserved range otherwise', () => {
    expect(ErrorCode.PARSE_ERROR).to.equal(-32700);
    expect(ErrorCode.INVALID_REQUEST).to.equal(-32600);
    expect(ErrorCode.METHOD_NOT_FOUND).to.equal(-32601);
    expect(ErrorCode.INVALID_PARAMS).to.equal(-32602);
    expect(ErrorCode.INTERNAL_ERROR).to.equal(-32603);
    const codes = Object.values(ErrorCode);
    expect(new Set(codes).size).to.equal(codes.length);
    for (const code of codes) {
      expect(Number.isInteger(code)).to.equal(true);
      if (code > -32000 || code < -32768) expect(code).to.be.greaterThan(0);
    }
  });

  it('covers every ErrorCode with a class', () => {
    expect(classes.map(([, , code]) => code).sort()).to.deep.equal(Object.values(ErrorCode).sort());
  });

  describe('KVError', () => {
    it('defaults to the internal error code', () => {
      const error = new KVError('boom');
      expect(error).to.be.instanceOf(Error);
      expect(error.name).to.equal('KVError');
      expect(error.code).to.equal(ErrorCode.INTERNAL_ERROR);
      expect(error.message).to.equal('boom');
      expect(error.data).to.equal(undefined);
    });

    it('takes an explicit code, data and cause', () => {
      const cause = new Error('root');
      const error = new KVError('boom', { code: 4242, data: { a: 1 }, cause });
      expect(error.code).to.equal(4242);
      expect(error.data).to.deep.equal({ a: 1 });
      expect(error.cause).to.equal(cause);
    });

    it('has no cause unless given one', () => {
      expect(Object.hasOwn(new KVError('boom'), 'cause')).to.equal(false);
    });
  });

  for (const [Cls, name, code] of classes) {
    describe(name, () => {
      it(`has name ${name} and code ${code}`, () => {
        const error = new Cls('message', { data: { detail: true } });
        expect(error).to.be.instanceOf(Cls).and.instanceOf(KVError).and.instanceOf(Error);
        expect(error.name).to.equal(name);
        expect(error.code).to.equal(code);
        expect(Cls.code).to.equal(code);
        expect(error.message).to.equal('message');
        expect(error.data).to.deep.equal({ detail: true });
        expect(String(error)).to.equal(`${name}: message`);
      });

      it(
        localOnly.has(Cls) ? 'is not rebuilt from the wire' : 'is rebuilt from its JSON-RPC error object',
        () => {
          const original = new Cls('went wrong', { data: { key: 'k', n: [1, 2] } });
          const wire = JSON.parse(JSON.stringify(original)) as {
            code: number;
            message: string;
            data?: unknown;
          };
          const rebuilt = errorFromRpc(wire);
          if (localOnly.has(Cls)) {
            expect(rebuilt).to.be.instanceOf(KVError).and.not.instanceOf(Cls);
            return;
          }
          expect(rebuilt).to.be.instanceOf(Cls).and.instanceOf(KVError);
          expect(rebuilt.name).to.equal(name);
          expect(rebuilt.code).to.equal(code);
          expect(rebuilt.message).to.equal('went wrong');
          expect(rebuilt.data).to.deep.equal({ key: 'k', n: [1, 2] });
        },
      );
    });
  }

  describe('errorFromRpc', () => {
    it('rebuilds without data', () => {
      const rebuilt = errorFromRpc({ code: ErrorCode.TIMEOUT, message: 'slow' });
      expect(rebuilt).to.be.instanceOf(TimeoutError);
      expect(rebuilt.data).to.equal(undefined);
      expect(rebuilt.toJSON()).to.deep.equal({ code: ErrorCode.TIMEOUT, message: 'slow' });
    });

    it('gives a plain KVError with the same code for an unknown code', () => {
      const rebuilt = errorFromRpc({ code: 4242, message: 'odd', data: [1] });
      expect(rebuilt.constructor).to.equal(KVError);
      expect(rebuilt.name).to.equal('KVError');
      expect(rebuilt.code).to.equal(4242);
      expect(rebuilt.message).to.equal('odd');
      expect(rebuilt.data).to.deep.equal([1]);
    });

    it('maps the internal error code to InternalError', () => {
      expect(errorFromRpc({ code: ErrorCode.INTERNAL_ERROR, message: 'x' })).to.be.instanceOf(InternalError);
    });
  });

  describe('toJSON', () => {
    it('gives {code, message, data} when there is data', () => {
      const error = new UnavailableError('down', { data: { node: 'n1' } });
      expect(error.toJSON()).to.deep.equal({
        code: ErrorCode.UNAVAILABLE,
        message: 'down',
        data: { node: 'n1' },
      });
      expect(JSON.parse(JSON.stringify(error))).to.deep.equal(error.toJSON());
    });

    it('leaves data out when there is none, and never includes the cause or stack', () => {
      const json = new TooLargeError('big', { cause: new Error('root') }).toJSON();
      expect(json).to.deep.equal({ code: ErrorCode.TOO_LARGE, message: 'big' });
      expect(Object.keys(json)).to.deep.equal(['code', 'message']);
    });

    it('keeps falsy data such as null and 0', () => {
      expect(new KVError('x', { data: null }).toJSON()).to.deep.equal({
        code: ErrorCode.INTERNAL_ERROR,
        message: 'x',
        data: null,
      });
      expect(new KVError('x', { data: 0 }).toJSON()).to.have.property('data', 0);
    });
  });

  describe('QuorumNotReachedError.fromFailure', () => {
    const failure: QuorumFailure = {
      operation: 'set',
      key: 'user:42',
      required: 2,
      acked: 1,
      replicas: ['10.0.0.1:5878', '10.0.0.2:5878', '10.0.0.3:5878'],
      failed: [{ replica: '10.0.0.2:5878', reason: 'connection refused' }],
      timedOut: false,
    };

    it('names the operation, key, acked and required counts, and replicas', () => {
      const error = QuorumNotReachedError.fromFailure(failure);
      expect(error).to.be.instanceOf(QuorumNotReachedError);
      expect(error.code).to.equal(ErrorCode.QUORUM_NOT_REACHED);
      expect(error.message).to.equal(
        'set "user:42" failed: 1 of 2 required replicas answered (replicas: 10.0.0.1:5878, 10.0.0.2:5878, 10.0.0.3:5878)',
      );
      expect(error.data).to.deep.equal(failure);
    });

    it('says it timed out, and leaves the key out when there is none', () => {
      const { key: _key, ...withoutKey } = failure;
      const error = QuorumNotReachedError.fromFailure({
        ...withoutKey,
        operation: 'list_keys',
        timedOut: true,
        acked: 0,
      });
      expect(error.message).to.match(/^list_keys timed out: 0 of 2 required/);
      expect(error.message).to.not.include('undefined');
    });

    it('survives the wire', () => {
      const rebuilt = errorFromRpc(JSON.parse(JSON.stringify(QuorumNotReachedError.fromFailure(failure))));
      expect(rebuilt).to.be.instanceOf(QuorumNotReachedError);
      expect(rebuilt.data).to.deep.equal(failure);
    });
  });

  describe('reasonOf', () => {
    it('gives the message of an Error, or its name when the message is empty', () => {
      expect(reasonOf(new TimeoutError('slow'))).to.equal('slow');
      expect(reasonOf(new TypeError(''))).to.equal('TypeError');
    });

    it('stringifies anything else', () => {
      expect(reasonOf('plain')).to.equal('plain');
      expect(reasonOf(42)).to.equal('42');
      expect(reasonOf(undefined)).to.equal('undefined');
    });
  });
});
