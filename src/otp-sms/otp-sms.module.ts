import { Module } from '@nestjs/common';
import { CryptoModule } from '../common/crypto/crypto.module';
import { ObservabilityModule } from '../common/observability/observability.module';
import { IdentityModule } from '../identity';
import { OtpSmsController } from './otp-sms.controller';
import { OtpSmsRepository } from './otp-sms.repository';
import { OtpSmsService } from './otp-sms.service';
import { SmsSenderProvider } from './sms/sms-sender.provider';

/** OTP SMS authenticators (ZITADEL Resources v3alpha) with pluggable SMS delivery (SMS_PROVIDER). */
@Module({
  imports: [CryptoModule, ObservabilityModule, IdentityModule],
  controllers: [OtpSmsController],
  providers: [OtpSmsService, OtpSmsRepository, SmsSenderProvider],
})
export class OtpSmsModule {}
