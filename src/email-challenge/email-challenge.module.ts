import { Module } from '@nestjs/common';
import { StepUpVerifier } from '../common/auth/step-up';
import { CryptoModule } from '../common/crypto/crypto.module';
import { MailModule } from '../common/mail/mail.module';
import { ObservabilityModule } from '../common/observability/observability.module';
import { IdentityModule } from '../identity';
import { EmailChallengeController } from './email-challenge.controller';
import { EmailChallengeRepository } from './email-challenge.repository';
import { EmailChallengeService } from './email-challenge.service';
import { EmailChallengeSweeper } from './email-challenge.sweeper';
import { ChallengeVerifyProvider } from './verify/challenge-verify.provider';

/**
 * Email step-up challenges. Exports the StepUpVerifier port, which AppModule's StepUpGuard uses.
 */
@Module({
  imports: [CryptoModule, MailModule, ObservabilityModule, IdentityModule],
  controllers: [EmailChallengeController],
  providers: [
    EmailChallengeRepository,
    EmailChallengeService,
    ChallengeVerifyProvider,
    EmailChallengeSweeper,
    { provide: StepUpVerifier, useExisting: EmailChallengeService },
  ],
  exports: [StepUpVerifier],
})
export class EmailChallengeModule {}
