import { Injectable } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { destination, Logger, pino } from 'pino';
import { storage, Store } from 'nestjs-pino/storage';
import { AppConfig } from '../config/app-config';

/** The active span's trace and span ids (W3C hex), for logs written while a traced request runs. */
export function traceIds(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/** Keys whose values never reach a log line, wherever they appear one level down. */
const REDACTED = ['req.headers', 'res.headers', '*.authorization', '*.token', '*.code', '*.secret'];

/** Probes are not logged: an orchestrator calls them every few seconds. */
const UNLOGGED = new Set(['/healthz', '/readyz']);

const LOGGER = Symbol('requestLogger');
type Tracked = IncomingMessage & { id?: unknown; [LOGGER]?: Logger };

/**
 * The service's logger and its access log.
 *
 * `root` writes structured JSON lines (pino) to stdout, asynchronously: a line is handed to the kernel on
 * the next turn of the event loop together with the lines written meanwhile, instead of one blocking
 * write per line (under load, one write per request was a tenth of a request's CPU). Every line is still
 * written, in order; what is pending when the process exits is flushed then. With tracing on, every line
 * written inside a traced request carries `trace_id` and `span_id`.
 *
 * `track` runs a request with a logger bound to its request id (every line the request writes carries
 * it) and writes one access line when the answer has been sent, or when the connection closed first:
 * `{requestId, req: {method, path}, res: {statusCode}, responseTime}`, "request completed" ("request
 * errored" for a 5xx). Never headers, bodies or query strings, which may hold tokens, codes, phone
 * numbers or addresses.
 *
 * The adapters call `track` from their own request hooks (bootstrap.ts), after the request id, the
 * request-head screen and the body parser on Express: a request refused before it gets no access line,
 * and the exception filter logs it instead (see `isTracked`). One child logger and one line per request:
 * the access line used to be written by pino-http as Nest middleware, which on Fastify also ran every
 * request through the middleware layer, and made two child loggers per request.
 */
@Injectable()
export class AccessLog {
  readonly root: Logger;

  constructor(config: AppConfig) {
    this.root = pino(
      {
        level: config.logLevel,
        mixin: config.tracing ? traceIds : undefined,
        redact: { paths: REDACTED, remove: true },
      },
      config.logStream ?? destination({ dest: 1, sync: false }),
    );
  }

  /** Runs `next` (the rest of the request's handling) with the request's logger in scope. */
  track(req: IncomingMessage, res: ServerResponse, next: () => void): void {
    const tracked = req as Tracked;
    const requestId = typeof tracked.id === 'string' ? tracked.id : '';
    const log = this.root.child({ requestId });
    tracked[LOGGER] = log;
    const url = req.url ?? '/';
    if (!UNLOGGED.has(url)) {
      const started = Date.now();
      const method = req.method;
      const end = () => {
        res.off('finish', end);
        res.off('close', end);
        const request = { method, path: url.split('?')[0] };
        const status = { statusCode: res.statusCode };
        const responseTime = Date.now() - started;
        if (res.statusCode >= 500) {
          const err = { message: `failed with status code ${res.statusCode}` };
          log.info({ req: request, res: status, err, responseTime }, 'request errored');
        } else log.info({ req: request, res: status, responseTime }, 'request completed');
      };
      res.on('finish', end);
      res.on('close', end);
    }
    storage.run(new Store(log), next);
  }
}

/** Whether the access log has taken this request (raw node request); else no access line will follow. */
export function isTracked(req: IncomingMessage): boolean {
  return (req as Tracked)[LOGGER] !== undefined;
}
