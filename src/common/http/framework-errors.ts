import { INestApplication } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AllExceptionsFilter } from '../errors/all-exceptions.filter';
import { DomainError } from '../errors/domain-error';
import { renderZitadel } from '../errors/error-renderers';
import { RouteRegistry } from '../errors/route-registry';
import { MALFORMED_PATH, PATH_PARAMETER_TOO_LONG } from './input-screen';
import { REQUEST_ID_HEADER } from './request-id';

type Render = (error: unknown, req: unknown, res: unknown) => void;

/** Per HTTP server instance: its app's exception filter, once the app exists. */
const renderers = new WeakMap<object, Render>();

/**
 * Lets errors the HTTP platform raises outside Nest's request pipeline (Fastify's router: a path it
 * cannot decode, an over-long parameter) be answered by the app's one exception filter, in the
 * route family's format with a request id, like every other error.
 */
export function renderFrameworkErrorsWith(app: INestApplication): void {
  let filter: AllExceptionsFilter | undefined;
  renderers.set(app.getHttpAdapter().getInstance() as object, (error, req, res) => {
    filter ??= new AllExceptionsFilter(app.get(HttpAdapterHost), app.get(Reflector), app.get(RouteRegistry));
    filter.catch(error, new ExecutionContextHost([req, res]));
  });
}

/** Fastify's `frameworkErrors`: errors its router raises before any hook or handler runs. */
export function fastifyFrameworkErrors(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  // the onRequest hook that sets it has not run
  reply.header(REQUEST_ID_HEADER, request.id);
  const err = fromFastify(error);
  const render = renderers.get(request.server);
  if (render) return render(err, request, reply);
  // no app registered its filter (not configured through bootstrap): the ZITADEL format at least
  void reply.code(err.status).send(renderZitadel(err));
}

function fromFastify(error: FastifyError): DomainError {
  switch (error.code) {
    case 'FST_ERR_BAD_URL':
      return MALFORMED_PATH();
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return PATH_PARAMETER_TOO_LONG();
    default:
      return new DomainError('INTERNAL', undefined, 'An internal error occurred', { cause: error });
  }
}
