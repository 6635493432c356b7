import { Injectable, Logger } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { Principal } from '../common/auth/principal';
import { AppConfig } from '../common/config/app-config';
import { CodeHasher } from '../common/crypto/code-hasher';
import { SecretBox } from '../common/crypto/secret-box';
import { isUniqueViolation } from '../common/database/db-dialect';
import { newId } from '../common/database/id-generator';
import { TransactionRunner } from '../common/database/transaction-runner';
import { DomainError } from '../common/errors/domain-error';
import { tagOutcome } from '../common/observability/verify-outcome';
import { resourceDetails } from '../common/events/details';
import { AppendedEvent, EventStore, userEvent } from '../common/events/event-store';
import { Clock } from '../common/time/clock';
import {
  codeExpiresAt,
  cooldownCutoff,
  cooldownRetryAfterSeconds,
  issueCode,
} from '../common/one-time-code/code-rules';
import { DailySendCounter, secondsUntilNextDay } from '../common/one-time-code/daily-send-counter';
import { UsersReader, UserView } from '../identity';
import {
  AddOTPSMSAuthenticatorResponseDto,
  CheckOTPSMSCodeResponseDto,
  RemoveOTPSMSAuthenticatorResponseDto,
  SendOTPSMSCodeRequestDto,
  SendOTPSMSCodeResponseDto,
  SetPhoneDto,
  VerifyOTPSMSRegistrationResponseDto,
} from './dto/otp-sms.dto';
import { NUMBER_HASH_CONTEXT, OtpSmsState } from './entities/otp-sms-authenticator.entity';
import { OtpSmsErrors } from './otp-sms.errors';
import { OtpSmsEvents } from './otp-sms.events';
import { OtpSmsRepository } from './otp-sms.repository';
import { maskPhone, normalizeE164 } from './phone-number';
import { renderSmsText, SmsDeliveryError, SmsSender } from './sms/sms-sender';
import { V3alphaScope } from './v3alpha-scope';
import { CodeFailure, CodeUseStrategy, Purpose, smsCodeContext } from './code-use/code-use';

const CODE_DIGITS = 8;

/** How a new code reaches the user. */
type Delivery = 'send' | 'return';

/**
 * OTP SMS authenticators (v3alpha): add with a code by SMS / returned / pre-verified, verify,
 * resend, sign-in challenge and check, remove. Rules:
 * - codes: 8 uniform digits, stored only as a keyed hash bound to `id:generation`, single use,
 *   valid SMS_CODE_TTL_SECONDS, at most OTP_MAX_ATTEMPTS tries each (an attempt is spent before the
 *   comparison, in one conditional UPDATE);
 * - new codes: SMS_RESEND_COOLDOWN_SECONDS apart per authenticator; at most
 *   SMS_DAILY_LIMIT_PER_NUMBER messages per number and UTC day (counters in the database);
 * - the SMS is sent outside any transaction; if the provider fails the request fails with 503 and
 *   nothing is created (add) or the previous code stays valid (resend / challenge). Claimed
 *   cooldown slots and daily counts are not refunded: the provider may have delivered before failing.
 */
@Injectable()
export class OtpSmsService {
  private readonly logger = new Logger(OtpSmsService.name);

  constructor(
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly tx: TransactionRunner,
    private readonly repo: OtpSmsRepository,
    private readonly events: EventStore,
    private readonly users: UsersReader,
    private readonly box: SecretBox,
    private readonly hasher: CodeHasher,
    private readonly sms: SmsSender,
    private readonly counter: DailySendCounter,
    private readonly codeUse: CodeUseStrategy,
  ) {}

  async add(
    caller: Principal,
    userId: string,
    scope: V3alphaScope,
    phone: SetPhoneDto,
  ): Promise<AddOTPSMSAuthenticatorResponseDto> {
    const user = await this.targetUser(userId, scope);
    const set = [phone.sendCode, phone.returnCode, phone.isVerified].filter((v) => v !== undefined).length;
    if (set > 1) throw OtpSmsErrors.oneVerification();
    const mode: Delivery | 'verified' = phone.isVerified ? 'verified' : phone.returnCode ? 'return' : 'send';
    if (mode === 'verified' && !this.actsForOther(caller, user)) throw OtpSmsErrors.selfVerified();
    const number = normalizeE164(phone.number);
    if (!number) throw OtpSmsErrors.phoneInvalid();
    const numberHash = this.numberHash(number);
    const now = this.clock.now();
    const id = newId(now);
    // Under every configured key: a number added before a switch of MASTER_KEY is still found.
    const anyHash = this.hasher.hashes(number, NUMBER_HASH_CONTEXT);
    if (await this.repo.existsForNumber(user.id, anyHash)) throw OtpSmsErrors.alreadyExists();

    const issued =
      mode === 'verified' ? undefined : issueCode(this.hasher, CODE_DIGITS, smsCodeContext(id, 1));
    const expiresAt = codeExpiresAt(now, this.config.sms.codeTtlSeconds);
    if (mode === 'send') {
      await this.tx.run((em) => this.countMessage(em, numberHash, now));
      await this.deliver(number, issued!.code, expiresAt);
    }
    let last: AppendedEvent;
    try {
      last = await this.tx.run(async (em) => {
        await this.repo.insert(em, {
          id,
          userId: user.id,
          numberHash,
          numberSealed: this.box.seal(number, id),
          state: mode === 'verified' ? 'READY' : 'PENDING',
          codeHash: issued ? issued.codeHash : null,
          codeGeneration: issued ? 1 : 0,
          codeExpiresAt: issued ? expiresAt : null,
          lastCodeAt: issued ? now : null,
          now,
        });
        await this.events.appendUserEvent(em, caller, user, OtpSmsEvents.added, { otpSmsId: id });
        if (mode === 'verified')
          return this.events.appendUserEvent(em, caller, user, OtpSmsEvents.verified, { otpSmsId: id });
        let e = await this.events.appendUserEvent(
          em,
          caller,
          user,
          OtpSmsEvents.codeAdded,
          codeAddedPayload(id, 'registration', mode, expiresAt),
        );
        if (mode === 'send')
          e = await this.events.appendUserEvent(em, caller, user, OtpSmsEvents.codeSent, { otpSmsId: id });
        return e;
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw OtpSmsErrors.alreadyExists();
      throw err;
    }
    return {
      details: resourceDetails(last, user.id, now),
      otpSmsId: id,
      ...(mode === 'return' ? { verificationCode: issued!.code } : {}),
    };
  }

  async verify(
    caller: Principal,
    userId: string,
    otpSmsId: string,
    scope: V3alphaScope,
    code: string,
  ): Promise<VerifyOTPSMSRegistrationResponseDto> {
    const user = await this.targetUser(userId, scope);
    const outcome = await this.useCode(caller, user, otpSmsId, code, 'registration');
    return { details: resourceDetails(outcome, user.id) };
  }

  async resend(
    caller: Principal,
    userId: string,
    otpSmsId: string,
    scope: V3alphaScope,
    dto: SendOTPSMSCodeRequestDto,
  ): Promise<SendOTPSMSCodeResponseDto> {
    const user = await this.targetUser(userId, scope);
    return this.issueCode(caller, user, otpSmsId, deliveryOf(dto), 'registration');
  }

  async challenge(
    caller: Principal,
    userId: string,
    otpSmsId: string,
    scope: V3alphaScope,
    dto: SendOTPSMSCodeRequestDto,
  ): Promise<SendOTPSMSCodeResponseDto> {
    const user = await this.targetUser(userId, scope);
    const delivery = deliveryOf(dto);
    // A sign-in code handed to the user's own session would prove nothing about the phone.
    if (delivery === 'return' && !this.actsForOther(caller, user)) throw OtpSmsErrors.selfReturnCode();
    return this.issueCode(caller, user, otpSmsId, delivery, 'sign-in');
  }

  async check(
    caller: Principal,
    userId: string,
    otpSmsId: string,
    scope: V3alphaScope,
    code: string,
  ): Promise<CheckOTPSMSCodeResponseDto> {
    const user = await this.targetUser(userId, scope);
    const outcome = await this.useCode(caller, user, otpSmsId, code, 'sign-in');
    return { details: resourceDetails(outcome, user.id) };
  }

  async remove(
    caller: Principal,
    userId: string,
    otpSmsId: string,
    scope: V3alphaScope,
  ): Promise<RemoveOTPSMSAuthenticatorResponseDto> {
    const user = await this.targetUser(userId, scope);
    const e = await this.tx.run(async (em) => {
      if (!(await this.repo.delete(em, user.id, otpSmsId))) throw OtpSmsErrors.notFound();
      return this.events.appendUserEvent(em, caller, user, OtpSmsEvents.removed, { otpSmsId });
    });
    return { details: resourceDetails(e, user.id) };
  }

  // ---------------------------------------------------------------------------------------------

  /** The user the request is about, after the v3alpha instance / organisation expectations. */
  private async targetUser(userId: string, scope: V3alphaScope): Promise<UserView> {
    const instance = this.config.instance;
    if (scope.instanceId !== undefined && scope.instanceId !== instance.id)
      throw OtpSmsErrors.instanceNotFound();
    if (scope.instanceDomain !== undefined && scope.instanceDomain.toLowerCase() !== instance.domain)
      throw OtpSmsErrors.instanceNotFound();
    const user = await this.users.requireHuman(userId, OtpSmsErrors.userNotFound);
    if (scope.orgId !== undefined && scope.orgId !== user.orgId) throw OtpSmsErrors.userNotFound();
    if (scope.orgDomain !== undefined) {
      const org = await this.users.findOrgByDomain(scope.orgDomain);
      if (!org || org.id !== user.orgId) throw OtpSmsErrors.userNotFound();
    }
    return user;
  }

  /** The caller acts for another user and may write that user's credentials. */
  private actsForOther(caller: Principal, user: UserView): boolean {
    return caller.userId !== user.id && caller.can('user.credential.write', user.orgId);
  }

  private async issueCode(
    caller: Principal,
    user: UserView,
    otpSmsId: string,
    delivery: Delivery,
    purpose: Purpose,
  ): Promise<SendOTPSMSCodeResponseDto> {
    const now = this.clock.now();
    // The claim and the message's count: one statement on PostgreSQL, no transaction round trips.
    const auth = await this.tx.oneStatement(async (em) => {
      const cooldown = this.config.sms.resendCooldownSeconds;
      const state: OtpSmsState = purpose === 'registration' ? 'PENDING' : 'READY';
      // One conditional UPDATE claims the slot (and counts the message when it is sent); only when it
      // fails is the row read to say why, in ZITADEL's order: missing, state, then our cooldown.
      const a = await this.repo.claimCodeSlot(
        em,
        user.id,
        otpSmsId,
        state,
        now,
        cooldownCutoff(now, cooldown),
        delivery === 'send' ? this.config.sms.dailyLimitPerNumber : undefined,
      );
      // thrown inside the unit: SQLite undoes the claim with it
      if (a === 'daily-limit') throw OtpSmsErrors.dailyLimit(secondsUntilNextDay(now));
      if (!a) {
        const current = await this.repo.find(user.id, otpSmsId, em);
        if (!current) throw OtpSmsErrors.notFound();
        if (purpose === 'registration' && current.state === 'READY') throw OtpSmsErrors.alreadyReady();
        if (purpose === 'sign-in' && current.state !== 'READY') throw OtpSmsErrors.notReady();
        throw OtpSmsErrors.cooldown(cooldownRetryAfterSeconds(current.lastCodeAt, now, cooldown));
      }
      return a;
    });
    const generation = auth.codeGeneration + 1;
    const { code, codeHash } = issueCode(this.hasher, CODE_DIGITS, smsCodeContext(auth.id, generation));
    const expiresAt = codeExpiresAt(now, this.config.sms.codeTtlSeconds);
    if (delivery === 'send') await this.deliver(this.box.open(auth.numberSealed, auth.id), code, expiresAt);
    const events = [
      userEvent(
        caller,
        user,
        OtpSmsEvents.codeAdded,
        codeAddedPayload(auth.id, purpose, delivery, expiresAt),
      ),
    ];
    if (delivery === 'send')
      events.push(userEvent(caller, user, OtpSmsEvents.codeSent, { otpSmsId: auth.id }));
    // the code and its events in one statement on PostgreSQL
    const e = await this.tx.oneStatement((em) =>
      this.events.changeAndAppend(
        em,
        this.repo.newCode(auth.id, auth.codeGeneration, codeHash, expiresAt, now),
        events,
      ),
    );
    if (!e) throw OtpSmsErrors.codeReplaced();
    return {
      details: resourceDetails(e, user.id),
      ...(delivery === 'return' ? { verificationCode: code } : {}),
    };
  }

  /**
   * Verifies a registration code or checks a sign-in code (CodeUseStrategy); the error of a failure
   * is thrown after the commit. The code is compared
   * exactly as sent: whitespace around it makes it wrong (email challenges trim it; README).
   */
  private async useCode(
    caller: Principal,
    user: UserView,
    otpSmsId: string,
    code: string,
    purpose: Purpose,
  ): Promise<AppendedEvent> {
    const outcome = await this.codeUse.use({
      caller,
      user,
      otpSmsId,
      code,
      purpose,
      now: this.clock.now(),
      maxAttempts: this.config.otp.maxAttempts,
    });
    if (outcome.kind === 'used') return outcome.event;
    throw tagOutcome(failureError(outcome.failure, purpose), { lockoutStarted: outcome.lockoutStarted });
  }

  /** Counts one message to the number today (shared budget); 429 with Retry-After at the limit. */
  private async countMessage(em: EntityManager, numberHash: string, now: number): Promise<void> {
    const retryAfter = await this.counter.count(em, numberHash, now, this.config.sms.dailyLimitPerNumber);
    if (retryAfter !== undefined) throw OtpSmsErrors.dailyLimit(retryAfter);
  }

  private async deliver(number: string, code: string, expiresAt: number): Promise<void> {
    const body = renderSmsText(this.config.sms.template, code, this.config.sms.codeTtlSeconds);
    try {
      await this.sms.send({ to: number, body, code, expiresAt });
    } catch (err) {
      const reason = err instanceof SmsDeliveryError ? err.message : 'unexpected error';
      this.logger.warn(`SMS to ${maskPhone(number)} not sent: ${reason}`);
      throw OtpSmsErrors.unavailable();
    }
  }

  private numberHash(e164: string): string {
    return this.hasher.hash(e164, NUMBER_HASH_CONTEXT);
  }
}

function codeAddedPayload(otpSmsId: string, purpose: Purpose, delivery: Delivery, expiresAt: number) {
  return { otpSmsId, purpose, delivery, expiresAt: new Date(expiresAt).toISOString() };
}

function deliveryOf(dto: SendOTPSMSCodeRequestDto): Delivery {
  if (dto.sendCode !== undefined && dto.returnCode !== undefined) throw OtpSmsErrors.oneDelivery();
  return dto.returnCode !== undefined ? 'return' : 'send';
}

function failureError(f: CodeFailure, purpose: Purpose): DomainError {
  switch (f) {
    case 'notFound':
      return OtpSmsErrors.notFound();
    case 'wrongState':
      return purpose === 'registration' ? OtpSmsErrors.alreadyReady() : OtpSmsErrors.notReadyToCheck();
    case 'noCode':
      return OtpSmsErrors.codeNotFound();
    case 'expired':
      return OtpSmsErrors.codeExpired();
    case 'exhausted':
      return OtpSmsErrors.codeExhausted();
    case 'invalid':
      return OtpSmsErrors.codeInvalid();
  }
}
