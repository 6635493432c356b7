import { Injectable } from '@nestjs/common';
import { Principal } from '../common/auth/principal';
import { AppConfig } from '../common/config/app-config';
import { SecretBox } from '../common/crypto/secret-box';
import { TransactionRunner } from '../common/database/transaction-runner';
import { InFlight } from '../common/concurrency/in-flight';
import { Errors } from '../common/errors/domain-error';
import { tagOutcome } from '../common/observability/verify-outcome';
import { addDetails, changeDetails, ObjectDetailsDto } from '../common/events/details';
import { AppendedEvent, EventStore } from '../common/events/event-store';
import { Clock } from '../common/time/clock';
import { UsersReader } from '../identity';
import { TotpState } from './entities/totp-factor.entity';
import { matchStep, newTotpSecret, totpUri } from './totp-algorithm';
import { ReservedFactor, TotpRepository } from './totp.repository';

export const OTP_EVENTS = {
  added: 'user.human.mfa.otp.added',
  verified: 'user.human.mfa.otp.verified',
  removed: 'user.human.mfa.otp.removed',
  checkSucceeded: 'user.human.mfa.otp.check.succeeded',
  checkFailed: 'user.human.mfa.otp.check.failed',
} as const;

/** ZITADEL's errors, with their ids and English texts (zitadel-behaviour.md §4, §7). */
const USER_NOT_FOUND = () => Errors.failedPrecondition('COMMAND-SqyJz', 'User could not be found');
const ALREADY_SET_UP = () =>
  Errors.alreadyExists('COMMAND-do9se', 'Multifactor OTP (OneTimePassword) is already set up');
const NOT_EXISTING = (id: string) => Errors.notFound(id, "Multifactor OTP (OneTimePassword) doesn't exist");
// Upstream's typo `Users` has no translation, so the raw key is the message.
const ALREADY_READY = () => Errors.failedPrecondition('COMMAND-qx4ls', 'Errors.Users.MFA.OTP.AlreadyReady');
const NOT_READY = () =>
  Errors.failedPrecondition('COMMAND-3Mif9s', "Multifactor OTP (OneTimePassword) isn't ready");
const INVALID_CODE = () => Errors.invalidArgument('EVENT-8isk2', 'Invalid code');
const LOCKED = (retryAfterSeconds: number) =>
  Errors.resourceExhausted('TOTP-4ttmp', 'Too many failed attempts, try again later', { retryAfterSeconds });

/**
 * How many times an attempt may find the window full or just freed before it answers "locked", and how
 * long it waits each time for attempts judged by another instance (those of this process are awaited).
 */
const ATTEMPT_ROUNDS = 20;
const JUDGING_WAIT_MS = 20;
const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Lockouts double from OTP_LOCKOUT_SECONDS, capped at a day (or the base, when that is longer). */
export function lockoutMs(baseSeconds: number, previousLockouts: number): number {
  const base = baseSeconds * 1000;
  return Math.min(base * 2 ** Math.min(previousLockouts, 20), Math.max(base, 86_400_000));
}

export interface RegisterResult {
  details: ObjectDetailsDto;
  uri: string;
  secret: string;
}

/**
 * The TOTP life cycle (ZITADEL HumanTOTP commands) plus our `_check`: one TOTP per user, NOT_READY until a
 * code verifies it, READY afterwards. Better than upstream: each accepted time step is consumed (no
 * replay), and failed codes are counted per factor with a doubling lockout.
 */
@Injectable()
export class TotpService {
  /** Attempts being judged in this process, per user: a full window waits for them, not on a timer. */
  private readonly judging = new InFlight();

  constructor(
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly users: UsersReader,
    private readonly box: SecretBox,
    private readonly runner: TransactionRunner,
    private readonly events: EventStore,
    private readonly repo: TotpRepository,
  ) {}

  /** RegisterTOTP: a new secret (replacing an unverified one); 409 once ready. */
  async register(caller: Principal, userId: string): Promise<RegisterResult> {
    const { event, uri, secret } = await this.newSecret(caller, userId);
    return { details: changeDetails(event), uri, secret };
  }

  /** v1 AddMyAuthFactorOTP: as register, answering `url` and add details (`creationDate`), as upstream. */
  async registerMine(caller: Principal): Promise<{ url: string; secret: string; details: ObjectDetailsDto }> {
    const { uri, secret, event } = await this.newSecret(caller, caller.userId);
    return { url: uri, secret, details: addDetails(event) };
  }

  private async newSecret(
    caller: Principal,
    userId: string,
  ): Promise<{ event: AppendedEvent; uri: string; secret: string }> {
    const user = await this.users.findUser(userId);
    if (!user || user.type !== 'human') throw USER_NOT_FOUND();
    const secret = newTotpSecret();
    const sealed = this.box.seal(secret, userId);
    const event = await this.runner.run(async (em) => {
      if (!(await this.repo.saveUnverified(em, userId, user.orgId, sealed, this.clock.now())))
        throw ALREADY_SET_UP();
      return this.events.append(em, {
        aggregateType: 'user',
        aggregateId: userId,
        resourceOwner: user.orgId,
        creator: caller.userId,
        eventType: OTP_EVENTS.added,
      });
    });
    return { event, uri: totpUri(this.config.totp.issuer, user.loginName, secret), secret };
  }

  /** VerifyTOTPRegistration / VerifyMyAuthFactorOTP: the first code makes the TOTP ready. */
  async verifyRegistration(
    caller: Principal,
    userId: string,
    code: string,
  ): Promise<{ details: ObjectDetailsDto }> {
    const event = await this.attempt(caller, userId, code, 'NOT_READY', OTP_EVENTS.verified);
    return { details: changeDetails(event) };
  }

  /** Our `_check`: a code of a ready TOTP, at sign-in or step-up time. */
  async check(caller: Principal, userId: string, code: string): Promise<{ details: ObjectDetailsDto }> {
    const event = await this.attempt(
      caller,
      userId,
      code,
      'READY',
      OTP_EVENTS.checkSucceeded,
      OTP_EVENTS.checkFailed,
    );
    return { details: changeDetails(event) };
  }

  /** RemoveTOTP / RemoveMyAuthFactorOTP: works for unverified and ready TOTPs. */
  async remove(caller: Principal, userId: string): Promise<{ details: ObjectDetailsDto }> {
    const event = await this.runner.run(async (em) => {
      const removed = await this.repo.remove(em, userId);
      if (!removed) throw NOT_EXISTING('COMMAND-Hd9sd');
      return this.events.append(em, {
        aggregateType: 'user',
        aggregateId: userId,
        resourceOwner: removed.orgId,
        creator: caller.userId,
        eventType: OTP_EVENTS.removed,
      });
    });
    return { details: changeDetails(event) };
  }

  private async attempt(
    caller: Principal,
    userId: string,
    code: string,
    requiredState: TotpState,
    successEvent: string,
    failureEvent?: string,
  ): Promise<AppendedEvent> {
    const now = this.clock.now();
    const { maxAttempts, lockoutSeconds } = this.config.otp;
    const spec = {
      userId,
      now,
      requiredState,
      maxAttempts,
      windowMs: lockoutSeconds * 1000,
      judge: (f: ReservedFactor) => matchStep(this.box.open(f.secretSealed, f.userId), code, now),
      lockMs: (lockouts: number) => lockoutMs(lockoutSeconds, lockouts),
      creator: caller.userId,
      onSuccess: { state: 'READY' as const, eventType: successEvent },
      failureEventType: failureEvent,
    };
    // Another round when the factor looked takeable after all (a success reset it meanwhile), or while
    // the window's last attempts are still being judged (their outcome decides: a success or a replay
    // frees the window, a failure locks the factor). Attempts judged in this process are awaited;
    // those of another instance are polled for a bounded time.
    for (let round = 1; ; round++) {
      const outcome = await this.judging.track(userId, this.repo.attempt(spec));
      switch (outcome.kind) {
        case 'accepted':
          return outcome.event;
        case 'rejected':
          throw tagOutcome(INVALID_CODE(), { lockoutStarted: outcome.locked });
        case 'replayed':
          throw tagOutcome(INVALID_CODE(), { result: 'replayed' });
        case 'unavailable': {
          const why = await this.whyUnavailable(userId, requiredState, now);
          if (why instanceof Error) throw why;
          // Every round follows progress of other attempts; a bound keeps a losing request from looping.
          if (round >= ATTEMPT_ROUNDS) throw LOCKED(why?.retryAfterSeconds ?? 1);
          if (why && !(await this.judging.settled(userId))) await delay(JUDGING_WAIT_MS);
        }
      }
    }
  }

  /**
   * Why no code is taken: in ZITADEL's order (missing, state), then our lockout; `judging` when every
   * attempt of the window is taken but the last ones are still being judged; undefined if it takes codes now.
   */
  private async whyUnavailable(
    userId: string,
    requiredState: TotpState,
    now: number,
  ): Promise<Error | { judging: true; retryAfterSeconds: number } | undefined> {
    const f = await this.repo.find(userId);
    if (!f) return NOT_EXISTING('COMMAND-3Mif9s');
    if (f.state !== requiredState) return requiredState === 'NOT_READY' ? ALREADY_READY() : NOT_READY();
    if (f.lockedUntil > now) return LOCKED(Math.ceil((f.lockedUntil - now) / 1000));
    const windowEnd = f.windowStartedAt + this.config.otp.lockoutSeconds * 1000;
    // Every attempt of the window is taken and no lock set yet: the last ones are still being judged.
    if (f.failedAttempts >= this.config.otp.maxAttempts && windowEnd > now) {
      return { judging: true, retryAfterSeconds: Math.ceil((windowEnd - now) / 1000) };
    }
    return undefined;
  }
}
