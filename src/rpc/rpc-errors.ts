import { Code, ConnectError } from '@connectrpc/connect';
import { Logger } from '@nestjs/common';
import { dependencyUnavailable } from '../common/errors/dependency-unavailable';
import { DomainError, GRPC_CODE } from '../common/errors/domain-error';
import { message } from './zitadel-proto';

const logger = new Logger('Rpc');

/**
 * A DomainError as ZITADEL sends it over gRPC: the status code of its kind (the table the REST
 * bodies use), the message `"<text> (<id>)"`, and a `zitadel.v1.ErrorDetail {id, message}` in the
 * status details. Errors that are not domain errors become what the REST filter makes of them:
 * Unavailable for a database that does not answer, else a generic Internal (the stack goes to the
 * log, never to the caller).
 */
export function toConnectError(err: unknown, requestId: string): ConnectError {
  if (err instanceof ConnectError) return err;
  let domain = err instanceof DomainError ? err : dependencyUnavailable(err);
  if (!domain) {
    const stack = err instanceof Error ? err.stack : String(err);
    logger.error({ requestId, err: { stack } }, 'unexpected error');
    domain = new DomainError('INTERNAL', undefined, 'An internal error occurred');
  }
  const code = GRPC_CODE[domain.kind] as Code;
  // Retry-After travels as response metadata, as the REST answer's header.
  const metadata = new Headers();
  if (domain.options.retryAfterSeconds !== undefined)
    metadata.set('retry-after', String(Math.max(1, Math.ceil(domain.options.retryAfterSeconds))));
  if (!domain.id) return new ConnectError(domain.message, code, metadata);
  return new ConnectError(`${domain.message} (${domain.id})`, code, metadata, [
    { desc: message.ErrorDetailSchema, value: { id: domain.id, message: domain.message } },
  ]);
}
