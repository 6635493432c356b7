import { Module } from '@nestjs/common';
import { CryptoModule } from '../common/crypto/crypto.module';
import { ObservabilityModule } from '../common/observability/observability.module';
import { IdentityModule } from '../identity';
import { OtpSmsAuthMethods } from './otp-sms-auth-methods';
import { OtpSmsV2Controller } from './otp-sms-v2.controller';
import { OtpSmsV2Service } from './otp-sms-v2.service';
import { OtpSmsController } from './otp-sms.controller';
import { OtpSmsRepository } from './otp-sms.repository';
import { OtpSmsService } from './otp-sms.service';
import { SmsSenderProvider } from './sms/sms-sender.provider';
import { CodeUseProvider } from './code-use/code-use.provider';

/**
 * OTP SMS: the authenticators of ZITADEL Resources v3alpha and the v2 User Service factor on the
 * user's verified phone, with pluggable SMS delivery (SMS_PROVIDER).
 */
@Module({
  imports: [CryptoModule, ObservabilityModule, IdentityModule],
  controllers: [OtpSmsController, OtpSmsV2Controller],
  providers: [
    OtpSmsService,
    OtpSmsRepository,
    CodeUseProvider,
    SmsSenderProvider,
    OtpSmsV2Service,
    OtpSmsAuthMethods,
  ],
})
export class OtpSmsModule {}
