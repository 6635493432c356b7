import { Logger } from '@nestjs/common';
import { AddressObject, simpleParser } from 'mailparser';
import { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { startSmtpSink, SmtpSink } from '../../../test/helpers/smtp-sink';
import { AppConfig } from '../config/app-config';
import { renderChallengeMail } from './mail-content';
import { ChallengeMail, MailDeliveryError } from './mail-sender';
import { SmtpMailSender } from './smtp-mail-sender';

/** Against a real SMTP server in-process: what the relay sees of connection reuse. */
describe('SmtpMailSender connection reuse', () => {
  let sink: SmtpSink;
  let sender: SmtpMailSender | undefined;
  let logs: string[];

  beforeEach(async () => {
    sink = await startSmtpSink();
    logs = [];
    for (const level of ['log', 'warn', 'debug'] as const)
      jest
        .spyOn(Logger.prototype, level)
        .mockImplementation((...args: unknown[]) => void logs.push(JSON.stringify(args)));
  });
  afterEach(async () => {
    sink.release();
    await sender?.onModuleDestroy();
    sender = undefined;
    await sink.close();
    jest.restoreAllMocks();
  });

  function start(
    pool: Partial<AppConfig['mail']['pool']> = {},
    sendDeadlineMs = 5000,
    smtpUrl = sink.url,
    { from = 'MFA Service <no-reply@example.com>', subject = 'Your verification code' } = {},
  ): SmtpMailSender {
    const mail = {
      transport: 'smtp',
      smtpUrl,
      from,
      subject,
      logCodes: false,
      resendCooldownSeconds: 30,
      sendDeadlineMs,
      pool: { maxIdle: 5, idleMs: 10_000, maxMessages: 100, ...pool },
    } satisfies AppConfig['mail'];
    sender = new SmtpMailSender({ mail } as AppConfig);
    return sender;
  }

  let n = 0;
  const mail = (): ChallengeMail => ({
    to: `user${++n}@example.com`,
    challengeId: String(n),
    code: '042317',
    operation: 'payment.approve',
    expiresAt: Date.UTC(2025, 2, 5, 21, 34, 22),
    ttlSeconds: 300,
  });
  /** Addresses appear in log lines masked only. */
  const expectNoAddressLogged = () => {
    expect(logs.length).toBeGreaterThan(0);
    for (let i = 1; i <= n; i++) expect(logs.join('\n')).not.toContain(`user${i}@`);
  };
  const deliveredTo = (m: ChallengeMail) => sink.messages.filter((r) => r.to.includes(m.to)).length;
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => {
        throw new Error('expected the send to fail');
      },
      (e: unknown) => {
        expect(e).toBeInstanceOf(MailDeliveryError);
        return (e as MailDeliveryError).detail;
      },
    );

  it('sends two mails in a row over one connection', async () => {
    const s = start();
    expect(await s.send(mail())).toBe('sent');
    expect(
      await s.sendNotice({
        ...mail(),
        subject: 's',
        text: 't',
        html: '<p>t</p>',
        messageId: '<m@x>',
        ref: { kind: 'k', outboxId: 1 },
      }),
    ).toBe('sent');
    expect(sink.messages).toHaveLength(2);
    expect(sink.connections()).toEqual({ opened: 1, closed: 0 });
    expect(s.idleConnections).toBe(1);
  });

  it('what the relay receives reads as the mail that was sent: envelope, from, to, subject, both bodies', async () => {
    const s = start({}, 5000, sink.url, {
      from: '"Sécurité, MFA" <no-reply@bücher.example>',
      subject: 'Ihr Bestätigungscode für die Freigabe – bitte nicht weitergeben, auch nicht am Telefon',
    });
    const m = mail();
    expect(await s.send(m)).toBe('sent');
    const challenge = sink.lastTo(m.to);
    // MAIL FROM goes out punycoded; smtp-server hands the address over decoded
    expect(challenge.from).toBe('no-reply@bücher.example');
    const parsed = await simpleParser(challenge.raw);
    expect(parsed.from?.value).toEqual([{ name: 'Sécurité, MFA', address: 'no-reply@bücher.example' }]);
    expect((parsed.to as AddressObject).value).toEqual([{ name: '', address: m.to }]);
    expect(parsed.subject).toBe(
      'Ihr Bestätigungscode für die Freigabe – bitte nicht weitergeben, auch nicht am Telefon',
    );
    expect(parsed.messageId).toMatch(/^<[0-9a-f-]{36}@xn--bcher-kva\.example>$/);
    const { text, html } = renderChallengeMail(m);
    expect(parsed.text).toBe(text);
    expect(parsed.html).toBe(html);

    // a notice: its own subject and message id; lines the SMTP layer has to escape (a leading dot)
    const to = `user${++n}@example.com`;
    const notice = {
      to,
      subject: 'Eine Anmeldemethode wurde entfernt',
      text: 'Grüße,\n.\n..zwei Punkte\nEnde\n',
      html: `<p>Grüße</p>\n<p>${'lange Zeile '.repeat(100)}</p>\n`,
      messageId: '<notification.7.1741210462000@mfa.example.com>',
      ref: { kind: 'factor_removed', outboxId: 7 },
    };
    expect(await s.sendNotice(notice)).toBe('sent');
    const received = sink.lastTo(to);
    expect(received.to).toEqual([to]);
    const read = await simpleParser(received.raw);
    expect(read.subject).toBe(notice.subject);
    expect(read.messageId).toBe(notice.messageId);
    expect(read.text).toBe(notice.text);
    expect(read.html).toBe(notice.html);
    expect(sink.connections()).toEqual({ opened: 1, closed: 0 });
  });

  it('logs in once per connection: a kept connection sends without a new AUTH', async () => {
    const logins: string[] = [];
    let received = 0;
    const relay = new SMTPServer({
      allowInsecureAuth: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onAuth(auth, _session, callback) {
        logins.push(auth.username ?? '');
        callback(null, { user: auth.username });
      },
      onData(stream, _session, callback) {
        stream.resume();
        stream.on('end', () => {
          received++;
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    try {
      const port = (relay.server.address() as AddressInfo).port;
      const s = start({}, 5000, `smtp://mfa:secret@127.0.0.1:${port}?ignoreTLS=true`);
      await s.send(mail());
      await s.send(mail());
      expect(received).toBe(2);
      expect(logins).toEqual(['mfa']);
      await s.onModuleDestroy();
    } finally {
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    }
  });

  it('SMTP_POOL_MAX_IDLE=0: one connection per mail, each quit after its mail', async () => {
    const s = start({ maxIdle: 0 });
    await s.send(mail());
    await s.send(mail());
    await sink.closedCount(2);
    expect(sink.connections()).toEqual({ opened: 2, closed: 2 });
    expect(s.idleConnections).toBe(0);
  });

  it('keeps at most SMTP_POOL_MAX_IDLE connections; the others quit', async () => {
    const s = start({ maxIdle: 2 });
    await Promise.all([s.send(mail()), s.send(mail()), s.send(mail()), s.send(mail())]);
    expect(sink.connections().opened).toBe(4);
    await sink.closedCount(2);
    expect(s.idleConnections).toBe(2);
    await Promise.all([s.send(mail()), s.send(mail())]);
    expect(sink.connections()).toEqual({ opened: 4, closed: 2 });
    expect(sink.messages).toHaveLength(6);
  });

  it('retires a connection after SMTP_POOL_MAX_MESSAGES mails', async () => {
    const s = start({ maxMessages: 2 });
    for (let i = 0; i < 3; i++) await s.send(mail());
    await sink.closedCount(1);
    expect(sink.connections()).toEqual({ opened: 2, closed: 1 });
    expect(s.idleConnections).toBe(1);
  });

  it('quits a connection left unused for SMTP_POOL_IDLE_MS', async () => {
    const s = start({ idleMs: 20 });
    await s.send(mail());
    await sink.closedCount(1);
    expect(s.idleConnections).toBe(0);
    await s.send(mail());
    expect(sink.connections().opened).toBe(2);
  });

  it('a connection the relay ended while idle leaves the pool; the next mail goes over a new one', async () => {
    const s = start();
    await s.send(mail());
    sink.dropAll();
    await sink.closedCount(1);
    const m = mail();
    expect(await s.send(m)).toBe('sent');
    expect(deliveredTo(m)).toBe(1);
    expect(sink.connections().opened).toBe(2);
  });

  it('a kept connection dropped as the mail starts: sent once over a new connection', async () => {
    const s = start();
    await Promise.all([s.send(mail()), s.send(mail())]);
    expect(s.idleConnections).toBe(2);
    sink.dropAtNextMailFrom();
    const m = mail();
    expect(await s.send(m)).toBe('sent');
    expect(deliveredTo(m)).toBe(1);
    expect(sink.connections().opened).toBe(3);
    // the other kept connection waited at least as long: it is quit rather than tried
    await sink.closedCount(2);
    expect(s.idleConnections).toBe(1);
    expect(logs.join('\n')).toContain('kept SMTP connection was dropped');
    expectNoAddressLogged();
  });

  it('a kept connection the relay ends with 421 before the message: sent once over a new connection', async () => {
    const s = start();
    await s.send(mail());
    sink.dropAtNextMailFrom(421);
    const m = mail();
    expect(await s.send(m)).toBe('sent');
    expect(deliveredTo(m)).toBe(1);
    expect(sink.connections().opened).toBe(2);
  });

  it('a new connection dropped as the mail starts is not tried again', async () => {
    const s = start();
    sink.dropAtNextMailFrom();
    const m = mail();
    expect(await failure(s.send(m))).toEqual({ errorCode: 'ECONNECTION', responseCode: undefined });
    expect(deliveredTo(m)).toBe(0);
    expect(sink.connections().opened).toBe(1);
    expect(s.idleConnections).toBe(0);
  });

  it('a refusal on a kept connection is the answer: not retried, and that connection is not kept', async () => {
    const s = start();
    await s.send(mail());
    sink.refuseRecipients(true);
    expect(await failure(s.send(mail()))).toEqual({ errorCode: 'EENVELOPE', responseCode: 550 });
    expect(sink.connections().opened).toBe(1);
    await sink.closedCount(1);
    expect(s.idleConnections).toBe(0);
    sink.refuseRecipients(false);
    await s.send(mail());
    expect(sink.connections().opened).toBe(2);
    expectNoAddressLogged();
  });

  it('the deadline before the whole message: fails, the kept connection is closed, the relay gets nothing', async () => {
    const s = start({}, 300);
    await s.send(mail());
    sink.stall('rcpt');
    const m = mail();
    expect(await failure(s.send(m))).toEqual({ errorCode: 'EDEADLINE', responseCode: undefined });
    await sink.closedCount(1);
    sink.release();
    expect(s.idleConnections).toBe(0);
    expect(deliveredTo(m)).toBe(0);
    await s.send(mail());
    expect(sink.connections().opened).toBe(2);
  });

  it('the deadline after the whole message: unconfirmed, and that connection is closed once answered', async () => {
    const s = start({}, 300);
    await s.send(mail());
    sink.stall('data-end');
    const m = mail();
    expect(await s.send(m)).toBe('unconfirmed');
    expect(s.idleConnections).toBe(0);
    sink.release();
    await sink.closedCount(1);
    expect(deliveredTo(m)).toBe(1);
    expect(s.idleConnections).toBe(0);
    await s.send(mail());
    expect(sink.connections().opened).toBe(2);
  });

  it('at shutdown the kept connections quit; mails after that are not kept', async () => {
    const s = start();
    await Promise.all([s.send(mail()), s.send(mail())]);
    expect(s.idleConnections).toBe(2);
    await s.onModuleDestroy();
    await sink.closedCount(2);
    expect(s.idleConnections).toBe(0);
    await s.send(mail());
    await sink.closedCount(3);
    expect(s.idleConnections).toBe(0);
  });
});
