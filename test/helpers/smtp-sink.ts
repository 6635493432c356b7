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
  close(): Promise<void>;
}

/** A real SMTP server in-process (smtp-server), accepting every message without auth or TLS; `port` 0 = ephemeral. */
export async function startSmtpSink(port = 0): Promise<SmtpSink> {
  const messages: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        messages.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
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
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The 6-digit code in a challenge mail's text part. */
export function codeIn(mail: ReceivedMail): string {
  const m = /verification code is: (\d{6})\b/.exec(mail.raw);
  if (!m) throw new Error('no code in mail');
  return m[1];
}
