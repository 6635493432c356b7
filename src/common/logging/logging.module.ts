import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppConfig } from '../config/app-config';
import { assignRequestId } from '../http/request-id';

/**
 * Structured JSON logs (pino). Request logs carry method, path, status, time and the request id –
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
          autoLogging: { ignore: (req: IncomingMessage) => req.url === '/healthz' || req.url === '/readyz' },
          serializers: {
            req: (req: { method: string; url: string }) => ({ method: req.method, path: String(req.url).split('?')[0] }),
            res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
          },
          redact: { paths: ['req.headers', 'res.headers', '*.authorization', '*.token', '*.code', '*.secret'], remove: true },
        },
      }),
    }),
  ],
})
export class LoggingModule {}
