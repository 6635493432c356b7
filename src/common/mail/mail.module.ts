import { Module, OnModuleDestroy } from '@nestjs/common';
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
      useFactory: (config: AppConfig, outcomes: SendOutcomes): MailSender & OnModuleDestroy => {
        const inner =
          config.mail.transport === 'smtp' ? new SmtpMailSender(config) : new LogMailSender(config);
        return {
          send: (mail) => outcomes.track('mail', config.mail.transport, () => inner.send(mail)),
          sendNotice: (mail) => outcomes.track('mail', config.mail.transport, () => inner.sendNotice(mail)),
          // Nest calls this on the provided object at shutdown: the SMTP sender quits its kept connections
          onModuleDestroy: async () => {
            if (inner instanceof SmtpMailSender) await inner.onModuleDestroy();
          },
        };
      },
    },
  ],
  exports: [MailSender],
})
export class MailModule {}
