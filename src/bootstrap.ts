import { INestApplication, LoggerService } from '@nestjs/common';
import { AbstractHttpAdapter } from '@nestjs/core';
import type { ExpressAdapter } from '@nestjs/platform-express';
import type { FastifyAdapter } from '@nestjs/platform-fastify';
import { OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppConfig } from './common/config/app-config';
import { INVALID_JSON_BODY } from './common/errors/all-exceptions.filter';
import { checkBodyMediaType, unsupportedMediaType } from './common/http/body-media-type';
import { fastifyFrameworkErrors, renderFrameworkErrorsWith } from './common/http/framework-errors';
import { screenJsonBody, screenRequestHead } from './common/http/input-screen';
import { assignRequestId, REQUEST_ID_HEADER, requestIdFromHeaders } from './common/http/request-id';
import { RequestLimits } from './common/http/request-limits';
import { runInScope } from './common/http/request-scope';
import { AccessLog } from './common/logging/access-log';
import { buildOpenApiDocument } from './common/openapi/openapi';
import { UnknownElementException } from '@nestjs/core/errors/exceptions/unknown-element.exception';
import { isRpcPath, RpcServer } from './rpc/rpc.server';

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
 * place that knows which one runs. Only the chosen platform is loaded: each costs about a tenth of
 * a second of start-up.
 */
export function createHttpAdapter(config: AppConfig): AbstractHttpAdapter {
  if (config.httpAdapter === 'express') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when chosen
    const platform = require('@nestjs/platform-express') as { ExpressAdapter: typeof ExpressAdapter };
    return new platform.ExpressAdapter();
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when chosen
  const platform = require('@nestjs/platform-fastify') as { FastifyAdapter: typeof FastifyAdapter };
  return new platform.FastifyAdapter({
    bodyLimit: config.bodyLimitBytes,
    // As Express: "/path/" finds "/path"; and path parameters of any length (Express has no limit;
    // none can be longer than the 16 KiB of headers Node accepts).
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 16 * 1024 },
    // Errors of the router itself (a path it cannot decode) go through the one exception filter too.
    frameworkErrors: fastifyFrameworkErrors,
    // The request id is assigned before anything else runs, kept on the raw request for the access log.
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
  // Request limits (see RequestLimits) come before the body is read; the request's scope is entered
  // again once it has been parsed.
  const limits = config.limits ? new RequestLimits(app, config.limits) : undefined;
  // gRPC-Web and Connect on this port, gRPC on its own: one budget of requests in flight for all.
  const rpc = rpcServerOf(app);
  rpc?.attach(app, limits);
  // The access log and the request's logger: after the request id, the head screen, the limits and
  // the RPC exit on both adapters, and after the body parser on Express (as Nest middleware ran).
  const accessLog = accessLogOf(app);
  if (config.httpAdapter === 'fastify') {
    configureFastify(instance as FastifyInstance, config);
    renderFrameworkErrorsWith(app);
    if (limits) limitFastify(instance as FastifyInstance, limits);
    // RPCs (gRPC-Web, Connect) leave Fastify here, after request ids, the head screen and the limits.
    (instance as FastifyInstance).addHook('onRequest', (request, reply, done) => {
      if (!rpc || !isRpcPath(request.raw.url)) return done();
      reply.hijack();
      rpc.serve(request.raw, reply.raw);
    });
    if (accessLog)
      (instance as FastifyInstance).addHook('onRequest', (request, reply, done) =>
        accessLog.track(request.raw, reply.raw, done),
      );
  } else {
    const express = instance as { use(fn: unknown): void };
    if (limits) express.use(limits.expressAdmit);
    configureExpress(app, instance as { set(k: string, v: unknown): void }, config, rpc);
    if (limits)
      express.use((req: IncomingMessage, _res: unknown, next: () => void) => limits.reenter(req, next));
    if (accessLog)
      express.use((req: IncomingMessage, res: ServerResponse, next: () => void) =>
        accessLog.track(req, res, next),
      );
  }
}

/**
 * The RPC front door of the application, if it has one: the service's AppModule always does; an app
 * assembled from a few modules (a unit test of the HTTP pipeline) serves REST alone.
 */
function rpcServerOf(app: INestApplication): RpcServer | undefined {
  return optional(app, RpcServer);
}

/** The access log, if the app logs (an app assembled from a few modules for a unit test may not). */
function accessLogOf(app: INestApplication): AccessLog | undefined {
  return optional(app, AccessLog);
}

function optional<T>(app: INestApplication, type: new (...args: never[]) => T): T | undefined {
  try {
    return app.get(type, { strict: false });
  } catch (err) {
    if (err instanceof UnknownElementException) return undefined;
    throw err;
  }
}

function limitFastify(fastify: FastifyInstance, limits: RequestLimits): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    const scope = limits.admit(request.raw, reply.raw);
    if (scope === false) return void reply.hijack();
    if (scope) runInScope(scope, done);
    else done();
  });
  fastify.addHook('preValidation', (request, _reply, done) => limits.reenter(request.raw, done));
}

function configureExpress(
  app: INestApplication,
  express: { set(k: string, v: unknown): void },
  config: AppConfig,
  rpc: RpcServer | undefined,
): void {
  // API answers are not cached by clients, so hashing every body for an ETag is wasted work, and
  // X-Powered-By only advertises.
  express.set('etag', false);
  express.set('x-powered-by', false);
  app.use((req: IncomingMessage & { id?: unknown }, res: ServerResponse, next: () => void) => {
    req.id = assignRequestId(req, res);
    next();
  });
  // Content encodings, NUL and malformed paths: refused before the body is read (input-screen.ts).
  app.use((req: IncomingMessage, _res: ServerResponse, next: (err?: unknown) => void) =>
    next(screenRequestHead(req)),
  );
  // RPCs (gRPC-Web, Connect) leave here, before the JSON body screen and parser.
  app.use((req: IncomingMessage, res: ServerResponse, next: () => void) => {
    if (!rpc?.serve(req, res)) next();
  });
  // body-parser would skip a body of another type and leave the route to report a missing field.
  app.use((req: IncomingMessage, _res: ServerResponse, next: (err?: unknown) => void) => {
    next(checkBodyMediaType(req.method ?? 'GET', req.headers));
  });
  // `strict: false`: the v3alpha verify body is a bare JSON string, as grpc-gateway's `body: "code"`.
  (app as unknown as BodyParserApp).useBodyParser('json', { limit: config.bodyLimitBytes, strict: false });
  app.use((req: IncomingMessage & { body?: unknown }, _res: ServerResponse, next: (err?: unknown) => void) =>
    next(screenJsonBody(req.body)),
  );
}

function configureFastify(fastify: FastifyInstance, config: AppConfig): void {
  fastify.addHook('onRequest', (request: FastifyRequest, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    // Content encodings, NUL and malformed paths, as on Express (input-screen.ts).
    done(screenRequestHead(request.raw) as FastifyError | undefined);
  });
  // Routes are written for Express 5 (path-to-regexp); the one construct find-my-way reads
  // differently is the AIP-136 custom method suffix, `:challengeId\\:verify`.
  fastify.addHook('onRoute', (route) => {
    route.url = toFastifyPath(route.url);
    route.path = route.url;
  });
  // The same media-type rule as on Express, before any parser runs.
  fastify.addHook('preParsing', (request: FastifyRequest, _reply, payload, done) => {
    const err = checkBodyMediaType(request.method, request.headers);
    if (err) done(err);
    else done(null, payload);
  });
  // Bodies as Express parses them: JSON of any kind (a bare string too), empty as {}. Other types
  // reach a parser only when empty (the hook refused the rest), and read as {} too.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser(
    '*',
    { parseAs: 'string', bodyLimit: config.bodyLimitBytes },
    (_req: unknown, body: string | Buffer, done: (err: Error | null, value?: unknown) => void) =>
      body.length === 0 ? done(null, {}) : done(unsupportedMediaType()),
  );
  fastify.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: config.bodyLimitBytes },
    (_req: unknown, body: string | Buffer, done: (err: Error | null, value?: unknown) => void) => {
      if (body.length === 0) return done(null, {});
      let value: unknown;
      try {
        value = JSON.parse(body as string);
      } catch {
        return done(INVALID_JSON_BODY());
      }
      done(screenJsonBody(value) ?? null, value);
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
  // The filter box finds operations by tag; the token given to Authorize survives a reload (it is kept
  // in the browser's localStorage); deep links (#/tag/operationId) open one operation.
  SwaggerModule.setup('docs', app, document, {
    raw: false,
    customSiteTitle: 'MFA service API',
    swaggerOptions: { validatorUrl: null, filter: true, persistAuthorization: true, deepLinking: true },
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
