import { Code, ConnectError } from '@connectrpc/connect';
import { DomainError, Errors } from '../common/errors/domain-error';
import { toConnectError } from './rpc-errors';
import { message } from './zitadel-proto';

describe('toConnectError', () => {
  it('a domain error: the gRPC code of its kind, "<text> (<id>)" and a zitadel.v1.ErrorDetail', () => {
    const e = toConnectError(Errors.invalidArgument('EVENT-8isk2', 'Invalid code'), 'req-1');
    expect(e.code).toBe(Code.InvalidArgument);
    expect(e.rawMessage).toBe('Invalid code (EVENT-8isk2)');
    expect(e.findDetails(message.ErrorDetailSchema)).toEqual([
      expect.objectContaining({ id: 'EVENT-8isk2', message: 'Invalid code' }),
    ]);
  });

  it.each([
    ['UNAUTHENTICATED', Code.Unauthenticated],
    ['PERMISSION_DENIED', Code.PermissionDenied],
    ['NOT_FOUND', Code.NotFound],
    ['ALREADY_EXISTS', Code.AlreadyExists],
    ['FAILED_PRECONDITION', Code.FailedPrecondition],
    ['RESOURCE_EXHAUSTED', Code.ResourceExhausted],
    ['UNAVAILABLE', Code.Unavailable],
  ] as const)('%s → %s', (kind, code) => {
    expect(toConnectError(new DomainError(kind, 'X-1', 'text'), 'r').code).toBe(code);
  });

  it('without an id: the text alone and no details; Retry-After as metadata', () => {
    const e = toConnectError(
      Errors.resourceExhausted(undefined, 'Too many', { retryAfterSeconds: 2.2 }),
      'r',
    );
    expect(e.rawMessage).toBe('Too many');
    expect(e.details).toEqual([]);
    expect(e.metadata.get('retry-after')).toBe('3');
  });

  it('anything else: a generic Internal, never its message', () => {
    const e = toConnectError(new Error('SQLITE secret driver text'), 'r');
    expect(e.code).toBe(Code.Internal);
    expect(e.rawMessage).toBe('An internal error occurred');
  });

  it('a ConnectError passes unchanged', () => {
    const original = new ConnectError('x', Code.Unimplemented);
    expect(toConnectError(original, 'r')).toBe(original);
  });
});
