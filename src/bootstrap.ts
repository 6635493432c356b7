import { INestApplication, LoggerService } from '@nestjs/common';
import { SwaggerModule } from '@nestjs/swagger';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { stringify } from 'yaml';
import { AppConfig } from './common/config/app-config';
import { assignRequestId } from './common/http/request-id';
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
 * The request pipeline ahead of Nest's own middleware. Middleware registered here runs before the
 * modules' middleware (pino-http among them), so the request id is assigned first: errors the body
 * parser raises (malformed JSON, oversize body) carry it in the header and the error body too.
 * Only raw node request/response objects are touched, which every Nest adapter passes to `use`.
 */
export function configureHttp(app: INestApplication, config: AppConfig): void {
  // Express only (bootstrap is the one place that may know the adapter): API answers are not cached
  // by clients, so hashing every body for an ETag is wasted work, and X-Powered-By only advertises.
  const instance = app.getHttpAdapter().getInstance() as { set?: (k: string, v: unknown) => void };
  if (typeof instance.set === 'function') {
    instance.set('etag', false);
    instance.set('x-powered-by', false);
  }
  app.use((req: IncomingMessage & { id?: unknown }, res: ServerResponse, next: () => void) => {
    req.id = assignRequestId(req, res);
    next();
  });
  // `strict: false`: the v3alpha verify body is a bare JSON string, as grpc-gateway's `body: "code"`.
  // Both the Express and the Fastify application offer useBodyParser; the type lives on each adapter's app.
  (app as unknown as BodyParserApp).useBodyParser('json', { limit: config.bodyLimitBytes, strict: false });
}

/** `/openapi.json`, `/openapi.yaml` and Swagger UI at `/docs` (its assets come from swagger-ui-dist, no CDN). */
export function serveApiDocs(app: INestApplication): void {
  const doc = buildOpenApiDocument(app);
  const http = app.getHttpAdapter();
  http.get('/openapi.json', (_req: unknown, res: unknown) => {
    http.setHeader(res, 'Content-Type', 'application/json; charset=utf-8');
    http.reply(res, doc, 200);
  });
  const yaml = stringify(doc);
  http.get('/openapi.yaml', (_req: unknown, res: unknown) => {
    http.setHeader(res, 'Content-Type', 'application/yaml; charset=utf-8');
    http.reply(res, yaml, 200);
  });
  // validatorUrl: null – Swagger UI would otherwise ask validator.swagger.io about the document.
  SwaggerModule.setup('docs', app, doc, {
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
