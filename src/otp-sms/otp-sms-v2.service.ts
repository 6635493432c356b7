import { Injectable, Logger } from '@nestjs/common';
import { Principal } from '../common/auth/principal';
import { AppConfig } from '../common/config/app-config';
import { CodeHasher } from '../common/crypto/code-hasher';
import { DetailsResponseDto } from '../common/openapi/details-response.dto';
import { DailySendCounter, SMS_NUMBER_HASH_CONTEXT } from '../common/one-time-code/daily-send-counter';
import { OneTimeCodeErrors } from '../common/one-time-code/one-time-code.errors';
import { OtpChannel, OtpChannelFactors } from '../common/one-time-code/otp-channel-factors';
import { UsersReader } from '../identity';
import { OtpSmsV2Errors } from './otp-sms.errors';
import { OTP_SMS_V2_EVENTS } from './otp-sms.events';
import { maskPhone } from './phone-number';
import { renderSmsText, SmsDeliveryError, SmsSender } from './sms/sms-sender';

const CODE_DIGITS = 8;

/**
 * ZITADEL v2 OTP SMS: one factor per user on the user's verified phone (AddOTPSMS / RemoveOTPSMS),
 * plus our `_send` / `_check` for sign-in. Codes, attempts and cooldown are the shared one-time-code
 * machinery; every SMS counts against the number's daily budget (SMS_DAILY_LIMIT_PER_NUMBER), the
 * same budget as the v3alpha authenticators'.
 */
@Injectable()
export class OtpSmsV2Service {
  private readonly logger = new Logger(OtpSmsV2Service.name);
  private readonly channel: OtpChannel;

  constructor(
    private readonly config: AppConfig,
    private readonly users: UsersReader,
    private readonly factors: OtpChannelFactors,
    private readonly counter: DailySendCounter,
    private readonly hasher: CodeHasher,
    private readonly sms: SmsSender,
  ) {
    this.channel = {
      name: 'sms',
      policy: {
        purpose: 'otp-sms',
        digits: CODE_DIGITS,
        ttlSeconds: config.sms.codeTtlSeconds,
        cooldownSeconds: config.sms.resendCooldownSeconds,
        events: OTP_SMS_V2_EVENTS,
      },
      events: OTP_SMS_V2_EVENTS,
      errors: {
        alreadyExists: OtpSmsV2Errors.alreadyExists,
        destinationNotVerified: OtpSmsV2Errors.phoneNotVerified,
        notFound: OtpSmsV2Errors.notFound,
      },
    };
  }

  async add(caller: Principal, userId: string): Promise<DetailsResponseDto> {
    const user = await this.users.requireHuman(userId);
    return this.factors.add(this.channel, caller, user, !!user.phone && user.phoneVerified);
  }

  async remove(caller: Principal, userId: string): Promise<DetailsResponseDto> {
    const user = await this.users.requireHuman(userId);
    return this.factors.remove(this.channel, caller, user);
  }

  async send(caller: Principal, userId: string): Promise<DetailsResponseDto> {
    const user = await this.users.requireHuman(userId);
    // The phone changed or lost its verification since the factor was added: no code to it.
    if (!user.phone || !user.phoneVerified) throw OtpSmsV2Errors.phoneNotVerified();
    const number = user.phone;
    const numberHash = this.hasher.hash(number, SMS_NUMBER_HASH_CONTEXT);
    return this.factors.send(
      this.channel,
      caller,
      user,
      (code, expiresAt) => this.deliver(number, code, expiresAt),
      async (em, now) => {
        const retryAfter = await this.counter.count(em, numberHash, now, this.config.sms.dailyLimitPerNumber);
        if (retryAfter !== undefined) throw OneTimeCodeErrors.dailyLimit(retryAfter);
      },
    );
  }

  async check(caller: Principal, userId: string, code: string): Promise<DetailsResponseDto> {
    const user = await this.users.requireHuman(userId);
    return this.factors.check(this.channel, caller, user, code);
  }

  /** Whether the user has a v2 OTP SMS factor (for the factor list). */
  isReady(userId: string): Promise<boolean> {
    return this.factors.has('sms', userId);
  }

  private async deliver(number: string, code: string, expiresAt: number): Promise<void> {
    const body = renderSmsText(this.config.sms.template, code, this.config.sms.codeTtlSeconds);
    try {
      await this.sms.send({ to: number, body, code, expiresAt });
    } catch (err) {
      const reason = err instanceof SmsDeliveryError ? err.message : 'unexpected error';
      this.logger.warn(`SMS to ${maskPhone(number)} not sent: ${reason}`);
      throw err;
    }
  }
}
