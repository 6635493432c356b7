import { Injectable } from '@nestjs/common';
import { Principal } from '../common/auth/principal';
import { AppConfig } from '../common/config/app-config';
import { CodeHasher } from '../common/crypto/code-hasher';
import { TransactionRunner } from '../common/database/transaction-runner';
import { changeDetails, ObjectDetailsDto } from '../common/events/details';
import { EventStore, userEvent } from '../common/events/event-store';
import { tagOutcome } from '../common/observability/verify-outcome';
import { Clock } from '../common/time/clock';
import { UsersReader } from '../identity';
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
 *   a success gives its attempt back and answers how many codes remain.
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
    const user = await this.users.requireHuman(userId);
    const { maxAttempts, lockoutSeconds } = this.config.otp;
    const windowMs = lockoutSeconds * 1000;
    // Hashed under every configured key before any database work: the same work on a hit as on a miss.
    const hashes = this.hasher.hashes(normalizeRecoveryCode(code), context(user.id));
    let locked = false;
    const result = await this.runner.run(async (em) => {
      const now = this.clock.now();
      const taken = await this.repo.takeAttempt(em, user.id, now, windowMs, maxAttempts);
      if (taken === undefined) {
        const set = await this.repo.findSet(em, user.id);
        if (!set) throw RecoveryCodeErrors.notFound();
        throw RecoveryCodeErrors.locked(
          Math.max(1, Math.ceil((set.windowStartedAt + windowMs - now) / 1000)),
        );
      }
      // The codes left once this one is used: counted when the attempt was taken, whose row lock
      // keeps every other check of the user waiting until this one commits.
      const remaining = Math.max(0, taken.codes - 1);
      const e = await this.events.changeAndAppend(
        em,
        this.repo.consumption(user.id, hashes),
        userEvent(caller, user, RECOVERY_EVENTS.checkSucceeded, { remaining }),
      );
      if (e) {
        await this.repo.refundAttempt(em, user.id, taken.windowStartedAt);
        return { e, remaining };
      }
      // The failure is committed with its attempt; the error is thrown after the commit.
      locked = taken.attempts >= maxAttempts;
      await this.events.appendUserEvent(em, caller, user, RECOVERY_EVENTS.checkFailed, {});
      if (locked) await this.events.appendUserEvent(em, caller, user, RECOVERY_EVENTS.checkLocked, {});
      return undefined;
    });
    if (!result) throw tagOutcome(RecoveryCodeErrors.invalid(), { lockoutStarted: locked });
    return { details: changeDetails(result.e), remaining: result.remaining };
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
