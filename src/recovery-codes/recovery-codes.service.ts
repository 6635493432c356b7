import { Injectable } from '@nestjs/common';
import { Principal } from '../common/auth/principal';
import { AppConfig } from '../common/config/app-config';
import { CodeHasher } from '../common/crypto/code-hasher';
import { EntityManager } from 'typeorm';
import { TransactionBatcher } from '../common/database/transaction-batcher';
import { TransactionRunner } from '../common/database/transaction-runner';
import { changeDetails, ObjectDetailsDto } from '../common/events/details';
import { AppendedEvent, EventStore, userEvent } from '../common/events/event-store';
import { DomainError } from '../common/errors/domain-error';
import { tagOutcome } from '../common/observability/verify-outcome';
import { Clock } from '../common/time/clock';
import { UsersReader, UserView } from '../identity';
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
  ) {
    this.checks = runner.batched(
      (em, checks) => this.checkBatch(em, checks),
      (c) => c.user.id,
    );
  }

  private readonly checks: TransactionBatcher<CodeCheck, CheckOutcome>;

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
    // Hashed under every configured key before any database work: the same work on a hit as on a miss.
    const hashes = this.hasher.hashes(normalizeRecoveryCode(code), context(user.id));
    const outcome = await this.checks.submit({ caller, user, hashes, now: this.clock.now() });
    switch (outcome.kind) {
      case 'used':
        return { details: changeDetails(outcome.event), remaining: outcome.remaining };
      case 'refused':
        throw outcome.error;
      case 'wrong':
        throw tagOutcome(RecoveryCodeErrors.invalid(), { lockoutStarted: outcome.locked });
    }
  }

  /**
   * Checks a batch of codes (one per user) in one transaction (TransactionBatcher): each check spends
   * an attempt of its user's window (one conditional UPDATE for the batch) before any code is
   * compared; the right codes are used up, with their events, in one more statement
   * (EventStore.changeAndAppendEach), and their attempts given back in a third. A failure is
   * committed with its attempt and its events; its error is thrown after the commit.
   */
  private async checkBatch(em: EntityManager, checks: CodeCheck[]): Promise<CheckOutcome[]> {
    const { maxAttempts, lockoutSeconds } = this.config.otp;
    const windowMs = lockoutSeconds * 1000;
    const taken = await this.repo.takeAttempts(
      em,
      checks.map((c) => ({ userId: c.user.id, now: c.now, windowMs, maxAttempts })),
    );
    const tried = checks.flatMap((_, i) => (taken[i] ? [i] : []));
    // The codes left once the code is used: counted when the attempt was taken, whose row lock keeps
    // every other check of the user waiting until this one commits.
    const remaining = (i: number) => Math.max(0, taken[i]!.codes - 1);
    const used = await this.events.changeAndAppendEach(
      em,
      this.repo.consumptions(
        em,
        tried.map((i) => ({ userId: checks[i].user.id, hashes: checks[i].hashes })),
      ),
      tried.map((i) =>
        userEvent(checks[i].caller, checks[i].user, RECOVERY_EVENTS.checkSucceeded, {
          remaining: remaining(i),
        }),
      ),
    );
    await this.repo.refundAttempts(
      em,
      tried.flatMap((i, n) =>
        used[n] ? [{ userId: checks[i].user.id, windowStartedAt: taken[i]!.windowStartedAt }] : [],
      ),
    );
    const outcomes: CheckOutcome[] = [];
    for (const [i, c] of checks.entries()) {
      const t = taken[i];
      if (!t) {
        const set = await this.repo.findSet(em, c.user.id);
        const error = set
          ? RecoveryCodeErrors.locked(Math.max(1, Math.ceil((set.windowStartedAt + windowMs - c.now) / 1000)))
          : RecoveryCodeErrors.notFound();
        outcomes.push({ kind: 'refused', error });
        continue;
      }
      const event = used[tried.indexOf(i)];
      if (event) {
        outcomes.push({ kind: 'used', event, remaining: remaining(i) });
        continue;
      }
      const locked = t.attempts >= maxAttempts;
      await this.events.appendUserEvent(em, c.caller, c.user, RECOVERY_EVENTS.checkFailed, {});
      if (locked) await this.events.appendUserEvent(em, c.caller, c.user, RECOVERY_EVENTS.checkLocked, {});
      outcomes.push({ kind: 'wrong', locked });
    }
    return outcomes;
  }

  /** Whether the user has unused recovery codes (for the factor list). */
  async isReady(userId: string): Promise<boolean> {
    return (await this.repo.remaining(undefined, userId)) > 0;
  }
}

/** A check as its batch sees it: the code already hashed under every configured key. */
interface CodeCheck {
  caller: Principal;
  user: UserView;
  hashes: string[];
  now: number;
}

type CheckOutcome =
  | { kind: 'used'; event: AppendedEvent; remaining: number }
  | { kind: 'wrong'; locked: boolean }
  /** No attempt could be taken (no codes, or the window is full): nothing was written. */
  | { kind: 'refused'; error: DomainError };

/** The hash context of a user's recovery codes. */
function context(userId: string): string {
  return `recovery-code:${userId}`;
}
