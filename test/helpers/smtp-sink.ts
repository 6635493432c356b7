import { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  /** RCPT TO addresses. */
  to: string[];
  from: string;
  /** The raw RFC 5322 message. */
  raw: string;
}

export interface SmtpSink {
  port: number;
  /** SMTP_URL for the service: plain SMTP on 127.0.0.1, no STARTTLS. */
  url: string;
  messages: ReceivedMail[];
  /** The last message sent to `address` (throws when none arrived). */
  lastTo(address: string): ReceivedMail;
  /** A slow relay: hold the answer to RCPT TO (before any data) or to the end of the data, until `release()`. */
  stall(at: 'rcpt' | 'data-end' | undefined): void;
  /** Answers the held commands (and any later ones at once). */
  release(): void;
  /** Resolves when the next client session ends (the client quit or dropped the connection). */
  nextClose(): Promise<void>;
  /** Whole messages received so far, confirmed or still held at the end of the data. */
  dataReceived(): Promise<void>;
  close(): Promise<void>;
}

/** A real SMTP server in-process (smtp-server), accepting every message without auth or TLS; `port` 0 = ephemeral. */
export async function startSmtpSink(port = 0): Promise<SmtpSink> {
  const messages: ReceivedMail[] = [];
  let stallAt: 'rcpt' | 'data-end' | undefined;
  let held: (() => void)[] = [];
  const hold = (at: 'rcpt' | 'data-end', answer: () => void) =>
    stallAt === at ? held.push(answer) : answer();
  const waiters = { close: [] as (() => void)[], data: [] as (() => void)[] };
  const notify = (list: (() => void)[]) => list.splice(0).forEach((f) => f());
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onRcptTo(_address, _session, callback) {
      hold('rcpt', () => callback());
    },
    onClose() {
      notify(waiters.close);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        messages.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        notify(waiters.data);
        hold('data-end', () => callback());
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const bound = (server.server.address() as AddressInfo).port;
  return {
    port: bound,
    url: `smtp://127.0.0.1:${bound}?ignoreTLS=true`,
    messages,
    lastTo(address: string) {
      const found = messages.filter((m) => m.to.includes(address));
      if (found.length === 0) throw new Error(`no mail to ${address}`);
      return found[found.length - 1];
    },
    stall(at) {
      stallAt = at;
    },
    release() {
      stallAt = undefined;
      const answers = held;
      held = [];
      answers.forEach((a) => a());
    },
    nextClose: () => new Promise<void>((resolve) => waiters.close.push(resolve)),
    dataReceived: () => new Promise<void>((resolve) => waiters.data.push(resolve)),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The 6-digit code in a challenge mail's text part. */
export function codeIn(mail: ReceivedMail): string {
  const m = /verification code is: (\d{6})\b/.exec(mail.raw);
  if (!m) throw new Error('no code in mail');
  return m[1];
}
