import { Global, Module } from '@nestjs/common';
import { VerifyOutcomes } from './verify-outcome';

/** Verify outcomes (for every module whose routes report them), metrics and their management server. */
@Global()
@Module({
  providers: [VerifyOutcomes],
  exports: [VerifyOutcomes],
})
export class ObservabilityModule {}
