import { Global, Module } from '@nestjs/common';
import { CryptoModule } from '../crypto/crypto.module';
import { CodeCheckProvider } from './check/code-check.provider';
import { DailySendCounter } from './daily-send-counter';
import { OneTimeCodeStore } from './one-time-code.store';
import { OneTimeCodes } from './one-time-codes';
import { OtpChannelFactors } from './otp-channel-factors';

/**
 * The one-time-code machinery every code-based factor uses. Global, like the event store it writes
 * through: the code factors and the v3alpha SMS authenticators (shared daily SMS budget) use it.
 */
@Global()
@Module({
  imports: [CryptoModule],
  providers: [OneTimeCodes, OneTimeCodeStore, CodeCheckProvider, DailySendCounter, OtpChannelFactors],
  exports: [OneTimeCodes, DailySendCounter, OtpChannelFactors],
})
export class OneTimeCodeModule {}
