import { Module } from '@nestjs/common';
import { OtpEmailAuthMethods } from './otp-email-auth-methods';
import { OtpEmailController } from './otp-email.controller';
import { OtpEmailService } from './otp-email.service';

/** ZITADEL v2 OTP Email on the user's verified address; codes over the mail transport of the email challenges. */
@Module({
  controllers: [OtpEmailController],
  providers: [OtpEmailService, OtpEmailAuthMethods],
})
export class OtpEmailModule {}
