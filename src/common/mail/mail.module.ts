import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { ObservabilityModule } from '../observability/observability.module';
import { SendOutcomes } from '../observability/send-outcome';
import { LogMailSender } from './log-mail-sender';
import { MailSender } from './mail-sender';
import { SmtpMailSender } from './smtp-mail-sender';

/**
 * The mail transport named by MAIL_TRANSPORT (`log` or `smtp`), for every module that mails codes
 * (email challenges, OTP Email, security notifications). Each send is reported (transport and result only) to SendOutcomes.
 */
@Module({
  imports: [ObservabilityModule],
  providers: [
    {
      provide: MailSender,
      inject: [AppConfig, SendOutcomes],
      useFactory: (config: AppConfig, outcomes: SendOutcomes): MailSender => {
        const inner =
          config.mail.transport === 'smtp' ? new SmtpMailSender(config) : new LogMailSender(config);
        return {
          send: (mail) => outcomes.track('mail', config.mail.transport, () => inner.send(mail)),
          sendNotice: (mail) => outcomes.track('mail', config.mail.transport, () => inner.sendNotice(mail)),
        };
      },
    },
  ],
  exports: [MailSender],
})
export class MailModule {}
