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
} from './code-rules';
import {
  CheckEvents,
  CodeCheckStrategy,
  CodeFailure,
  CodeSubject,
  FactorCondition,
} from './check/code-check';
import { OneTimeCodeErrors as E } from './one-time-code.errors';
import { OneTimeCodeStore } from './one-time-code.store';

/** How one kind of one-time code behaves, and the events it writes. */
export interface CodePolicy {
  /** Row key and hash context, e.g. `otp-sms`. */
  purpose: string;
  digits: number;
  ttlSeconds: number;
  cooldownSeconds: number;
  events: CheckEvents & { codeAdded: string };
}

/**
 * Sends the code (`codeId` names it in logs and mails, never the code); rejects when it certainly did
 * not go out (the code is then discarded).
 */
export type Deliver = (code: string, expiresAt: number, codeId: string) => Promise<void>;

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
    private readonly checks: CodeCheckStrategy,
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
    const issue = async (em: EntityManager) => {
      // the code and its event, in one statement on PostgreSQL
      const event = await this.events.changeAndAppend(
        em,
        this.store.replacement({
          purpose: policy.purpose,
          userId: subject.id,
          codeId,
          codeHash,
          expiresAt,
          now,
          sentBefore: cooldownCutoff(now, policy.cooldownSeconds),
        }),
        userEvent(caller, subject, policy.events.codeAdded, { expiresAt: new Date(expiresAt).toISOString() }),
      );
      if (!event) {
        const current = await this.store.find(em, policy.purpose, subject.id);
        throw E.cooldown(cooldownRetryAfterSeconds(current?.sentAt, now, policy.cooldownSeconds));
      }
      // written after the code, in the same transaction: throwing here undoes the code too
      if (beforeIssue) await beforeIssue(em, now);
      return event;
    };
    // without further writes, one statement needs no transaction (PostgreSQL)
    const event = await (beforeIssue ? this.runner.run(issue) : this.runner.oneStatement(issue));
    try {
      await deliver(code, expiresAt, codeId);
    } catch {
      await this.runner.run((em) => this.store.discard(em, policy.purpose, subject.id, codeId));
      throw E.unavailable();
    }
    return event;
  }

  /**
   * Checks a code once (CodeCheckStrategy). The attempt, a `check.failed` (and `check.locked` when the
   * code's last attempt failed) are committed; the error is thrown after the commit. An error of
   * `factor` is thrown too, and nothing was written then.
   */
  async check(
    policy: CodePolicy,
    caller: Principal,
    subject: CodeSubject,
    code: string,
    factor?: FactorCondition,
  ): Promise<AppendedEvent> {
    const outcome = await this.checks.check({
      purpose: policy.purpose,
      events: policy.events,
      caller,
      subject,
      code,
      factor,
      now: this.clock.now(),
      maxAttempts: this.config.otp.maxAttempts,
    });
    switch (outcome.kind) {
      case 'succeeded':
        return outcome.event;
      case 'refused':
        throw outcome.error;
      case 'failed':
        throw tagOutcome(failureError(outcome.failure), { lockoutStarted: outcome.locked });
    }
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
