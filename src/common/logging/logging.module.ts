import { Module } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import { LoggerModule } from 'nestjs-pino';
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
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        pinoHttp: {
          level: config.logLevel,
          stream: config.logStream,
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
