import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { ChallengeMail, MailOutcome, MailSender, NoticeMail } from './mail-sender';
import { maskEmail } from './mask-email';

/**
 * MAIL_TRANSPORT=log (the embedded default): no mail leaves the process; a log line says one was
 * sent to the masked address. The code is logged only with MAIL_LOG_CODES=true (development).
 */
@Injectable()
export class LogMailSender extends MailSender {
  private readonly logger = new Logger('Mail');

  constructor(private readonly config: AppConfig) {
    super();
  }

  send(mail: ChallengeMail): Promise<MailOutcome> {
    this.logger.log(
      {
        to: maskEmail(mail.to),
        challengeId: mail.challengeId,
        operation: mail.operation,
        ...(this.config.mail.logCodes ? { devCode: mail.code } : {}),
      },
      'challenge mail sent (log transport)',
    );
    return Promise.resolve('sent');
  }

  sendNotice(mail: NoticeMail): Promise<MailOutcome> {
    this.logger.log(mail.ref, 'notification mail sent (log transport)');
    return Promise.resolve('sent');
  }
}
