/**
 * Micro-benchmark: CPU of one challenge mail through the SMTP sender, with connection reuse off
 * (SMTP_POOL_MAX_IDLE=0: TCP + EHLO + QUIT per mail) and on (the default pool), in one run, plus what
 * composing the MIME message alone costs, by MimeComposer (what the sender uses) and by nodemailer's
 * MailComposer (what it used before, and its fallback). The relay is an smtp-server in a child
 * process, so the figures are this process's work only (the sender; nothing of the relay).
 * Sequential sends, then batches of concurrent ones. Not part of `npm run bench`; nothing here asserts a time.
 * Run: npx ts-node --transpile-only bench/smtp-send.bench.ts
 */
import { Logger } from '@nestjs/common';
import { ChildProcess, spawn } from 'node:child_process';
import MailComposer from 'nodemailer/lib/mail-composer';
import { loadConfig } from '../src/common/config/app-config';
import { renderChallengeMail } from '../src/common/mail/mail-content';
import { ChallengeMail } from '../src/common/mail/mail-sender';
import { MimeComposer } from '../src/common/mail/mime-message';
import { SmtpMailSender } from '../src/common/mail/smtp-mail-sender';

/**
 * The relay: accepts and discards every message; prints its port. Without its reverse DNS lookup of
 * each client, which adds ~100 ms of waiting per new connection here and says nothing about the sender.
 */
const RELAY = `
const { SMTPServer } = require('smtp-server');
const server = new SMTPServer({
  authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'], logger: false, disableReverseLookup: true,
  onData(stream, _session, callback) { stream.on('data', () => {}); stream.on('end', () => callback()); },
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.server.address().port + '\\n'));
`;

async function startRelay(): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ['-e', RELAY], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
  });
  return { port, child };
}

const mail = (i: number): ChallengeMail => ({
  to: `user${i}@example.com`,
  challengeId: String(i),
  code: String(100000 + i),
  operation: 'payment.approve',
  expiresAt: Date.UTC(2025, 2, 5, 21, 34, 22),
  ttlSeconds: 300,
});

/** CPU µs (user + system) and wall µs per mail of `n` mails, `concurrency` at a time. */
async function measure(sender: SmtpMailSender, n: number, concurrency: number) {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i += concurrency)
    await Promise.all(Array.from({ length: concurrency }, (_, j) => sender.send(mail(i + j))));
  const wall = Number(process.hrtime.bigint() - t0) / 1000 / n;
  const cpu = process.cpuUsage(cpu0);
  return { cpu: (cpu.user + cpu.system) / n, wall };
}

const FROM = 'MFA <no-reply@example.com>';
const lean = new MimeComposer(FROM, 'Code');

/** CPU µs per mail of rendering and composing `n` challenge mails, by MimeComposer or by MailComposer. */
async function composeCost(n: number, by: 'lean' | 'MailComposer'): Promise<number> {
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const { text, html } = renderChallengeMail(mail(i));
    if (by === 'lean') {
      await lean.compose({ to: mail(i).to, subject: 'Code', text, html });
      continue;
    }
    const node = new MailComposer({ from: FROM, to: mail(i).to, subject: 'Code', text, html }).compile();
    await node.build();
  }
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / n;
}

export async function runSmtpSendBench(n = 200): Promise<void> {
  Logger.overrideLogger(false);
  const relay = await startRelay();
  try {
    const sender = (maxIdle: number) =>
      new SmtpMailSender(
        loadConfig({
          DATABASE_URL: 'sqlite::memory:',
          MASTER_KEY: Buffer.alloc(32).toString('base64'),
          MAIL_TRANSPORT: 'smtp',
          SMTP_URL: `smtp://127.0.0.1:${relay.port}?ignoreTLS=true`,
          SMTP_POOL_MAX_IDLE: String(maxIdle),
        }).config,
      );
    const off = sender(0);
    const on = sender(5);
    // warm-up
    await composeCost(100, 'MailComposer');
    await composeCost(1000, 'lean');
    await measure(off, 50, 1);
    await measure(on, 50, 1);
    // the lean figure over more mails: at a few µs each, 200 would be below the clock's resolution
    const mailComposer = await composeCost(n, 'MailComposer');
    const composer = await composeCost(n * 10, 'lean');
    console.log(`SMTP send, ${n} mails per figure (relay in a child process; CPU of this process only)`);
    console.log(
      `  composing the MIME message alone: MimeComposer ${composer.toFixed(1)} µs CPU per mail, ` +
        `MailComposer ${mailComposer.toFixed(0)} µs; MailComposer/MimeComposer = ${(mailComposer / composer).toFixed(0)}`,
    );
    for (const concurrency of [1, 10]) {
      // alternated, so that drift of a shared machine hits both alike
      const a = await measure(off, n / 2, concurrency);
      const b = await measure(on, n / 2, concurrency);
      const c = await measure(off, n / 2, concurrency);
      const d = await measure(on, n / 2, concurrency);
      const offCpu = (a.cpu + c.cpu) / 2;
      const onCpu = (b.cpu + d.cpu) / 2;
      console.log(
        `  ${concurrency === 1 ? 'sequential ' : `${concurrency} at a time`}: pool off ${offCpu.toFixed(0)} µs CPU ` +
          `(${((a.wall + c.wall) / 2).toFixed(0)} µs wall), pool on ${onCpu.toFixed(0)} µs CPU ` +
          `(${((b.wall + d.wall) / 2).toFixed(0)} µs wall) per mail; off/on = ${(offCpu / onCpu).toFixed(2)}`,
      );
    }
    await off.onModuleDestroy();
    await on.onModuleDestroy();
  } finally {
    relay.child.kill();
  }
}

if (require.main === module)
  runSmtpSendBench().catch((e) => {
    console.error(e);
    process.exit(1);
  });
