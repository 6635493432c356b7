import { Module } from '@nestjs/common';
import { CryptoModule } from '../common/crypto/crypto.module';
import { ObservabilityModule } from '../common/observability/observability.module';
import { IdentityModule } from '../identity';
import { AttemptStrategyProvider } from './attempt/attempt-strategy.provider';
import { TotpAuthMethods } from './totp-auth-methods';
import { MyOtpController, TotpController } from './totp.controller';
import { TotpRepository } from './totp.repository';
import { TotpService } from './totp.service';

/** TOTP second factor: ZITADEL User Service v2 and Auth API v1 life cycle, plus `_check` for login services. */
@Module({
  imports: [CryptoModule, ObservabilityModule, IdentityModule],
  controllers: [TotpController, MyOtpController],
  providers: [TotpService, TotpRepository, AttemptStrategyProvider, TotpAuthMethods],
})
export class TotpModule {}
