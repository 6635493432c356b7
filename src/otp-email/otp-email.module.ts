import { Module } from '@nestjs/common';
import { CryptoModule } from '../common/crypto/crypto.module';
import { MailModule } from '../common/mail/mail.module';
import { ObservabilityModule } from '../common/observability/observability.module';
import { IdentityModule } from '../identity';
import { OtpEmailAuthMethods } from './otp-email-auth-methods';
import { OtpEmailController } from './otp-email.controller';
import { OtpEmailService } from './otp-email.service';

/** ZITADEL v2 OTP Email on the user's verified address; codes over the mail transport of the email challenges. */
@Module({
  imports: [CryptoModule, MailModule, ObservabilityModule, IdentityModule],
  controllers: [OtpEmailController],
  providers: [OtpEmailService, OtpEmailAuthMethods],
})
export class OtpEmailModule {}
