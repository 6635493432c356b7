import { Module } from '@nestjs/common';
import { StepUpVerifier } from '../common/auth/step-up';
import { AppConfig } from '../common/config/app-config';
import { CryptoModule } from '../common/crypto/crypto.module';
import { ObservabilityModule } from '../common/observability/observability.module';
import { IdentityModule } from '../identity';
import { SendOutcomes } from '../common/observability/send-outcome';
import { EmailChallengeController } from './email-challenge.controller';
import { EmailChallengeRepository } from './email-challenge.repository';
import { EmailChallengeService } from './email-challenge.service';
import { EmailChallengeSweeper } from './email-challenge.sweeper';
import { LogMailSender } from './mail/log-mail-sender';
import { MailSender } from './mail/mail-sender';
import { SmtpMailSender } from './mail/smtp-mail-sender';

/**
 * Email step-up challenges. Exports the StepUpVerifier port, which AppModule's StepUpGuard uses.
 */
@Module({
  imports: [CryptoModule, ObservabilityModule, IdentityModule],
  controllers: [EmailChallengeController],
  providers: [
    EmailChallengeRepository,
    EmailChallengeService,
    EmailChallengeSweeper,
    {
      provide: MailSender,
      inject: [AppConfig, SendOutcomes],
      useFactory: (config: AppConfig, outcomes: SendOutcomes): MailSender => {
        const inner =
          config.mail.transport === 'smtp' ? new SmtpMailSender(config) : new LogMailSender(config);
        // Each send reported (transport and result only) to SendOutcomes.
        return { send: (mail) => outcomes.track('mail', config.mail.transport, () => inner.send(mail)) };
      },
    },
    { provide: StepUpVerifier, useExisting: EmailChallengeService },
  ],
  exports: [StepUpVerifier],
})
export class EmailChallengeModule {}
