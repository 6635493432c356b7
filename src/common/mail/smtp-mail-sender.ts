import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { parseConnectionUrl } from 'nodemailer/lib/shared';
import type SMTPConnection from 'nodemailer/lib/smtp-connection';
import { PassThrough } from 'node:stream';
import { AppConfig } from '../config/app-config';
import { renderChallengeMail } from './mail-content';
import { ChallengeMail, MailDeliveryError, MailOutcome, MailSender, NoticeMail } from './mail-sender';
import { maskEmail } from './mask-email';
import { MimeComposer } from './mime-message';
import { PooledConnection, SmtpConnectionPool } from './smtp-connection-pool';

/** Bounds of the connection itself (a transmitted message may still be waiting for its answer after the deadline). */
const TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 };

type SmtpError = Error & { code?: unknown; responseCode?: unknown };

/**
 * MAIL_TRANSPORT=smtp: nodemailer SMTP connections to SMTP_URL (`smtp://` upgrades with STARTTLS when
 * the server offers it, `smtps://` is TLS from the start; URL query options such as
 * `?requireTLS=true` or `?ignoreTLS=true` are honoured). Errors are logged by code only: SMTP replies
 * often echo the recipient address.
 *
 * A connection whose mail the relay confirmed is kept for the next mail (SMTP_POOL_*, see
 * SmtpConnectionPool), so a burst of mails skips the TCP, EHLO, STARTTLS and AUTH round trips. A
 * connection that failed in any way is closed, never kept.
 *
 * Each send ends within MAIL_SEND_DEADLINE_MS. SMTP hands the message over with its last line (the
 * lone dot after the data); the relay takes it when it answers that line. So at the deadline:
 * - the message is not fully transmitted yet: the connection is closed, the relay cannot deliver
 *   a message it never got to the end of, and the send fails (`MailDeliveryError`);
 * - the message is fully transmitted and only the relay's answer is missing: the mail is out of our
 *   hands and most likely delivered, so the send counts as `unconfirmed`; the connection is left to
 *   finish (its answer is logged).
 * A refusal (an SMTP error reply) is a failure whenever it comes before the deadline.
 * In neither case is the connection kept: a cut-off one is closed at once, an unconfirmed one once
 * its answer came. The deadline covers the one retry a dropped kept connection gets (`transmit`).
 *
 * Messages are written by MimeComposer, which prepares the From header, the envelope sender and the
 * MAIL_SUBJECT header once, here, and leaves the mails it cannot write with certainty to
 * nodemailer's MailComposer (see there).
 */
@Injectable()
export class SmtpMailSender extends MailSender implements OnModuleDestroy {
  private readonly logger = new Logger('Mail');
  private readonly pool: SmtpConnectionPool;
  private readonly composer: MimeComposer;

  constructor(private readonly config: AppConfig) {
    super();
    if (!config.mail.smtpUrl) throw new Error('SMTP_URL is required when MAIL_TRANSPORT=smtp');
    const options = parseConnectionUrl(config.mail.smtpUrl);
    this.pool = new SmtpConnectionPool(
      { ...options, ...TIMEOUTS } as SMTPConnection.Options,
      options.auth,
      config.mail.pool,
    );
    this.composer = new MimeComposer(config.mail.from, config.mail.subject);
    if (!this.composer.fromHandled)
      this.logger.log('MAIL_FROM is not one plain mailbox: mails are composed by nodemailer (slower)');
  }

  /** Quits the kept connections (at app shutdown). */
  onModuleDestroy(): Promise<void> {
    return this.pool.close();
  }

  /** Connections kept for the next mail right now. */
  get idleConnections(): number {
    return this.pool.idleCount;
  }

  async send(mail: ChallengeMail): Promise<MailOutcome> {
    const { text, html } = renderChallengeMail(mail);
    const { envelope, message } = await this.composer.compose({
      to: mail.to,
      subject: this.config.mail.subject,
      text,
      html,
    });
    const log = { to: maskEmail(mail.to), challengeId: mail.challengeId };
    const outcome = await this.transmit(envelope, message, this.config.mail.sendDeadlineMs).catch(
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
    const { envelope, message } = await this.composer.compose({
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
      messageId: mail.messageId,
    });
    const outcome = await this.transmit(envelope, message, this.config.mail.sendDeadlineMs).catch(
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
   * One SMTP transaction, ended at the deadline: on a kept connection when there is one, else on a
   * new one. A kept connection may have been dropped by the relay while it waited; when that shows
   * before any of the message went out (see `dropped`), the mail goes once more over a new
   * connection, within the same deadline.
   */
  private transmit(
    envelope: { from: string | false; to: string[] },
    message: Buffer,
    deadlineMs: number,
  ): Promise<{ kind: 'sent' } | { kind: 'unconfirmed'; late: Promise<void> }> {
    return new Promise((resolve, reject) => {
      let current = this.attempt(envelope, message, this.pool.take());
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        const a = current;
        if (a.transmitted()) {
          // never back into the pool: its answer is still on the way
          resolve({ kind: 'unconfirmed', late: a.done.finally(() => a.entry.conn.close()) });
          return;
        }
        a.entry.conn.close();
        const err: SmtpError = new Error(`send deadline of ${deadlineMs} ms passed`);
        err.code = 'EDEADLINE';
        reject(err);
      }, deadlineMs);
      // both outcomes are handled here, the returned promise has nothing left to report
      const follow = (a: Attempt): void =>
        void a.done.then(
          () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            this.pool.release(a.entry);
            resolve({ kind: 'sent' });
          },
          (err: SmtpError) => {
            if (settled) return;
            a.entry.conn.close();
            if (a.reused && dropped(err, a)) {
              this.logger.debug(
                { errorCode: err.code },
                'kept SMTP connection was dropped, sending on a new one',
              );
              this.pool.discardIdle();
              current = this.attempt(envelope, message, undefined);
              follow(current);
              return;
            }
            settled = true;
            clearTimeout(timer);
            // The whole message went out and the connection broke before any answer: it may be delivered.
            if (a.transmitted() && typeof err.responseCode !== 'number')
              resolve({ kind: 'unconfirmed', late: Promise.reject(err) });
            else reject(err);
          },
        );
      follow(current);
    });
  }

  /** Sends the message over `kept`, or over a new connection when there is none. */
  private attempt(
    envelope: { from: string | false; to: string[] },
    message: Buffer,
    kept: PooledConnection | undefined,
  ): Attempt {
    const entry = kept ?? this.pool.create();
    // nodemailer discards the stream of a failed send, so each attempt reads its own
    const source = new PassThrough();
    source.end(message);
    const done = new Promise<void>((resolve, reject) => {
      entry.onError = reject;
      const sendIt = () =>
        entry.conn.send({ from: envelope.from || '', to: envelope.to }, source, (err) =>
          err ? reject(err) : resolve(),
        );
      if (kept) sendIt();
      else this.pool.greet(entry, (err) => (err ? reject(err) : sendIt()));
    });
    return {
      entry,
      reused: kept !== undefined,
      started: () => source.readableDidRead,
      // the stream has ended once all of the message passed into the data stream, which then ends with the dot
      transmitted: () => source.readableEnded,
      done,
    };
  }
}

interface Attempt {
  entry: PooledConnection;
  /** Over a kept connection (which the relay may have dropped meanwhile). */
  reused: boolean;
  /** Some of the message has been read into the data stream (the relay answered DATA). */
  started: () => boolean;
  transmitted: () => boolean;
  /** Settles with the relay's answer to the message (or the error that ended the connection). */
  done: Promise<void>;
}

/**
 * A failure that says the connection is gone rather than that the relay refused the mail: it broke
 * without an answer, or the relay said it is closing the channel (421), and none of the message has
 * been sent yet, so sending it again cannot deliver it twice. Any other reply is the relay's answer.
 */
function dropped(err: SmtpError, a: Attempt): boolean {
  if (a.started()) return false;
  if (typeof err.responseCode === 'number') return err.responseCode === 421;
  return err.code === 'ECONNECTION' || err.code === 'ESOCKET';
}
