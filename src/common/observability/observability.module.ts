import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { SendOutcomes } from './send-outcome';
import { VerifyOutcomes } from './verify-outcome';

/**
 * Where verify outcomes and sends are reported, for the modules that import it (one instance for
 * the whole app). Metrics (AppModule, when on) and traces observe them; with nothing observing, a
 * report costs a loop over an empty list.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [VerifyOutcomes, SendOutcomes],
  exports: [VerifyOutcomes, SendOutcomes],
})
export class ObservabilityModule {}
