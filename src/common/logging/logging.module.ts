import { Module } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import { LoggerModule } from 'nestjs-pino';
import { destination } from 'pino';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppConfig } from '../config/app-config';
import { assignRequestId } from '../http/request-id';

/** The active span's trace and span ids (W3C hex), for logs written while a traced request runs. */
export function traceIds(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/**
 * Structured JSON logs (pino). With tracing on, every line written inside a traced request carries
 * `trace_id` and `span_id`. Request logs carry method, path, status, time and the request id –
 * never headers, bodies or query strings, which may hold tokens, codes, phone numbers or addresses.
 *
 * Lines go to stdout asynchronously: a line is handed to the kernel on the next turn of the event loop,
 * together with the lines written meanwhile, instead of one blocking write per line (under load, one
 * write per request was a tenth of a request's CPU). Every line is still written, in order; what is
 * pending when the process exits is flushed then. Only a hard kill can lose the lines of that moment.
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        pinoHttp: {
          level: config.logLevel,
          stream: config.logStream ?? destination({ dest: 1, sync: false }),
          genReqId: (req: IncomingMessage, res: ServerResponse) => assignRequestId(req, res),
          customAttributeKeys: { reqId: 'requestId' },
          quietReqLogger: true,
          mixin: config.tracing ? traceIds : undefined,
          autoLogging: { ignore: (req: IncomingMessage) => req.url === '/healthz' || req.url === '/readyz' },
          serializers: {
            req: (req: { method: string; url: string }) => ({
              method: req.method,
              path: String(req.url).split('?')[0],
            }),
            res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
          },
          redact: {
            paths: ['req.headers', 'res.headers', '*.authorization', '*.token', '*.code', '*.secret'],
            remove: true,
          },
        },
      }),
    }),
  ],
})
export class LoggingModule {}
