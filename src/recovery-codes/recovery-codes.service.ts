import { Injectable } from '@nestjs/common';
import { Principal } from '../common/auth/principal';
import { AppConfig } from '../common/config/app-config';
import { CodeHasher } from '../common/crypto/code-hasher';
import { TransactionRunner } from '../common/database/transaction-runner';
import { changeDetails, ObjectDetailsDto } from '../common/events/details';
import { EventStore } from '../common/events/event-store';
import { tagOutcome } from '../common/observability/verify-outcome';
import { Clock } from '../common/time/clock';
import { UsersReader } from '../identity';
import { RecoveryCheckStrategy } from './check/recovery-check';
import { newRecoveryCodes, normalizeRecoveryCode } from './recovery-code-format';
import { RecoveryCodeErrors } from './recovery-codes.errors';
import { RECOVERY_EVENTS } from './recovery-codes.events';
import { RecoveryCodesRepository } from './recovery-codes.repository';

/**
 * Recovery codes (ZITADEL v2 GenerateRecoveryCodes / RemoveRecoveryCodes) plus our `_check`:
 * - a set of `count` codes (default RECOVERY_CODE_COUNT), 50 bits each from the CSPRNG, returned once
 *   and stored only as keyed hashes bound to the user; generating again replaces the whole set;
 * - a check uses up exactly one code (one conditional DELETE), after spending an attempt of the
 *   user's window (OTP_MAX_ATTEMPTS failures per OTP_LOCKOUT_SECONDS, then 429 until the window ends);
 *   a success gives its attempt back and answers how many codes remain. How it runs on each database
 *   is RecoveryCheckStrategy's.
 */
@Injectable()
export class RecoveryCodesService {
  constructor(
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly users: UsersReader,
    private readonly runner: TransactionRunner,
    private readonly events: EventStore,
    private readonly hasher: CodeHasher,
    private readonly repo: RecoveryCodesRepository,
    private readonly checks: RecoveryCheckStrategy,
  ) {}

  async generate(
    caller: Principal,
    userId: string,
    count?: number,
  ): Promise<{ details: ObjectDetailsDto; recoveryCodes: string[] }> {
    const user = await this.users.requireHuman(userId);
    const codes = newRecoveryCodes(count ?? this.config.recoveryCodes.defaultCount);
    const hashes = codes.map((c) => this.hasher.hash(normalizeRecoveryCode(c), context(user.id)));
    const e = await this.runner.run(async (em) => {
      await this.repo.replace(em, user.id, hashes, this.clock.now());
      return this.events.appendUserEvent(em, caller, user, RECOVERY_EVENTS.added, { count: codes.length });
    });
    return { details: changeDetails(e), recoveryCodes: codes };
  }

  async remove(caller: Principal, userId: string): Promise<{ details: ObjectDetailsDto }> {
    const user = await this.users.requireHuman(userId);
    const e = await this.runner.run(async (em) => {
      if (!(await this.repo.remove(em, user.id))) throw RecoveryCodeErrors.notFound();
      return this.events.appendUserEvent(em, caller, user, RECOVERY_EVENTS.removed, {});
    });
    return { details: changeDetails(e) };
  }

  async check(
    caller: Principal,
    userId: string,
    code: string,
  ): Promise<{ details: ObjectDetailsDto; remaining: number }> {
    const { maxAttempts, lockoutSeconds } = this.config.otp;
    // Hashed under every configured key before any database work: the same work on a hit as on a miss.
    const hashes = this.hasher.hashes(normalizeRecoveryCode(code), context(userId));
    const outcome = await this.checks.check({
      caller,
      userId,
      hashes,
      now: this.clock.now(),
      windowMs: lockoutSeconds * 1000,
      maxAttempts,
    });
    switch (outcome.kind) {
      case 'used':
        return { details: changeDetails(outcome.event), remaining: outcome.remaining };
      case 'wrong':
        throw tagOutcome(RecoveryCodeErrors.invalid(), { lockoutStarted: outcome.locked });
      case 'locked':
        throw RecoveryCodeErrors.locked(outcome.retryAfterSeconds);
      case 'none':
        // the user is read only now: a check that found a set had a human user
        await this.users.requireHuman(userId);
        throw RecoveryCodeErrors.notFound();
    }
  }

  /** Whether the user has unused recovery codes (for the factor list). */
  async isReady(userId: string): Promise<boolean> {
    return (await this.repo.remaining(undefined, userId)) > 0;
  }
}

/** The hash context of a user's recovery codes. */
function context(userId: string): string {
  return `recovery-code:${userId}`;
}
