import { Injectable, Logger } from '@nestjs/common';
import { Principal } from '../common/auth/principal';
import { AppConfig } from '../common/config/app-config';
import { DetailsResponseDto } from '../common/openapi/details-response.dto';
import { OtpChannel, OtpChannelFactors } from '../common/one-time-code/otp-channel-factors';
import { MailSender } from '../common/mail/mail-sender';
import { UsersReader } from '../identity';
import { OtpEmailErrors } from './otp-email.errors';
import { OTP_EMAIL_EVENTS } from './otp-email.events';

const CODE_DIGITS = 8;
/** What the mail says the code confirms. */
const MAIL_OPERATION = 'sign-in';

/**
 * ZITADEL v2 OTP Email: one factor per user on the user's verified email address (AddOTPEmail /
 * RemoveOTPEmail), plus our `_send` / `_check` for sign-in. Same machinery as the v2 OTP SMS; the code
 * goes out over the configured mail transport (MAIL_TRANSPORT), at most once per
 * EMAIL_RESEND_COOLDOWN_SECONDS, valid OTP_EMAIL_CODE_TTL_SECONDS.
 */
@Injectable()
export class OtpEmailService {
  private readonly logger = new Logger(OtpEmailService.name);
  private readonly channel: OtpChannel;

  constructor(
    private readonly config: AppConfig,
    private readonly users: UsersReader,
    private readonly factors: OtpChannelFactors,
    private readonly mail: MailSender,
  ) {
    this.channel = {
      name: 'email',
      policy: {
        purpose: 'otp-email',
        digits: CODE_DIGITS,
        ttlSeconds: config.otpEmail.codeTtlSeconds,
        cooldownSeconds: config.mail.resendCooldownSeconds,
        events: OTP_EMAIL_EVENTS,
      },
      events: OTP_EMAIL_EVENTS,
      errors: {
        alreadyExists: OtpEmailErrors.alreadyExists,
        destinationNotVerified: OtpEmailErrors.emailNotVerified,
        notFound: OtpEmailErrors.notFound,
      },
    };
  }

  async add(caller: Principal, userId: string): Promise<DetailsResponseDto> {
    const user = await this.users.requireHuman(userId);
    return this.factors.add(this.channel, caller, user, !!user.email && user.emailVerified);
  }

  async remove(caller: Principal, userId: string): Promise<DetailsResponseDto> {
    const user = await this.users.requireHuman(userId);
    return this.factors.remove(this.channel, caller, user);
  }

  async send(caller: Principal, userId: string): Promise<DetailsResponseDto> {
    const user = await this.users.requireHuman(userId);
    // The address changed or lost its verification since the factor was added: no code to it.
    if (!user.email || !user.emailVerified) throw OtpEmailErrors.emailNotVerified();
    const to = user.email;
    const ttlSeconds = this.config.otpEmail.codeTtlSeconds;
    return this.factors.send(this.channel, caller, user, async (code, expiresAt, codeId) => {
      try {
        await this.mail.send({
          to,
          challengeId: codeId,
          code,
          operation: MAIL_OPERATION,
          expiresAt,
          ttlSeconds,
        });
      } catch (err) {
        this.logger.warn(`OTP email not sent: ${err instanceof Error ? err.name : 'unexpected error'}`);
        throw err;
      }
    });
  }

  async check(caller: Principal, userId: string, code: string): Promise<DetailsResponseDto> {
    const user = await this.users.requireHuman(userId);
    return this.factors.check(this.channel, caller, user, code);
  }

  isReady(userId: string): Promise<boolean> {
    return this.factors.has('email', userId);
  }
}
