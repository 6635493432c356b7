import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { API_FAMILY_KEY, ApiFamily } from './api-family';
import { dependencyUnavailable, unavailabilityReason } from './dependency-unavailable';
import { DomainError } from './domain-error';
import { RENDERERS } from './error-renderers';
import { RouteRegistry } from './route-registry';
import { unsupportedMediaType } from '../http/body-media-type';
import { ensureRequestId } from '../http/request-id';
import { isTracked } from '../logging/access-log';
import type { IncomingMessage } from 'node:http';

/** A request body that does not parse as JSON, whichever parser (body-parser, the Fastify adapter's) found it. */
export const INVALID_JSON_BODY = () =>
  new DomainError('INVALID_ARGUMENT', undefined, 'request body is not valid JSON');

/**
 * The one place errors become HTTP. Domain errors keep their kind; framework errors (unknown route,
 * malformed JSON, oversize body) are translated to a kind; anything else is a generic 500 whose
 * stack goes to the log only. The body format is the API family of the route.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('ExceptionFilter');

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly reflector: Reflector,
    private readonly routes: RouteRegistry,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<{
      method: string;
      url: string;
      originalUrl?: string;
      raw?: unknown;
    }>();
    const res = http.getResponse<unknown>();
    const adapter = this.adapterHost.httpAdapter;
    const url: string = req.originalUrl ?? req.url ?? '/';
    const path = url.split('?')[0];
    const err = this.toDomainError(exception, req.method, path);
    const family = this.familyOf(host, path);
    const requestId = ensureRequestId(req, res);
    if (adapter.isHeadersSent(res)) {
      // The request's deadline answered already (503); what its work ran into later has no one to go to.
      this.logger.debug({ requestId, err: safeMessage(exception) }, 'error after the answer was sent');
      return;
    }

    const unavailable = exception instanceof DomainError ? undefined : unavailabilityReason(exception);
    if (unavailable) {
      this.logger.warn({ requestId, reason: unavailable }, 'database unavailable');
    } else if (err.kind === 'INTERNAL') {
      const stack = exception instanceof Error ? exception.stack : String(exception);
      this.logger.error({ requestId, err: { message: safeMessage(exception), stack } }, 'unexpected error');
    } else if (!isTracked((req.raw ?? req) as IncomingMessage)) {
      // Rejected before the access log took the request (malformed JSON, oversize body): no access line follows.
      this.logger.log({ requestId, method: req.method, path, statusCode: err.status }, 'request rejected');
    }
    const body = RENDERERS[family](err, { requestId, path, now: new Date() });
    for (const [name, value] of Object.entries(err.options.headers ?? {}))
      adapter.setHeader(res, name, value);
    if (err.options.retryAfterSeconds !== undefined) {
      adapter.setHeader(res, 'Retry-After', String(Math.max(1, Math.ceil(err.options.retryAfterSeconds))));
    }
    if (err.kind === 'METHOD_NOT_ALLOWED') {
      adapter.setHeader(res, 'Allow', this.routes.allowedMethods(path).join(', '));
    }
    adapter.reply(res, body, err.status);
  }

  private familyOf(host: ArgumentsHost, path: string): ApiFamily {
    const ctx = host as unknown as { getClass?: () => unknown; getHandler?: () => unknown };
    const cls = typeof ctx.getClass === 'function' ? (ctx.getClass() as object | undefined) : undefined;
    const handler =
      typeof ctx.getHandler === 'function' ? (ctx.getHandler() as object | undefined) : undefined;
    const targets = [handler, cls].filter((t): t is object => typeof t === 'function');
    const fromMeta = targets.length
      ? this.reflector.getAllAndOverride<ApiFamily | undefined>(API_FAMILY_KEY, targets as never)
      : undefined;
    return fromMeta ?? this.routes.familyOf(path);
  }

  private toDomainError(exception: unknown, method: string, path: string): DomainError {
    if (exception instanceof DomainError) return exception;
    const bodyErr = bodyParserError(exception);
    if (bodyErr) return bodyErr;
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      if (status === HttpStatus.NOT_FOUND) {
        const allowed = this.routes.allowedMethods(path);
        if (allowed.length > 0 && !allowed.includes(method.toUpperCase())) {
          return new DomainError('METHOD_NOT_ALLOWED', undefined, 'Method Not Allowed');
        }
        return new DomainError('NOT_FOUND', undefined, 'Not Found');
      }
      const cause = (exception as { cause?: unknown }).cause;
      const nested = bodyParserError(cause);
      if (nested) return nested;
      if (status === HttpStatus.PAYLOAD_TOO_LARGE) {
        return new DomainError('PAYLOAD_TOO_LARGE', undefined, 'request body too large');
      }
      if (status === HttpStatus.BAD_REQUEST) {
        // Nest turns body-parser's SyntaxError (and Express' URIError) into a bare BadRequestException.
        const text = exception.message;
        if (/JSON|Unexpected (token|end|non-whitespace)|position \d+/i.test(text)) {
          return INVALID_JSON_BODY();
        }
        return new DomainError('INVALID_ARGUMENT', undefined, 'invalid request');
      }
      if (status === HttpStatus.UNSUPPORTED_MEDIA_TYPE) {
        return unsupportedMediaType();
      }
    }
    return (
      dependencyUnavailable(exception) ??
      new DomainError('INTERNAL', undefined, 'An internal error occurred', { cause: exception })
    );
  }
}

/** body-parser signals its failures with `type` and `status`; translate without echoing raw input. */
function bodyParserError(e: unknown): DomainError | undefined {
  if (!e || typeof e !== 'object') return undefined;
  const type = (e as { type?: unknown }).type;
  switch (type) {
    case 'entity.parse.failed':
      return INVALID_JSON_BODY();
    case 'entity.too.large':
      return new DomainError('PAYLOAD_TOO_LARGE', undefined, 'request body too large');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new DomainError('UNSUPPORTED_MEDIA_TYPE', undefined, 'unsupported content encoding or charset');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new DomainError('INVALID_ARGUMENT', undefined, 'request body could not be read');
    default:
      return undefined;
  }
}

function safeMessage(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}`.slice(0, 500) : 'non-error thrown';
}
