import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { Principal } from '../auth/principal';
import { AppConfig } from '../config/app-config';
import { CodeHasher } from '../crypto/code-hasher';
import { newRandomId } from '../database/id-generator';
import { TransactionRunner } from '../database/transaction-runner';
import { AppendedEvent, EventStore, userEvent } from '../events/event-store';
import { tagOutcome } from '../observability/verify-outcome';
import { Clock } from '../time/clock';
import {
  codeContext,
  codeExpiresAt,
  cooldownCutoff,
  cooldownRetryAfterSeconds,
  issueCode,
  judgeAttempt,
  NoAttemptReason,
  whyNoAttempt,
} from './code-rules';
import { OneTimeCodeErrors as E } from './one-time-code.errors';
import { OneTimeCodeStore } from './one-time-code.store';

/** Whose code it is: a user and the organisation that owns the user (for the events). */
export interface CodeSubject {
  id: string;
  orgId: string;
}

/** How one kind of one-time code behaves, and the events it writes. */
export interface CodePolicy {
  /** Row key and hash context, e.g. `otp-sms`. */
  purpose: string;
  digits: number;
  ttlSeconds: number;
  cooldownSeconds: number;
  events: { codeAdded: string; checkSucceeded: string; checkFailed: string; checkLocked: string };
}

/**
 * Sends the code (`codeId` names it in logs and mails, never the code); rejects when it certainly did
 * not go out (the code is then discarded).
 */
export type Deliver = (code: string, expiresAt: number, codeId: string) => Promise<void>;

/**
 * The factor a code belongs to, checked in the statement that takes the attempt (so a check that
 * succeeds needs no read of it); `ifMissing` runs only when no attempt was taken, and throws when the
 * factor is gone.
 */
export interface FactorCondition {
  /** The OTP channel factor (otp_channel_factors.channel) the user must hold. */
  channel: string;
  ifMissing: (em: EntityManager) => Promise<void>;
}

/** Why a code was not accepted. */
export type CodeFailure = NoAttemptReason | 'invalid';

/**
 * One-time codes sent to a user and checked once, the machinery shared by the code-based factors:
 * - codes: `digits` uniform digits from the CSPRNG, stored only as a keyed hash bound to
 *   `purpose:user:code_id`, single use, valid `ttlSeconds`, at most OTP_MAX_ATTEMPTS tries each (an
 *   attempt is spent and committed before the comparison, in one conditional UPDATE);
 * - a new code replaces the pending one, at most one per `cooldownSeconds` (one conditional upsert);
 * - the code is stored (and `code.added` written) before it is sent, outside the transaction; a send
 *   that fails discards it and lifts the cooldown, and the request fails with 503.
 */
@Injectable()
export class OneTimeCodes {
  constructor(
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly runner: TransactionRunner,
    private readonly store: OneTimeCodeStore,
    private readonly events: EventStore,
    private readonly hasher: CodeHasher,
  ) {}

  /**
   * Issues a code and delivers it. `beforeIssue` runs in the issuing transaction (e.g. to count a
   * message against a daily limit; throwing there changes nothing).
   */
  async send(
    policy: CodePolicy,
    caller: Principal,
    subject: CodeSubject,
    deliver: Deliver,
    beforeIssue?: (em: EntityManager, now: number) => Promise<void>,
  ): Promise<AppendedEvent> {
    const now = this.clock.now();
    const codeId = newRandomId();
    const { code, codeHash } = issueCode(
      this.hasher,
      policy.digits,
      codeContext(policy.purpose, subject.id, codeId),
    );
    const expiresAt = codeExpiresAt(now, policy.ttlSeconds);
    const event = await this.runner.run(async (em) => {
      const stored = await this.store.replace(em, {
        purpose: policy.purpose,
        userId: subject.id,
        codeId,
        codeHash,
        expiresAt,
        now,
        sentBefore: cooldownCutoff(now, policy.cooldownSeconds),
      });
      if (!stored) {
        const current = await this.store.find(em, policy.purpose, subject.id);
        throw E.cooldown(cooldownRetryAfterSeconds(current?.sentAt, now, policy.cooldownSeconds));
      }
      if (beforeIssue) await beforeIssue(em, now);
      return this.events.appendUserEvent(em, caller, subject, policy.events.codeAdded, {
        expiresAt: new Date(expiresAt).toISOString(),
      });
    });
    try {
      await deliver(code, expiresAt, codeId);
    } catch {
      await this.runner.run((em) => this.store.discard(em, policy.purpose, subject.id, codeId));
      throw E.unavailable();
    }
    return event;
  }

  /**
   * Checks a code once. The attempt, a `check.failed` (and `check.locked` when the code's last
   * attempt failed) are committed; the error is thrown after the commit. An error of `factor` is
   * thrown inside the transaction: nothing was written then.
   */
  async check(
    policy: CodePolicy,
    caller: Principal,
    subject: CodeSubject,
    code: string,
    factor?: FactorCondition,
  ): Promise<AppendedEvent> {
    const max = this.config.otp.maxAttempts;
    let locked = false;
    const result = await this.runner.run(async (em): Promise<AppendedEvent | CodeFailure> => {
      const now = this.clock.now();
      const taken = await this.store.takeAttempt(em, policy.purpose, subject.id, now, max, factor?.channel);
      let failure: CodeFailure | undefined;
      if (!taken) {
        // The factor first (its error before the code's), then why the code took no attempt.
        if (factor) await factor.ifMissing(em);
        failure = whyNoAttempt(await this.store.find(em, policy.purpose, subject.id), now, max);
      } else {
        const context = codeContext(policy.purpose, subject.id, taken.codeId);
        const verdict = judgeAttempt(this.hasher, code, context, taken, max);
        if (verdict === 'match') {
          const succeeded = await this.events.changeAndAppend(
            em,
            this.store.consumption(policy.purpose, subject.id, taken.codeId),
            userEvent(caller, subject, policy.events.checkSucceeded, {}),
          );
          if (succeeded) return succeeded;
          failure = 'noCode';
        } else {
          failure = 'invalid';
          locked = verdict === 'wrong-exhausted';
        }
      }
      await this.events.appendUserEvent(em, caller, subject, policy.events.checkFailed, { reason: failure });
      if (locked) await this.events.appendUserEvent(em, caller, subject, policy.events.checkLocked, {});
      return failure;
    });
    if (typeof result !== 'string') return result;
    throw tagOutcome(failureError(result), { lockoutStarted: locked });
  }

  /** Drops the pending code (the factor it belongs to was removed). */
  remove(em: EntityManager, purpose: string, userId: string): Promise<void> {
    return this.store.remove(em, purpose, userId);
  }
}

function failureError(f: CodeFailure) {
  switch (f) {
    case 'noCode':
      return E.codeNotFound();
    case 'expired':
      return E.codeExpired();
    case 'exhausted':
      return E.codeExhausted();
    case 'invalid':
      return E.codeInvalid();
  }
}
