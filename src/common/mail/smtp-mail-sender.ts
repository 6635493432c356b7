import { Injectable, Logger } from '@nestjs/common';
import MailComposer from 'nodemailer/lib/mail-composer';
import { parseConnectionUrl } from 'nodemailer/lib/shared';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { PassThrough } from 'node:stream';
import { AppConfig } from '../config/app-config';
import { renderChallengeMail } from './mail-content';
import { ChallengeMail, MailDeliveryError, MailOutcome, MailSender, NoticeMail } from './mail-sender';
import { maskEmail } from './mask-email';

/** Bounds of the connection itself (a transmitted message may still be waiting for its answer after the deadline). */
const TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 };

type SmtpError = Error & { code?: unknown; responseCode?: unknown };

/**
 * MAIL_TRANSPORT=smtp: one nodemailer SMTP connection per mail to SMTP_URL (`smtp://` upgrades with
 * STARTTLS when the server offers it, `smtps://` is TLS from the start; URL query options such as
 * `?requireTLS=true` or `?ignoreTLS=true` are honoured). Errors are logged by code only: SMTP replies
 * often echo the recipient address.
 *
 * Each send ends within MAIL_SEND_DEADLINE_MS. SMTP hands the message over with its last line (the
 * lone dot after the data); the relay takes it when it answers that line. So at the deadline:
 * - the message is not fully transmitted yet: the connection is closed, the relay cannot deliver
 *   a message it never got to the end of, and the send fails (`MailDeliveryError`);
 * - the message is fully transmitted and only the relay's answer is missing: the mail is out of our
 *   hands and most likely delivered, so the send counts as `unconfirmed`; the connection is left to
 *   finish (its answer is logged).
 * A refusal (an SMTP error reply) is a failure whenever it comes before the deadline.
 */
@Injectable()
export class SmtpMailSender extends MailSender {
  private readonly logger = new Logger('Mail');
  private readonly options: ReturnType<typeof parseConnectionUrl>;

  constructor(private readonly config: AppConfig) {
    super();
    if (!config.mail.smtpUrl) throw new Error('SMTP_URL is required when MAIL_TRANSPORT=smtp');
    this.options = parseConnectionUrl(config.mail.smtpUrl);
  }

  async send(mail: ChallengeMail): Promise<MailOutcome> {
    const { text, html } = renderChallengeMail(mail);
    const node = new MailComposer({
      from: this.config.mail.from,
      to: mail.to,
      subject: this.config.mail.subject,
      text,
      html,
    }).compile();
    const message = await node.build();
    const log = { to: maskEmail(mail.to), challengeId: mail.challengeId };
    const outcome = await this.transmit(node.getEnvelope(), message, this.config.mail.sendDeadlineMs).catch(
      (e: unknown) => {
        const err = e as SmtpError;
        const detail = {
          errorCode: typeof err.code === 'string' ? err.code : undefined,
          responseCode: typeof err.responseCode === 'number' ? err.responseCode : undefined,
        };
        this.logger.warn({ ...log, ...detail }, 'challenge mail could not be sent');
        throw new MailDeliveryError('mail could not be sent', detail);
      },
    );
    if (outcome.kind === 'sent') {
      this.logger.log(log, 'challenge mail sent');
      return 'sent';
    }
    this.logger.warn(
      log,
      'challenge mail transmitted, the relay has not confirmed it within the send deadline',
    );
    outcome.late.then(
      () => this.logger.log(log, 'challenge mail confirmed by the relay after the send deadline'),
      (e: unknown) =>
        this.logger.warn(
          { ...log, errorCode: (e as SmtpError).code },
          'challenge mail refused by the relay after the send deadline',
        ),
    );
    return 'unconfirmed';
  }

  /** A security notification: logged by kind and outbox id only (no address, not even masked). */
  async sendNotice(mail: NoticeMail): Promise<MailOutcome> {
    const node = new MailComposer({
      from: this.config.mail.from,
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
      messageId: mail.messageId,
    }).compile();
    const message = await node.build();
    const outcome = await this.transmit(node.getEnvelope(), message, this.config.mail.sendDeadlineMs).catch(
      (e: unknown) => {
        const err = e as SmtpError;
        const detail = {
          errorCode: typeof err.code === 'string' ? err.code : undefined,
          responseCode: typeof err.responseCode === 'number' ? err.responseCode : undefined,
        };
        throw new MailDeliveryError('mail could not be sent', detail);
      },
    );
    // A late answer of the relay only matters for the log; the notification counts as delivered.
    if (outcome.kind === 'unconfirmed') outcome.late.catch(() => undefined);
    return outcome.kind;
  }

  /**
   * One SMTP transaction, ended at the deadline. `transmitted` turns true once the whole message has
   * passed into the data stream (the stream then ends with the closing dot).
   */
  private transmit(
    envelope: { from: string | false; to: string[] },
    message: Buffer,
    deadlineMs: number,
  ): Promise<{ kind: 'sent' } | { kind: 'unconfirmed'; late: Promise<void> }> {
    const o = this.options;
    const conn = new SMTPConnection({ ...o, ...TIMEOUTS } as ConstructorParameters<typeof SMTPConnection>[0]);
    const source = new PassThrough();
    let transmitted = false;
    source.once('end', () => (transmitted = true));
    source.end(message);
    const done = new Promise<void>((resolve, reject) => {
      conn.on('error', reject);
      conn.connect(() => {
        const sendIt = () =>
          conn.send({ from: envelope.from || '', to: envelope.to }, source, (err) => {
            if (err) return reject(err);
            conn.quit();
            resolve();
          });
        if (o.auth) conn.login(o.auth, (err) => (err ? reject(err) : sendIt()));
        else sendIt();
      });
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (transmitted) {
          resolve({ kind: 'unconfirmed', late: done.finally(() => conn.close()) });
          return;
        }
        conn.close();
        const err: SmtpError = new Error(`send deadline of ${deadlineMs} ms passed`);
        err.code = 'EDEADLINE';
        reject(err);
      }, deadlineMs);
      done.then(
        () => {
          clearTimeout(timer);
          resolve({ kind: 'sent' });
        },
        (err: SmtpError) => {
          clearTimeout(timer);
          conn.close();
          // The whole message went out and the connection broke before any answer: it may be delivered.
          if (transmitted && typeof err.responseCode !== 'number')
            resolve({ kind: 'unconfirmed', late: Promise.reject(err) });
          else reject(err);
        },
      );
    });
  }
}
