import { Controller, Get, HttpCode, HttpStatus, Logger } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Public } from '../auth/decorators';
import { Errors } from '../errors/domain-error';

/** How long the readiness query may take before the database counts as unavailable. */
const READINESS_TIMEOUT_MS = 1000;

/** Liveness and readiness probes. */
@ApiExcludeController()
@Public()
@Controller()
export class HealthController {
  private readonly logger = new Logger('Health');

  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /** The process is up and serving HTTP; says nothing about the database. */
  @Get('healthz')
  @HttpCode(HttpStatus.OK)
  live(): { status: string } {
    return { status: 'ok' };
  }

  /**
   * Ready when the database answers `SELECT 1` within a second; otherwise 503
   * `{"code":14,"message":"database unavailable"}`. The reason goes to the log only.
   */
  @Get('readyz')
  async ready(): Promise<{ status: string; database: string }> {
    try {
      if (!this.ds.isInitialized) throw new Error('the connection is closed');
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          this.ds.query('SELECT 1'),
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`no answer within ${READINESS_TIMEOUT_MS} ms`)),
              READINESS_TIMEOUT_MS,
            );
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
      return { status: 'ok', database: 'up' };
    } catch (e) {
      this.logger.warn(`readiness check failed: ${e instanceof Error ? e.message : String(e)}`);
      throw Errors.unavailable(undefined, 'database unavailable');
    }
  }
}
