import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '../common/config/app-config';
import { TransactionRunner } from '../common/database/transaction-runner';
import { Clock } from '../common/time/clock';
import { EmailChallengeRepository } from './email-challenge.repository';

export const SWEEP_INTERVAL_MS = 5 * 60_000;
const HOUR_MS = 3_600_000;
/** How long after its send deadline an unsent challenge is surely abandoned (its process died). */
export const UNSENT_GRACE_MS = 60_000;

/**
 * Retention (CHALLENGE_RETENTION_HOURS, default 24), counted from a challenge's creation:
 * - after the retention time its request context and code hash are deleted – a verified challenge
 *   that was never consumed then answers 404 STEP_UP_REQUEST_CONTEXT_NOT_FOUND;
 * - after twice the retention time the challenge row itself is deleted (404 CHALLENGE_NOT_FOUND).
 * Expiry needs no sweeper: it is decided against the clock on every read.
 * Also: a challenge whose first mail was still being sent when its process died (stored, never
 * answered, its id known to nobody) is deleted once its send deadline is well past.
 */
@Injectable()
export class EmailChallengeSweeper implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('EmailChallengeSweeper');
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly repo: EmailChallengeRepository,
    private readonly tx: TransactionRunner,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.sweep().catch((e: unknown) =>
        this.logger.error(
          { err: { message: e instanceof Error ? e.message : String(e) } },
          'challenge sweep failed',
        ),
      );
    }, SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** One sweep at `now` (the clock's time by default); also called by tests. */
  async sweep(now = this.clock.now()): Promise<{ contexts: number; challenges: number; unsent: number }> {
    const retentionMs = this.config.challenge.retentionHours * HOUR_MS;
    const result = await this.tx.run(async (em) => {
      const unsent = await this.repo.purgeUnsent(em, now - this.config.mail.sendDeadlineMs - UNSENT_GRACE_MS);
      const challenges = await this.repo.purgeChallenges(em, now - 2 * retentionMs);
      const contexts = await this.repo.purgeContexts(em, now - retentionMs);
      return { contexts, challenges, unsent };
    });
    if (result.contexts + result.challenges + result.unsent > 0)
      this.logger.log(result, 'purged old email challenges');
    return result;
  }
}
