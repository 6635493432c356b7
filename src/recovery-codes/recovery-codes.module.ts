import { Module } from '@nestjs/common';
import { CryptoModule } from '../common/crypto/crypto.module';
import { ObservabilityModule } from '../common/observability/observability.module';
import { IdentityModule } from '../identity';
import { RecoveryCheckProvider } from './check/recovery-check.provider';
import { RecoveryCodesAuthMethods } from './recovery-codes-auth-methods';
import { RecoveryCodesController } from './recovery-codes.controller';
import { RecoveryCodesRepository } from './recovery-codes.repository';
import { RecoveryCodesService } from './recovery-codes.service';

/** Single-use recovery codes (ZITADEL v2 User Service shape) with a `_check` for sign-in. */
@Module({
  imports: [CryptoModule, ObservabilityModule, IdentityModule],
  controllers: [RecoveryCodesController],
  providers: [RecoveryCodesService, RecoveryCodesRepository, RecoveryCheckProvider, RecoveryCodesAuthMethods],
})
export class RecoveryCodesModule {}
