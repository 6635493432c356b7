import { Global, Module } from '@nestjs/common';
import { StepUpVerifier } from '../common/auth/step-up';
import { AppConfig } from '../common/config/app-config';
import { EmailChallengeController } from './email-challenge.controller';
import { EmailChallengeRepository } from './email-challenge.repository';
import { EmailChallengeService } from './email-challenge.service';
import { EmailChallengeSweeper } from './email-challenge.sweeper';
import { LogMailSender } from './mail/log-mail-sender';
import { MailSender } from './mail/mail-sender';
import { SmtpMailSender } from './mail/smtp-mail-sender';

/**
 * Email step-up challenges. Global so that the StepUpGuard (an APP_GUARD) finds this module's
 * StepUpVerifier.
 */
@Global()
@Module({
  controllers: [EmailChallengeController],
  providers: [
    EmailChallengeRepository,
    EmailChallengeService,
    EmailChallengeSweeper,
    {
      provide: MailSender,
      inject: [AppConfig],
      useFactory: (config: AppConfig): MailSender => {
        switch (config.mail.transport) {
          case 'smtp':
            return new SmtpMailSender(config);
          case 'log':
            return new LogMailSender(config);
        }
      },
    },
    { provide: StepUpVerifier, useExisting: EmailChallengeService },
  ],
  exports: [StepUpVerifier],
})
export class EmailChallengeModule {}
