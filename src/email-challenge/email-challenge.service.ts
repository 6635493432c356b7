import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { Principal } from '../common/auth/principal';
import { StepUpOutcome, StepUpVerifier } from '../common/auth/step-up';
import { AppConfig } from '../common/config/app-config';
import { newRandomId, RANDOM_ID_PATTERN } from '../common/database/id-generator';
import { TransactionRunner } from '../common/database/transaction-runner';
import { CodeHasher } from '../common/crypto/code-hasher';
import {
  attemptsRemaining,
  codeExpiresAt,
  cooldownCutoff,
  cooldownRetryAfterSeconds,
  inCooldown,
  issueCode,
} from '../common/one-time-code/code-rules';
import { DomainError } from '../common/errors/domain-error';
import { tagOutcome } from '../common/observability/verify-outcome';
import { EventStore } from '../common/events/event-store';
import { Clock } from '../common/time/clock';
import { UsersReader, UserView } from '../identity';
import {
  ChallengeStatus,
  ConsumeEmailChallengeResponseDto,
  CreateEmailChallengeRequestDto,
  CreateEmailChallengeResponseDto,
  EmailChallengeDto,
  ResendEmailChallengeResponseDto,
  VerifyEmailResponseDto,
} from './dto/email-challenge.dto';
import { EmailChallengeErrors } from './email-challenge.errors';
import { challengeCodeContext, challengeEvent, EmailChallengeEvents } from './email-challenge.events';
import { ChallengeRow, EmailChallengeRepository } from './email-challenge.repository';
import { ChallengeVerifyStrategy, VerifyOutcome } from './verify/challenge-verify';
import { MailSender } from '../common/mail/mail-sender';
import { maskEmail } from '../common/mail/mask-email';

export const CODE_DIGITS = 6;
export const DEFAULT_TTL_SECONDS = 300;

/** The status a reader sees: a PENDING challenge past its expiry is EXPIRED (decided by the clock, not a job). */
export function effectiveStatus(row: ChallengeRow, now: number): ChallengeStatus {
  return row.status === 'PENDING' && row.expiresAt <= now ? 'EXPIRED' : row.status;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Step-up challenges by email: create (code mailed), verify (subject only), read, resend, consume
 * (once). Also the StepUpVerifier that lets any route demand a verified challenge.
 */
@Injectable()
export class EmailChallengeService extends StepUpVerifier {
  constructor(
    private readonly repo: EmailChallengeRepository,
    private readonly tx: TransactionRunner,
    private readonly events: EventStore,
    private readonly users: UsersReader,
    private readonly hasher: CodeHasher,
    private readonly mail: MailSender,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly verifier: ChallengeVerifyStrategy,
  ) {
    super();
  }

  async create(
    caller: Principal,
    dto: CreateEmailChallengeRequestDto,
  ): Promise<CreateEmailChallengeResponseDto> {
    const user = await this.mailableUser(dto.userId);
    const now = this.clock.now();
    // Random, not time-ordered: an id tells nothing about other challenges.
    const id = newRandomId();
    const ttlSeconds = dto.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    const { code, codeHash } = issueCode(this.hasher, CODE_DIGITS, challengeCodeContext(id, 1));
    const row: ChallengeRow = {
      id,
      userId: user.id,
      orgId: user.orgId,
      operation: dto.operation,
      status: 'PENDING',
      codeHash,
      generation: 1,
      attempts: 0,
      maxAttempts: this.config.otp.maxAttempts,
      ttlSeconds,
      expiresAt: codeExpiresAt(now, ttlSeconds),
      lastSentAt: now,
      verifiedAt: null,
      consumedAt: null,
      createdAt: now,
    };
    // the challenge, its context and its event in one statement on PostgreSQL
    const added = await this.tx.oneStatement((em) =>
      this.events.changeAndAppend(
        em,
        this.repo.creation(row, dto.context ?? {}),
        challengeEvent(row, caller.userId, EmailChallengeEvents.added, {
          operation: row.operation,
          ttlSeconds,
        }),
      ),
    );
    if (!added) throw new Error('the new challenge was not stored');
    try {
      // Within MAIL_SEND_DEADLINE_MS. A mail transmitted in full but not yet confirmed by the relay
      // counts as sent: the user most likely gets the code, so the challenge it belongs to stays.
      await this.mail.send({
        to: user.email!,
        challengeId: id,
        code,
        operation: row.operation,
        expiresAt: row.expiresAt,
        ttlSeconds,
      });
    } catch (e) {
      // Certainly not delivered, and the caller never learns the id: nothing half-made stays behind.
      await this.tx.run(async (em) => {
        await this.repo.remove(em, id);
        await this.append(em, row, caller.userId, EmailChallengeEvents.removed, { reason: 'mail.failed' });
      });
      throw EmailChallengeErrors.mailFailed(e);
    }
    await this.tx.oneStatement((em) => this.repo.markSent(em, id));
    return {
      challengeId: id,
      status: 'PENDING',
      expiresAt: iso(row.expiresAt),
      maskedEmail: maskEmail(user.email!),
    };
  }

  async verify(caller: Principal, challengeId: string, totp: string): Promise<VerifyEmailResponseDto> {
    const now = this.clock.now();
    // Whitespace around the code is ignored here (OTP SMS compares the body as sent; see README).
    // An id no challenge can have takes no attempt: refused, and answered as an unknown one.
    const outcome: VerifyOutcome = RANDOM_ID_PATTERN.test(challengeId)
      ? await this.verifier.verify({ challengeId, userId: caller.userId, code: totp.trim(), now })
      : { kind: 'refused' };
    switch (outcome.kind) {
      case 'verified':
        return { challengeId, status: 'VERIFIED', verifiedAt: iso(outcome.verifiedAt) };
      case 'wrong':
        throw tagOutcome(EmailChallengeErrors.invalidCode(outcome.remaining), {
          lockoutStarted: outcome.locked,
        });
      case 'refused':
        throw this.whyNotVerifiable(caller, await this.repo.find(challengeId), now);
    }
  }

  async get(caller: Principal, challengeId: string): Promise<EmailChallengeDto> {
    const row = await this.readable(caller, challengeId);
    const now = this.clock.now();
    return {
      challengeId: row.id,
      userId: row.userId,
      operation: row.operation,
      status: effectiveStatus(row, now),
      expiresAt: iso(row.expiresAt),
      ...(row.verifiedAt !== null ? { verifiedAt: iso(row.verifiedAt) } : {}),
      attemptsRemaining: attemptsRemaining(row.attempts, row.maxAttempts),
    };
  }

  async resend(caller: Principal, challengeId: string): Promise<ResendEmailChallengeResponseDto> {
    const row = await this.readable(caller, challengeId);
    const now = this.clock.now();
    this.assertVerifiable(row, now);
    const cooldown = this.config.mail.resendCooldownSeconds;
    if (inCooldown(row.lastSentAt, now, cooldown))
      throw EmailChallengeErrors.cooldown(cooldownRetryAfterSeconds(row.lastSentAt, now, cooldown));
    const user = await this.mailableUser(row.userId);
    const generation = row.generation + 1;
    const { code, codeHash } = issueCode(this.hasher, CODE_DIGITS, challengeCodeContext(row.id, generation));
    const expiresAt = codeExpiresAt(now, row.ttlSeconds);
    const replaced = await this.tx.run(async (em) => {
      const ok = await this.repo.replaceCode(em, {
        id: row.id,
        generation: row.generation,
        codeHash,
        now,
        expiresAt,
        cooldownCutoff: cooldownCutoff(now, cooldown),
      });
      if (ok) await this.append(em, row, caller.userId, EmailChallengeEvents.codeResent, { generation });
      return ok;
    });
    if (!replaced) {
      const fresh = await this.repo.find(row.id);
      if (fresh && effectiveStatus(fresh, now) === 'PENDING') {
        throw EmailChallengeErrors.cooldown(cooldownRetryAfterSeconds(fresh.lastSentAt, now, cooldown));
      }
      throw this.goneOrNotFound(fresh, now);
    }
    try {
      await this.mail.send({
        to: user.email!,
        challengeId: row.id,
        code,
        operation: row.operation,
        expiresAt,
        ttlSeconds: row.ttlSeconds,
      });
    } catch (e) {
      // The old code is dead and the new one never arrived: let the caller retry at once.
      await this.tx.run((em) => this.repo.resetSendTime(em, row.id, generation, row.lastSentAt));
      throw EmailChallengeErrors.mailFailed(e);
    }
    return { challengeId: row.id, expiresAt: iso(expiresAt) };
  }

  /** For holders of mfa.challenge.write (checked by the guard): the verified challenge's context, once. */
  async consume(caller: Principal, challengeId: string): Promise<ConsumeEmailChallengeResponseDto> {
    const row = await this.repo.find(challengeId);
    if (!row) throw EmailChallengeErrors.notFound();
    const now = this.clock.now();
    this.assertConsumable(row, now);
    const context = await this.tx.run(async (em) => {
      const taken = await this.repo.consume(em, row.id, now);
      if (taken) await this.append(em, row, caller.userId, EmailChallengeEvents.consumed, { by: 'api' });
      return taken;
    });
    if (!context) {
      const fresh = await this.repo.find(row.id);
      if (!fresh) throw EmailChallengeErrors.notFound();
      this.assertConsumable(fresh, now);
      throw EmailChallengeErrors.contextPurged();
    }
    return { challengeId: row.id, userId: row.userId, operation: row.operation, context };
  }

  /** StepUpVerifier: consume a VERIFIED challenge of `userId` for `operation` (e.g. before removing a factor). */
  async consumeStepUp(challengeId: string, userId: string, operation: string): Promise<StepUpOutcome> {
    const row = await this.repo.find(challengeId);
    if (!row) return { ok: false, reason: 'unknown' };
    // Another user's challenge reads as unknown: the answer must not tell which ids exist.
    if (row.userId !== userId) return { ok: false, reason: 'unknown' };
    if (row.operation !== operation) return { ok: false, reason: 'other-operation' };
    const now = this.clock.now();
    const refusal = stepUpRefusal(effectiveStatus(row, now));
    if (refusal) return { ok: false, reason: refusal };
    const consumed = await this.tx.run(async (em) => {
      const taken = await this.repo.consume(em, row.id, now, { userId, operation });
      if (taken) await this.append(em, row, userId, EmailChallengeEvents.consumed, { by: 'step-up' });
      return taken !== undefined;
    });
    if (consumed) return { ok: true };
    const fresh = await this.repo.find(row.id);
    if (!fresh) return { ok: false, reason: 'unknown' };
    return { ok: false, reason: stepUpRefusal(effectiveStatus(fresh, now)) ?? 'context-purged' };
  }

  // ---- rules ----

  /** The subject, or a holder of mfa.challenge.write on the subject's organisation. Unknown ids: 404 only for instance-wide holders. */
  private async readable(caller: Principal, challengeId: string): Promise<ChallengeRow> {
    const row = await this.repo.find(challengeId);
    if (!row) {
      if (caller.canOnInstance('mfa.challenge.write')) throw EmailChallengeErrors.notFound();
      throw EmailChallengeErrors.forbidden();
    }
    if (row.userId !== caller.userId && !caller.can('mfa.challenge.write', row.orgId))
      throw EmailChallengeErrors.forbidden();
    return row;
  }

  /** A human, active user with a verified email address; anything else is USER_NOT_FOUND. */
  private async mailableUser(userId: string): Promise<UserView> {
    const user = await this.users.findUser(userId);
    if (!user || user.type !== 'human' || user.state !== 'ACTIVE' || !user.email || !user.emailVerified) {
      throw EmailChallengeErrors.userNotFound();
    }
    return user;
  }

  private assertVerifiable(row: ChallengeRow, now: number): void {
    const status = effectiveStatus(row, now);
    if (status !== 'PENDING') throw EmailChallengeErrors.gone(status);
  }

  private assertConsumable(row: ChallengeRow, now: number): void {
    const status = effectiveStatus(row, now);
    if (status === 'PENDING') throw EmailChallengeErrors.notVerified();
    if (status !== 'VERIFIED') throw EmailChallengeErrors.gone(status);
  }

  /** Why `caller` could not spend an attempt on the challenge `row` (as read after the refusal). */
  private whyNotVerifiable(caller: Principal, row: ChallengeRow | undefined, now: number): DomainError {
    // Unknown ids answer like other users' challenges, except to those who may create challenges for anyone.
    if (!row)
      return caller.canOnInstance('mfa.challenge.write')
        ? EmailChallengeErrors.notFound()
        : EmailChallengeErrors.notSubject();
    if (row.userId !== caller.userId) return EmailChallengeErrors.notSubject();
    return this.goneOrNotFound(row, now);
  }

  private goneOrNotFound(row: ChallengeRow | undefined, now: number): DomainError {
    if (!row) return EmailChallengeErrors.notFound();
    const status = effectiveStatus(row, now);
    // Still PENDING yet not updatable: the attempt budget ran out in a concurrent request.
    return EmailChallengeErrors.gone(status === 'PENDING' ? 'LOCKED' : status);
  }

  private append(
    em: EntityManager,
    row: Pick<ChallengeRow, 'id' | 'orgId'>,
    creator: string,
    eventType: string,
    payload?: Record<string, unknown>,
  ) {
    return this.events.append(em, challengeEvent(row, creator, eventType, payload));
  }
}

function stepUpRefusal(status: ChallengeStatus): Exclude<StepUpOutcome, { ok: true }>['reason'] | undefined {
  switch (status) {
    case 'VERIFIED':
      return undefined;
    case 'PENDING':
      return 'not-verified';
    case 'EXPIRED':
      return 'expired';
    case 'LOCKED':
      return 'locked';
    case 'CONSUMED':
      return 'already-consumed';
  }
}
