import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { AccessLog } from './access-log';

/**
 * Structured JSON logs (pino, see AccessLog): Nest's own logger and every injected logger write through
 * AccessLog's root logger, and inside a request through the request's logger (nestjs-pino's store,
 * which AccessLog.track fills). nestjs-pino adds no middleware of its own: the access line is
 * AccessLog's.
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      providers: [AccessLog],
      inject: [AccessLog],
      useFactory: (accessLog: AccessLog) => ({
        pinoHttp: { logger: accessLog.root },
        useExisting: true,
        forRoutes: [],
      }),
    }),
  ],
})
export class LoggingModule {}
