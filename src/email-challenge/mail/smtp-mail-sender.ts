import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { createTransport, Transporter } from 'nodemailer';
import { AppConfig } from '../../common/config/app-config';
import { renderChallengeMail } from './mail-content';
import { ChallengeMail, MailDeliveryError, MailSender } from './mail-sender';
import { maskEmail } from './mask-email';

/** Bounded waits, so a dead relay answers 503 in seconds instead of nodemailer's two-minute default. */
const TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 };

/**
 * MAIL_TRANSPORT=smtp: nodemailer over SMTP_URL (`smtp://` upgrades with STARTTLS when the server
 * offers it, `smtps://` is TLS from the start; URL query options such as `?requireTLS=true` or
 * `?ignoreTLS=true` are honoured by nodemailer). Errors are logged by code only: SMTP replies often
 * echo the recipient address.
 */
@Injectable()
export class SmtpMailSender extends MailSender implements OnModuleDestroy {
  private readonly logger = new Logger('Mail');
  private readonly transport: Transporter;

  constructor(private readonly config: AppConfig) {
    super();
    if (!config.mail.smtpUrl) throw new Error('SMTP_URL is required when MAIL_TRANSPORT=smtp');
    this.transport = createTransport({ url: config.mail.smtpUrl, ...TIMEOUTS });
  }

  async send(mail: ChallengeMail): Promise<void> {
    const { text, html } = renderChallengeMail(mail);
    try {
      await this.transport.sendMail({ from: this.config.mail.from, to: mail.to, subject: this.config.mail.subject, text, html });
    } catch (e) {
      const err = e as { code?: unknown; responseCode?: unknown };
      const detail = {
        errorCode: typeof err.code === 'string' ? err.code : undefined,
        responseCode: typeof err.responseCode === 'number' ? err.responseCode : undefined,
      };
      this.logger.warn({ to: maskEmail(mail.to), challengeId: mail.challengeId, ...detail }, 'challenge mail could not be sent');
      throw new MailDeliveryError('mail could not be sent', detail);
    }
    this.logger.log({ to: maskEmail(mail.to), challengeId: mail.challengeId }, 'challenge mail sent');
  }

  onModuleDestroy(): void {
    this.transport.close();
  }
}
