import { INestApplication, LoggerService } from '@nestjs/common';
import { AbstractHttpAdapter } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppConfig } from './common/config/app-config';
import { INVALID_JSON_BODY } from './common/errors/all-exceptions.filter';
import { assignRequestId, REQUEST_ID_HEADER, requestIdFromHeaders } from './common/http/request-id';
import { buildOpenApiDocument } from './common/openapi/openapi';

interface BodyParserApp {
  useBodyParser(type: string, options: Record<string, unknown>): void;
}

/**
 * Everything main.ts and the e2e tests both do to an app before it listens: request ids, body parsing
 * limits, the OpenAPI document and Swagger UI. (Pipes, guards and filters are providers in AppModule,
 * so tests get them without calling this; graceful shutdown is main.ts' business, see
 * enableGracefulShutdown.)
 */
export function configureApp(app: INestApplication, config: AppConfig): void {
  configureHttp(app, config);
  serveApiDocs(app);
}

/**
 * The Nest HTTP platform named by HTTP_ADAPTER. Express is the default; Fastify answers the same
 * routes with the same bodies and errors at less framework cost per request. Bootstrap is the only
 * place that knows which one runs.
 */
export function createHttpAdapter(config: AppConfig): AbstractHttpAdapter {
  if (config.httpAdapter === 'express') return new ExpressAdapter();
  return new FastifyAdapter({
    bodyLimit: config.bodyLimitBytes,
    // As Express: "/path/" finds "/path".
    routerOptions: { ignoreTrailingSlash: true },
    // The request id is assigned before anything else runs, kept on the raw request for pino-http.
    genReqId: (req: unknown) => {
      const raw = req as IncomingMessage & { id?: unknown };
      const id = requestIdFromHeaders(raw);
      raw.id = id;
      return id;
    },
    logger: false,
  });
}

/**
 * The request pipeline ahead of Nest's own middleware: request ids first (so errors the body parser
 * raises – malformed JSON, oversize body – carry it in the header and the error body too), then body
 * parsing with the size limit.
 */
export function configureHttp(app: INestApplication, config: AppConfig): void {
  const instance: unknown = app.getHttpAdapter().getInstance();
  if (config.httpAdapter === 'fastify') configureFastify(instance as FastifyInstance, config);
  else configureExpress(app, instance as { set(k: string, v: unknown): void }, config);
}

function configureExpress(app: INestApplication, express: { set(k: string, v: unknown): void }, config: AppConfig): void {
  // API answers are not cached by clients, so hashing every body for an ETag is wasted work, and
  // X-Powered-By only advertises.
  express.set('etag', false);
  express.set('x-powered-by', false);
  app.use((req: IncomingMessage & { id?: unknown }, res: ServerResponse, next: () => void) => {
    req.id = assignRequestId(req, res);
    next();
  });
  // `strict: false`: the v3alpha verify body is a bare JSON string, as grpc-gateway's `body: "code"`.
  (app as unknown as BodyParserApp).useBodyParser('json', { limit: config.bodyLimitBytes, strict: false });
}

function configureFastify(fastify: FastifyInstance, config: AppConfig): void {
  fastify.addHook('onRequest', (request: FastifyRequest, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
  // Routes are written for Express 5 (path-to-regexp); the one construct find-my-way reads
  // differently is the AIP-136 custom method suffix, `:challengeId\\:verify`.
  fastify.addHook('onRoute', (route) => {
    route.url = toFastifyPath(route.url);
    route.path = route.url;
  });
  // Bodies as Express parses them: JSON of any kind (a bare string too), empty as {}; text/plain is
  // not a body here (Fastify would hand it over as a string), so it is an unsupported media type.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: config.bodyLimitBytes },
    (_req: unknown, body: string | Buffer, done: (err: Error | null, value?: unknown) => void) => {
      if (body.length === 0) return done(null, {});
      try {
        done(null, JSON.parse(body as string));
      } catch {
        done(INVALID_JSON_BODY());
      }
    },
  );
}

/**
 * Express 5 path → find-my-way path. `:name\\:verb` (a parameter followed by a literal `:verb` in
 * one segment) becomes `:name(^[^:/]+)::verb`: the parameter may not contain a colon and `::` is
 * find-my-way's literal colon. Everything else is written the same in both.
 */
export function toFastifyPath(path: string): string {
  return path.replace(/:([A-Za-z_$][\w$]*)\\:/g, ':$1(^[^:/]+)::');
}

/**
 * `/openapi.json`, `/openapi.yaml` and Swagger UI at `/docs` (its assets come from swagger-ui-dist, no CDN).
 * The document and its YAML form (and the YAML library) are built and loaded on their first request, not
 * at start-up: together they were a fifth of the CPU a start costs, and a restarted instance should
 * answer its probes at once.
 */
export function serveApiDocs(app: INestApplication): void {
  let doc: OpenAPIObject | undefined;
  let yaml: string | undefined;
  const document = (): OpenAPIObject => (doc ??= buildOpenApiDocument(app));
  const http = app.getHttpAdapter();
  http.get('/openapi.json', (_req: unknown, res: unknown) => {
    http.setHeader(res, 'Content-Type', 'application/json; charset=utf-8');
    http.reply(res, document(), 200);
  });
  http.get('/openapi.yaml', async (_req: unknown, res: unknown) => {
    yaml ??= (await import('yaml')).stringify(document());
    http.setHeader(res, 'Content-Type', 'application/yaml; charset=utf-8');
    http.reply(res, yaml, 200);
  });
  // validatorUrl: null – Swagger UI would otherwise ask validator.swagger.io about the document.
  SwaggerModule.setup('docs', app, document, {
    raw: false,
    customSiteTitle: 'MFA service API',
    swaggerOptions: { validatorUrl: null },
  });
}

/** Longest a graceful shutdown may take before the process gives up and exits with 1. */
export const SHUTDOWN_TIMEOUT_MS = 25_000;

/**
 * SIGTERM / SIGINT: stop accepting connections, let in-flight requests finish, run the shutdown hooks
 * (the database pool closes last, after the HTTP server), then exit 0. A second signal or a shutdown
 * that takes longer than SHUTDOWN_TIMEOUT_MS exits 1. (Nest's own enableShutdownHooks re-raises the
 * signal after closing, so the process would end "killed by SIGTERM" instead of with 0.)
 */
export function enableGracefulShutdown(app: INestApplication, logger: LoggerService): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      logger.warn(`${signal} received again: exiting without waiting`, 'Shutdown');
      process.exit(1);
    }
    closing = true;
    logger.log(`${signal} received: finishing in-flight requests, then closing the database`, 'Shutdown');
    setTimeout(() => {
      logger.error(`shutdown took longer than ${SHUTDOWN_TIMEOUT_MS} ms: exiting`, undefined, 'Shutdown');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS).unref();
    app.close().then(
      () => {
        logger.log('shutdown complete', 'Shutdown');
        process.exit(0);
      },
      (e: unknown) => {
        logger.error('shutdown failed', e instanceof Error ? e.stack : String(e), 'Shutdown');
        process.exit(1);
      },
    );
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, onSignal);
}
