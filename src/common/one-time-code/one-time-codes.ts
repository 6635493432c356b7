import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { Principal } from '../auth/principal';
import { AppConfig } from '../config/app-config';
import { CodeHasher } from '../crypto/code-hasher';
import { newRandomId } from '../database/id-generator';
import { TransactionBatcher } from '../database/transaction-batcher';
import { TransactionRunner } from '../database/transaction-runner';
import { AppendedEvent, EventStore, userEvent } from '../events/event-store';
import { DomainError } from '../errors/domain-error';
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
  ) {
    this.checks = runner.batched(
      (em, checks) => this.checkBatch(em, checks),
      (c) => c.subject.id,
    );
  }

  private readonly checks: TransactionBatcher<CodeCheck, CheckOutcome>;

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
   * Checks a code once, in a batch of the checks that arrive together (`checkBatch`). The attempt, a
   * `check.failed` (and `check.locked` when the code's last attempt failed) are committed; the error
   * is thrown after the commit. An error of `factor` is thrown too, and nothing was written then.
   */
  async check(
    policy: CodePolicy,
    caller: Principal,
    subject: CodeSubject,
    code: string,
    factor?: FactorCondition,
  ): Promise<AppendedEvent> {
    const outcome = await this.checks.submit({
      policy,
      caller,
      subject,
      code,
      factor,
      now: this.clock.now(),
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

  /**
   * Checks a batch of codes (one per user) in one transaction (TransactionBatcher): each check spends
   * an attempt (one conditional UPDATE for the batch) before its code is compared; the right codes are
   * used up, with their events, in one more statement (EventStore.changeAndAppendEach); a failure's
   * events are written one by one.
   */
  private async checkBatch(em: EntityManager, checks: CodeCheck[]): Promise<CheckOutcome[]> {
    const max = this.config.otp.maxAttempts;
    const taken = await this.store.takeAttempts(
      em,
      checks.map((c) => ({
        purpose: c.policy.purpose,
        userId: c.subject.id,
        now: c.now,
        maxAttempts: max,
        factorChannel: c.factor?.channel,
      })),
    );
    const verdicts = checks.map((c, i) => {
      const t = taken[i];
      return (
        t && judgeAttempt(this.hasher, c.code, codeContext(c.policy.purpose, c.subject.id, t.codeId), t, max)
      );
    });
    const matched = checks.flatMap((_, i) => (verdicts[i] === 'match' ? [i] : []));
    const succeeded = await this.events.changeAndAppendEach(
      em,
      this.store.consumptions(
        em,
        matched.map((i) => ({
          purpose: checks[i].policy.purpose,
          userId: checks[i].subject.id,
          codeId: taken[i]!.codeId,
        })),
      ),
      matched.map((i) =>
        userEvent(checks[i].caller, checks[i].subject, checks[i].policy.events.checkSucceeded, {}),
      ),
    );
    const outcomes: CheckOutcome[] = [];
    for (const [i, c] of checks.entries()) {
      const m = matched.indexOf(i);
      const event = m >= 0 ? succeeded[m] : undefined;
      if (event) {
        outcomes.push({ kind: 'succeeded', event });
        continue;
      }
      let failure: CodeFailure;
      if (!taken[i]) {
        // The factor first (its error before the code's), then why the code took no attempt.
        const refusal = c.factor && (await refusalOf(() => c.factor!.ifMissing(em)));
        if (refusal) {
          outcomes.push({ kind: 'refused', error: refusal });
          continue;
        }
        failure = whyNoAttempt(await this.store.find(em, c.policy.purpose, c.subject.id), c.now, max);
      } else failure = m >= 0 ? 'noCode' : 'invalid';
      const locked = verdicts[i] === 'wrong-exhausted';
      await this.events.appendUserEvent(em, c.caller, c.subject, c.policy.events.checkFailed, {
        reason: failure,
      });
      if (locked) await this.events.appendUserEvent(em, c.caller, c.subject, c.policy.events.checkLocked, {});
      outcomes.push({ kind: 'failed', failure, locked });
    }
    return outcomes;
  }

  /** Drops the pending code (the factor it belongs to was removed). */
  remove(em: EntityManager, purpose: string, userId: string): Promise<void> {
    return this.store.remove(em, purpose, userId);
  }
}

/** A check as its batch sees it. */
interface CodeCheck {
  policy: CodePolicy;
  caller: Principal;
  subject: CodeSubject;
  code: string;
  factor?: FactorCondition;
  now: number;
}

type CheckOutcome =
  | { kind: 'succeeded'; event: AppendedEvent }
  | { kind: 'failed'; failure: CodeFailure; locked: boolean }
  /** The factor condition's error: the check took no attempt and wrote nothing. */
  | { kind: 'refused'; error: DomainError };

/** The domain error `check` throws, if it does; any other error fails the whole batch. */
async function refusalOf(check: () => Promise<void>): Promise<DomainError | undefined> {
  try {
    await check();
    return undefined;
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
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
