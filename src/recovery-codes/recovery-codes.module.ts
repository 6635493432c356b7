import { Module } from '@nestjs/common';
import { RecoveryCodesAuthMethods } from './recovery-codes-auth-methods';
import { RecoveryCodesController } from './recovery-codes.controller';
import { RecoveryCodesRepository } from './recovery-codes.repository';
import { RecoveryCodesService } from './recovery-codes.service';

/** Single-use recovery codes (ZITADEL v2 User Service shape) with a `_check` for sign-in. */
@Module({
  controllers: [RecoveryCodesController],
  providers: [RecoveryCodesService, RecoveryCodesRepository, RecoveryCodesAuthMethods],
})
export class RecoveryCodesModule {}
