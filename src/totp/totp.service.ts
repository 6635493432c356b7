import { Injectable } from '@nestjs/common';
import { Principal } from '../common/auth/principal';
import { retryBounded, TryAgain } from '../common/concurrency/bounded-retry';
import { InFlight } from '../common/concurrency/in-flight';
import { AppConfig } from '../common/config/app-config';
import { SecretBox } from '../common/crypto/secret-box';
import { TransactionRunner } from '../common/database/transaction-runner';
import { addDetails, changeDetails } from '../common/events/details';
import { AppendedEvent, EventStore } from '../common/events/event-store';
import { tagOutcome } from '../common/observability/verify-outcome';
import { qrSvgDataUri } from '../common/qr/qr-code';
import { Clock } from '../common/time/clock';
import { UsersReader } from '../identity';
import { AttemptRequest } from './attempt/attempt-decision';
import { AttemptStrategy } from './attempt/attempt.strategy';
import { DetailsResponseDto } from '../common/openapi/details-response.dto';
import { AddMyAuthFactorOTPResponseDto, RegisterTOTPResponseDto } from './dto/totp.dto';
import { TotpState } from './entities/totp-factor.entity';
import { newTotpSecret, totpUri } from './totp-algorithm';
import { TotpErrors } from './totp.errors';
import { TotpEvents, TotpEventType } from './totp.events';
import { TotpRepository } from './totp.repository';

/**
 * How many times an attempt may find the window full or just freed before it answers "locked", and how
 * long it waits each time for attempts judged by another instance (those of this process are awaited).
 */
const ATTEMPT_ROUNDS = 20;
const JUDGING_WAIT_MS = 20;
const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Every attempt of the window is taken and no lock set yet: the last ones are still being judged. */
interface Judging {
  judging: true;
  retryAfterSeconds: number;
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
    private readonly attempts: AttemptStrategy,
  ) {}

  /** RegisterTOTP: a new secret (replacing an unverified one); 409 once ready. */
  async register(caller: Principal, userId: string): Promise<RegisterTOTPResponseDto> {
    const { event, uri, secret } = await this.newSecret(caller, userId);
    return { details: changeDetails(event), uri, secret, qrCode: await qrSvgDataUri(uri) };
  }

  /** v1 AddMyAuthFactorOTP: as register, answering `url` and add details (`creationDate`), as upstream. */
  async registerMine(caller: Principal): Promise<AddMyAuthFactorOTPResponseDto> {
    const { uri, secret, event } = await this.newSecret(caller, caller.userId);
    return { url: uri, secret, details: addDetails(event), qrCode: await qrSvgDataUri(uri) };
  }

  private async newSecret(
    caller: Principal,
    userId: string,
  ): Promise<{ event: AppendedEvent; uri: string; secret: string }> {
    const user = await this.users.requireHuman(userId, TotpErrors.userNotFound);
    const secret = newTotpSecret();
    const sealed = this.box.seal(secret, userId);
    // The secret and its event in one statement on PostgreSQL (no transaction round trips).
    const event = await this.runner.oneStatement((em) =>
      this.events.changeAndAppend(em, this.repo.newSecret(userId, user.orgId, sealed, this.clock.now()), {
        aggregateType: 'user',
        aggregateId: userId,
        resourceOwner: user.orgId,
        creator: caller.userId,
        eventType: TotpEvents.added,
      }),
    );
    if (!event) throw TotpErrors.alreadySetUp();
    return { event, uri: totpUri(this.config.totp.issuer, user.loginName, secret), secret };
  }

  /** VerifyTOTPRegistration / VerifyMyAuthFactorOTP: the first code makes the TOTP ready. */
  async verifyRegistration(caller: Principal, userId: string, code: string): Promise<DetailsResponseDto> {
    const event = await this.attempt(caller, userId, code, 'NOT_READY', TotpEvents.verified);
    return { details: changeDetails(event) };
  }

  /** Our `_check`: a code of a ready TOTP, at sign-in or step-up time. */
  async check(caller: Principal, userId: string, code: string): Promise<DetailsResponseDto> {
    const event = await this.attempt(
      caller,
      userId,
      code,
      'READY',
      TotpEvents.checkSucceeded,
      TotpEvents.checkFailed,
    );
    return { details: changeDetails(event) };
  }

  /** RemoveTOTP / RemoveMyAuthFactorOTP: works for unverified and ready TOTPs. */
  async remove(caller: Principal, userId: string): Promise<DetailsResponseDto> {
    const event = await this.runner.run(async (em) => {
      const removed = await this.repo.remove(em, userId);
      if (!removed) throw TotpErrors.nothingToRemove();
      return this.events.append(em, {
        aggregateType: 'user',
        aggregateId: userId,
        resourceOwner: removed.orgId,
        creator: caller.userId,
        eventType: TotpEvents.removed,
      });
    });
    return { details: changeDetails(event) };
  }

  /**
   * One code attempt, in rounds: another round when the factor looked takeable after all (a success
   * reset it meanwhile), or while the window's last attempts are still being judged (their outcome
   * decides: a success or a replay frees the window, a failure locks the factor). Attempts judged in
   * this process are awaited; those of another instance are polled for a bounded time.
   */
  private attempt(
    caller: Principal,
    userId: string,
    code: string,
    requiredState: TotpState,
    successEvent: TotpEventType,
    failureEvent?: TotpEventType,
  ): Promise<AppendedEvent> {
    const now = this.clock.now();
    const { maxAttempts, lockoutSeconds } = this.config.otp;
    const request: AttemptRequest = {
      userId,
      code,
      now,
      requiredState,
      maxAttempts,
      windowMs: lockoutSeconds * 1000,
      lockoutSeconds,
      creator: caller.userId,
      onSuccess: { state: 'READY', eventType: successEvent },
      failureEventType: failureEvent,
    };
    return retryBounded<AppendedEvent, Judging | undefined>({
      rounds: ATTEMPT_ROUNDS,
      attempt: async () => {
        const outcome = await this.judging.track(userId, this.attempts.attempt(request));
        switch (outcome.kind) {
          case 'accepted':
            return outcome.event;
          case 'rejected':
            throw tagOutcome(TotpErrors.invalidCode(), { lockoutStarted: outcome.locked });
          case 'replayed':
            throw tagOutcome(TotpErrors.invalidCode(), { result: 'replayed' });
          case 'unavailable': {
            const why = await this.whyUnavailable(userId, requiredState, now);
            if (why instanceof Error) throw why;
            return new TryAgain(why);
          }
        }
      },
      between: async (why) => {
        if (why && !(await this.judging.settled(userId))) await delay(JUDGING_WAIT_MS);
      },
      giveUp: (why) => {
        throw TotpErrors.locked(why?.retryAfterSeconds ?? 1);
      },
    });
  }

  /**
   * Why no code is taken: in ZITADEL's order (missing, state), then our lockout; `judging` when every
   * attempt of the window is taken but the last ones are still being judged; undefined if it takes codes now.
   */
  private async whyUnavailable(
    userId: string,
    requiredState: TotpState,
    now: number,
  ): Promise<Error | Judging | undefined> {
    const f = await this.repo.find(userId);
    if (!f) return TotpErrors.notExisting();
    if (f.state !== requiredState)
      return requiredState === 'NOT_READY' ? TotpErrors.alreadyReady() : TotpErrors.notReady();
    if (f.lockedUntil > now) return TotpErrors.locked(Math.ceil((f.lockedUntil - now) / 1000));
    const windowEnd = f.windowStartedAt + this.config.otp.lockoutSeconds * 1000;
    if (f.failedAttempts >= this.config.otp.maxAttempts && windowEnd > now) {
      return { judging: true, retryAfterSeconds: Math.ceil((windowEnd - now) / 1000) };
    }
    return undefined;
  }
}
