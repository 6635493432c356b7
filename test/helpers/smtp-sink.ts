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
  /** Client connections accepted so far, and how many of them have ended. */
  connections(): { opened: number; closed: number };
  /** Resolves once `count` client sessions have ended in all. */
  closedCount(count: number): Promise<void>;
  /** Refuse every RCPT TO with 550 (a relay's answer to the mail) while on. */
  refuseRecipients(on: boolean): void;
  /**
   * The next MAIL FROM ends the connection, as a relay that just timed the session out would: closed
   * without an answer, or after `421` when `reply` says so.
   */
  dropAtNextMailFrom(reply?: 421): void;
  /** Ends every open session from the relay's side (421, then close), as a relay's idle timeout does. */
  dropAll(): void;
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
  const counts = { opened: 0, closed: 0 };
  let refuse = false;
  let dropAtMailFrom: false | 'silently' | 421 = false;
  const notify = (list: (() => void)[]) => list.splice(0).forEach((f) => f());
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onConnect(_session, callback) {
      counts.opened++;
      callback();
    },
    onMailFrom(_address, session, callback) {
      const drop = dropAtMailFrom;
      if (!drop) return callback();
      dropAtMailFrom = false;
      if (drop === 421)
        callback(Object.assign(new Error('Timeout, closing connection'), { responseCode: 421 }));
      for (const c of server.connections) if (c.id === session.id) c.close();
    },
    onRcptTo(_address, _session, callback) {
      if (refuse) return callback(Object.assign(new Error('Mailbox unavailable'), { responseCode: 550 }));
      hold('rcpt', () => callback());
    },
    onClose() {
      counts.closed++;
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
    connections: () => ({ ...counts }),
    async closedCount(count) {
      while (counts.closed < count) await new Promise<void>((resolve) => waiters.close.push(resolve));
    },
    refuseRecipients(on) {
      refuse = on;
    },
    dropAtNextMailFrom(reply) {
      dropAtMailFrom = reply ?? 'silently';
    },
    dropAll() {
      for (const c of server.connections) {
        c.send(421, 'Idle timeout, closing connection');
        c.close();
      }
    },
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
