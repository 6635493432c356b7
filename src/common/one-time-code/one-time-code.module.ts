import { Global, Module } from '@nestjs/common';
import { DailySendCounter } from './daily-send-counter';
import { OneTimeCodeStore } from './one-time-code.store';
import { OneTimeCodes } from './one-time-codes';
import { OtpChannelFactors } from './otp-channel-factors';

/** The one-time-code machinery every code-based factor uses (global, like the other common modules). */
@Global()
@Module({
  providers: [OneTimeCodes, OneTimeCodeStore, DailySendCounter, OtpChannelFactors],
  exports: [OneTimeCodes, DailySendCounter, OtpChannelFactors],
})
export class OneTimeCodeModule {}
