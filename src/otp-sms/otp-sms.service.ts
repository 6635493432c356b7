import { Injectable, Logger } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { Principal } from '../common/auth/principal';
import { AppConfig } from '../common/config/app-config';
import { CodeHasher } from '../common/crypto/code-hasher';
import { SecretBox } from '../common/crypto/secret-box';
import { isUniqueViolation } from '../common/database/db-dialect';
import { newId } from '../common/database/id-generator';
import { TransactionBatcher } from '../common/database/transaction-batcher';
import { TransactionRunner } from '../common/database/transaction-runner';
import { DomainError } from '../common/errors/domain-error';
import { tagOutcome } from '../common/observability/verify-outcome';
import { resourceDetails } from '../common/events/details';
import { AppendedEvent, EventStore, userEvent } from '../common/events/event-store';
import { Clock } from '../common/time/clock';
import {
  codeContext,
  codeExpiresAt,
  cooldownCutoff,
  cooldownRetryAfterSeconds,
  issueCode,
  judgeAttempt,
  NoAttemptReason,
  whyNoAttempt,
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
import { OtpSmsAuthenticator, OtpSmsRepository } from './otp-sms.repository';
import { maskPhone, normalizeE164 } from './phone-number';
import { renderSmsText, SmsDeliveryError, SmsSender } from './sms/sms-sender';
import { V3alphaScope } from './v3alpha-scope';

const CODE_DIGITS = 8;

/** How a new code reaches the user. */
type Delivery = 'send' | 'return';
/** What a code is for: proving the number (PENDING) or signing in (READY). */
type Purpose = 'registration' | 'sign-in';

/** Why a code could not be used: decides the error and whether the failure is recorded. */
type CodeFailure = 'notFound' | 'wrongState' | NoAttemptReason | 'invalid';

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
  ) {
    this.codeUses = tx.batched(
      (em, uses) => this.useCodes(em, uses),
      (u) => u.user.id,
    );
  }

  private readonly codeUses: TransactionBatcher<CodeUse, CodeUseOutcome>;

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
   * Verifies a registration code or checks a sign-in code (in a batch of the uses that arrive
   * together, `useCodes`); the error of a failure is thrown after the commit. The code is compared
   * exactly as sent: whitespace around it makes it wrong (email challenges trim it; README).
   */
  private async useCode(
    caller: Principal,
    user: UserView,
    otpSmsId: string,
    code: string,
    purpose: Purpose,
  ): Promise<AppendedEvent> {
    const outcome = await this.codeUses.submit({
      caller,
      user,
      otpSmsId,
      code,
      purpose,
      now: this.clock.now(),
    });
    if (outcome.kind === 'used') return outcome.event;
    throw tagOutcome(failureError(outcome.failure, purpose), { lockoutStarted: outcome.lockoutStarted });
  }

  /**
   * Uses a batch of codes (one per user) in one transaction (TransactionBatcher). Each use spends an
   * attempt (one conditional UPDATE for the batch) before its code is compared; the right codes are
   * used up, with their events, in one more statement (EventStore.changeAndAppendEach). A sign-in
   * failure is recorded as `check.failed` in the same transaction, so it stays even though the request
   * fails.
   */
  private async useCodes(em: EntityManager, uses: CodeUse[]): Promise<CodeUseOutcome[]> {
    const max = this.config.otp.maxAttempts;
    const taken = await this.repo.takeAttempts(
      em,
      uses.map((u) => ({
        userId: u.user.id,
        id: u.otpSmsId,
        state: stateFor(u.purpose),
        now: u.now,
        maxAttempts: max,
      })),
    );
    const verdicts = uses.map((u, i) => {
      const t = taken[i];
      return t && judgeAttempt(this.hasher, u.code, smsCodeContext(u.otpSmsId, t.codeGeneration), t, max);
    });
    const matched = uses.flatMap((_, i) => (verdicts[i] === 'match' ? [i] : []));
    const used = await this.events.changeAndAppendEach(
      em,
      this.repo.codeConsumptions(
        em,
        matched.map((i) => ({
          id: uses[i].otpSmsId,
          generation: taken[i]!.codeGeneration,
          now: uses[i].now,
          markReady: uses[i].purpose === 'registration',
        })),
      ),
      matched.map((i) => {
        const u = uses[i];
        const type = u.purpose === 'registration' ? OtpSmsEvents.verified : OtpSmsEvents.checkSucceeded;
        return userEvent(u.caller, u.user, type, { otpSmsId: u.otpSmsId });
      }),
    );
    const outcomes: CodeUseOutcome[] = [];
    for (const [i, u] of uses.entries()) {
      const m = matched.indexOf(i);
      const event = m >= 0 ? used[m] : undefined;
      if (event) {
        outcomes.push({ kind: 'used', event });
        continue;
      }
      let failure: CodeFailure;
      if (!taken[i])
        failure = classify(await this.repo.find(u.user.id, u.otpSmsId, em), stateFor(u.purpose), u.now, max);
      else failure = m >= 0 ? 'noCode' : 'invalid';
      if (u.purpose === 'sign-in' && failure !== 'notFound' && failure !== 'wrongState') {
        await this.events.appendUserEvent(em, u.caller, u.user, OtpSmsEvents.checkFailed, {
          otpSmsId: u.otpSmsId,
          reason: failure,
        });
      }
      // A wrong code that spent the code's last attempt: the code is dead from now on.
      outcomes.push({ kind: 'failed', failure, lockoutStarted: verdicts[i] === 'wrong-exhausted' });
    }
    return outcomes;
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

/** A code sent to be used, as its batch sees it. */
interface CodeUse {
  caller: Principal;
  user: UserView;
  otpSmsId: string;
  code: string;
  purpose: Purpose;
  now: number;
}

type CodeUseOutcome =
  { kind: 'used'; event: AppendedEvent } | { kind: 'failed'; failure: CodeFailure; lockoutStarted: boolean };

/** The state an authenticator must be in for a code of `purpose`. */
const stateFor = (purpose: Purpose): OtpSmsState => (purpose === 'registration' ? 'PENDING' : 'READY');

/** The hash context of a code: the authenticator and the code's generation. */
function smsCodeContext(id: string, generation: number): string {
  return codeContext('otp-sms', id, generation);
}

function codeAddedPayload(otpSmsId: string, purpose: Purpose, delivery: Delivery, expiresAt: number) {
  return { otpSmsId, purpose, delivery, expiresAt: new Date(expiresAt).toISOString() };
}

function deliveryOf(dto: SendOTPSMSCodeRequestDto): Delivery {
  if (dto.sendCode !== undefined && dto.returnCode !== undefined) throw OtpSmsErrors.oneDelivery();
  return dto.returnCode !== undefined ? 'return' : 'send';
}

/** Why no attempt could be taken, from the current row: the authenticator's own reasons, then the code's. */
function classify(
  a: OtpSmsAuthenticator | undefined,
  state: OtpSmsState,
  now: number,
  maxAttempts: number,
): CodeFailure {
  if (!a) return 'notFound';
  if (a.state !== state) return 'wrongState';
  return whyNoAttempt(
    { codeHash: a.codeHash, expiresAt: a.codeExpiresAt, attempts: a.codeAttempts },
    now,
    maxAttempts,
  );
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
