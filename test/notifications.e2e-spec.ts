import { createHuman, createOrg, createPat, HumanFixture } from './helpers/factories';
import { subjectOf, textOf } from './helpers/mail-text';
import { ReceivedMail, startSmtpSink, SmtpSink } from './helpers/smtp-sink';
import { TcpProxy } from './helpers/tcp-proxy';
import { bearer, createTestApp, TestApp } from './helpers/test-app';
import { codeAt, readyTotp, sql } from './helpers/totp';

const MAX_ATTEMPTS = 3;
const SUBJECTS = {
  added: 'A sign-in method was added to your account',
  removed: 'A sign-in method was removed from your account',
  locked: 'Sign-in locked after failed attempts',
  replayed: 'A used sign-in code was presented again',
  addedDe: 'Ihrem Konto wurde eine Anmeldemethode hinzugefügt',
} as const;

/** Mails of one SMTP sink, awaited as they arrive (the sink announces each one). */
class Inbox {
  constructor(private readonly sink: SmtpSink) {}

  to(address: string): ReceivedMail[] {
    return this.sink.messages.filter((m) => m.to.includes(address));
  }

  /**
   * Waits until the notifications to `address` (mails with these subjects; code mails are left out)
   * have arrived, and expects them in this order; returns them.
   */
  async waitForSubjects(address: string, subjects: string[]): Promise<ReceivedMail[]> {
    const wanted = new Set(subjects);
    const notices = () => this.to(address).filter((m) => wanted.has(subjectOf(m)));
    while (notices().length < subjects.length) await this.sink.dataReceived();
    expect(notices().map(subjectOf)).toEqual(subjects);
    return notices();
  }

  /** Waits until `count` mails to `address` have arrived; returns them. */
  async waitFor(address: string, count: number): Promise<ReceivedMail[]> {
    while (this.to(address).length < count) await this.sink.dataReceived();
    return this.to(address);
  }
}

/** Waits until `pred` (a look at the outbox) holds: the worker's progress, not a fixed time. */
async function until(pred: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function human(
  t: TestApp,
  orgId: string,
  opts: { preferredLanguage?: string; verified?: boolean } = {},
): Promise<HumanFixture> {
  if (!opts.preferredLanguage && opts.verified !== false) return createHuman(t, orgId);
  const username = `user-${Math.random().toString(16).slice(2, 10)}`;
  const email = `${username}@example.com`;
  const res = await t.http
    .post('/v2/users/human')
    .set(bearer(t.adminToken))
    .send({
      organization: { orgId },
      username,
      profile: { givenName: 'Test', familyName: 'User', preferredLanguage: opts.preferredLanguage },
      email: { email, isVerified: opts.verified ?? true },
    });
  if (res.status !== 200) throw new Error(`human: ${res.status} ${JSON.stringify(res.body)}`);
  const userId = res.body.userId as string;
  return { userId, orgId, email, username, token: await createPat(t, userId) };
}

const outbox = (t: TestApp, userId: string) =>
  sql<{ id: number; kind: string; state: string; attempts: number }>(
    t,
    'SELECT id, kind, state, attempts FROM notification_outbox WHERE user_id = $1 ORDER BY id',
    [userId],
  );

describe('security notifications (outbox → SMTP)', () => {
  let sink: SmtpSink;
  let proxy: TcpProxy;
  let inbox: Inbox;
  let t: TestApp;
  let orgId: string;

  beforeAll(async () => {
    sink = await startSmtpSink();
    inbox = new Inbox(sink);
    proxy = await TcpProxy.start({ host: '127.0.0.1', port: sink.port });
    t = await createTestApp({
      env: {
        MAIL_TRANSPORT: 'smtp',
        SMTP_URL: proxy.rewrite(sink.url),
        NOTIFY_EVENTS: 'all',
        OTP_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
        // Retries come quickly here; the poll is far away: a committed row wakes the worker itself.
        NOTIFY_RETRY_BASE_MS: '50',
        NOTIFY_RETRY_MAX_MS: '400',
        NOTIFY_POLL_INTERVAL_MS: '3600000',
      },
    });
    orgId = await createOrg(t);
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
    await sink?.close();
  });

  it('TOTP v2: register and remove each send one mail, in English by default', async () => {
    const u = await human(t, orgId);
    expect((await t.http.post(`/v2/users/${u.userId}/totp`).set(bearer(u.token)).send({})).status).toBe(200);
    const [added] = await inbox.waitFor(u.email, 1);
    expect(subjectOf(added)).toBe(SUBJECTS.added);
    expect(textOf(added)).toContain(
      'A sign-in method was added to your account: an authenticator app (TOTP).',
    );
    expect(textOf(added)).toContain(new Date(t.clock.now()).toISOString().slice(0, 16).replace('T', ' '));
    expect((await t.http.delete(`/v2/users/${u.userId}/totp`).set(bearer(u.token))).status).toBe(200);
    const mails = await inbox.waitFor(u.email, 2);
    expect(subjectOf(mails[1])).toBe(SUBJECTS.removed);
    expect(textOf(mails[1])).toContain(
      'A sign-in method was removed from your account: an authenticator app (TOTP).',
    );
    // marked SENT right after the relay accepted it
    await until(async () => (await outbox(t, u.userId)).every((r) => r.state === 'SENT'), 'SENT');
    expect((await outbox(t, u.userId)).map((r) => [r.kind, r.state])).toEqual([
      ['factor_added', 'SENT'],
      ['factor_removed', 'SENT'],
    ]);
  });

  it('TOTP v1: AddMyAuthFactorOTP and RemoveMyAuthFactorOTP notify too', async () => {
    const u = await human(t, orgId);
    const v1 = '/auth/v1/users/me/auth_factors/otp';
    expect((await t.http.post(v1).set(bearer(u.token)).send({})).status).toBe(200);
    expect((await t.http.delete(v1).set(bearer(u.token))).status).toBe(200);
    const mails = await inbox.waitFor(u.email, 2);
    expect(mails.map(subjectOf)).toEqual([SUBJECTS.added, SUBJECTS.removed]);
  });

  it('OTP SMS (v3alpha): adding and removing the factor notify', async () => {
    const u = await human(t, orgId);
    const base = `/resources/v3alpha/users/${u.userId}/otp_sms`;
    const add = await t.http
      .post(base)
      .set(bearer(t.adminToken))
      .send({ number: '+41791999001', isVerified: true });
    expect(add.status).toBe(200);
    const [added] = await inbox.waitFor(u.email, 1);
    expect(subjectOf(added)).toBe(SUBJECTS.added);
    expect(textOf(added)).toContain('A sign-in method was added to your account: one-time codes by SMS.');
    const del = await t.http.delete(`${base}/${add.body.otpSmsId as string}`).set(bearer(t.adminToken));
    expect(del.status).toBe(200);
    const mails = await inbox.waitFor(u.email, 2);
    expect(subjectOf(mails[1])).toBe(SUBJECTS.removed);
    expect(textOf(mails[1])).not.toContain('+41791999001');
  });

  it('a lock after failed attempts and a replayed code each send one mail', async () => {
    const u = await human(t, orgId);
    const secret = await readyTotp(t, u.userId, u.token);
    await inbox.waitFor(u.email, 1); // factor_added
    const check = (code: string) =>
      t.http.post(`/v2/users/${u.userId}/totp/_check`).set(bearer(u.token)).send({ code });
    const code = codeAt(t, secret);
    expect((await check(code)).status).toBe(200);
    expect((await check(code)).status).toBe(400); // the same code again: a replay
    const replayed = (await inbox.waitFor(u.email, 2))[1];
    expect(subjectOf(replayed)).toBe(SUBJECTS.replayed);
    expect(textOf(replayed)).not.toContain(code);
    const wrong = codeAt(t, secret, 5);
    for (let i = 0; i < MAX_ATTEMPTS; i++) expect((await check(wrong)).status).toBe(400);
    expect((await check(codeAt(t, secret, 1))).status).toBe(429);
    const locked = (await inbox.waitFor(u.email, 3))[2];
    expect(subjectOf(locked)).toBe(SUBJECTS.locked);
    expect(textOf(locked)).toContain('was locked after too many wrong codes: an authenticator app (TOTP).');
    // wrong codes that did not lock asked for nothing
    expect((await outbox(t, u.userId)).map((r) => r.kind)).toEqual([
      'factor_added',
      'code_replayed',
      'factor_locked',
    ]);
  });

  it('v2 OTP SMS and OTP Email: added, a sign-in code locked after failed attempts, removed', async () => {
    const u = await createHuman(t, orgId, { phone: '+41791999002' });
    const path = (factor: string, action = '') => `/v2/users/${u.userId}/${factor}${action}`;
    const post = (p: string, body: object = {}) => t.http.post(p).set(bearer(u.token)).send(body);
    expect((await post(path('otp_sms'))).status).toBe(200);
    expect((await post(path('otp_email'))).status).toBe(200);
    await inbox.waitForSubjects(u.email, [SUBJECTS.added, SUBJECTS.added]);
    expect((await post(path('otp_sms', '/_send'))).status).toBe(200);
    for (let i = 0; i < MAX_ATTEMPTS; i++)
      expect((await post(path('otp_sms', '/_check'), { code: '00000000' })).status).toBe(400);
    await inbox.waitForSubjects(u.email, [SUBJECTS.added, SUBJECTS.added, SUBJECTS.locked]);
    expect((await t.http.delete(path('otp_sms')).set(bearer(u.token))).status).toBe(200);
    expect((await t.http.delete(path('otp_email')).set(bearer(u.token))).status).toBe(200);
    const mails = await inbox.waitForSubjects(u.email, [
      SUBJECTS.added,
      SUBJECTS.added,
      SUBJECTS.locked,
      SUBJECTS.removed,
      SUBJECTS.removed,
    ]);
    expect(mails.map((m) => textOf(m).split(/\r?\n/)[2].trim())).toEqual([
      'A sign-in method was added to your account: one-time codes by SMS.',
      'A sign-in method was added to your account: one-time codes by email.',
      'A sign-in method of your account was locked after too many wrong codes: one-time codes by SMS.',
      'A sign-in method was removed from your account: one-time codes by SMS.',
      'A sign-in method was removed from your account: one-time codes by email.',
    ]);
  });

  it('recovery codes: generated, used, few left, locked after failed attempts, removed', async () => {
    const u = await human(t, orgId);
    const base = `/v2/users/${u.userId}/recovery_codes`;
    const gen = await t.http.post(base).set(bearer(u.token)).send({ count: 4 });
    expect(gen.status).toBe(200);
    const codes = gen.body.recoveryCodes as string[];
    const check = (code: string) => t.http.post(`${base}/_check`).set(bearer(u.token)).send({ code });
    expect((await check(codes[0])).body.remaining).toBe(3);
    expect((await check(codes[1])).body.remaining).toBe(2);
    for (let i = 0; i < MAX_ATTEMPTS; i++) expect((await check('ZZZZZ-ZZZZZ')).status).toBe(400);
    expect((await t.http.delete(base).set(bearer(u.token))).status).toBe(200);
    const mails = await inbox.waitForSubjects(u.email, [
      'New recovery codes were generated',
      'A recovery code was used',
      'Only few recovery codes left',
      SUBJECTS.locked,
      SUBJECTS.removed,
    ]);
    expect(textOf(mails[1])).toContain('Codes left: 3.');
    expect(textOf(mails[2])).toContain('Only 2 recovery codes left');
    expect(textOf(mails[3])).toContain('locked after too many wrong codes: recovery codes.');
    for (const m of mails) for (const code of codes) expect(m.raw).not.toContain(code);
  });

  it('German for preferredLanguage de; nothing for an unverified address', async () => {
    const unverified = await human(t, orgId, { verified: false });
    expect(
      (await t.http.post(`/v2/users/${unverified.userId}/totp`).set(bearer(unverified.token)).send({}))
        .status,
    ).toBe(200);
    const de = await human(t, orgId, { preferredLanguage: 'de' });
    expect((await t.http.post(`/v2/users/${de.userId}/totp`).set(bearer(de.token)).send({})).status).toBe(
      200,
    );
    const [mail] = await inbox.waitFor(de.email, 1);
    expect(subjectOf(mail)).toBe(SUBJECTS.addedDe);
    expect(textOf(mail)).toContain(
      'Ihrem Konto wurde eine Anmeldemethode hinzugefügt: eine Authenticator-App (TOTP).',
    );
    // rows are delivered in order: the unverified user's row (written first) is settled by now
    expect((await outbox(t, unverified.userId)).map((r) => [r.kind, r.state])).toEqual([
      ['factor_added', 'SKIPPED'],
    ]);
    expect(inbox.to(unverified.email)).toEqual([]);
  });

  it('SMTP down: requests still succeed; once it is back each notification arrives exactly once', async () => {
    const u = await human(t, orgId);
    await proxy.down();
    const v2 = `/v2/users/${u.userId}/totp`;
    expect((await t.http.post(v2).set(bearer(u.token)).send({})).status).toBe(200);
    expect((await t.http.delete(v2).set(bearer(u.token))).status).toBe(200);
    // both rows were tried and failed at least twice (the backoff is running)
    await until(
      async () => (await outbox(t, u.userId)).every((r) => r.state === 'PENDING' && r.attempts >= 2),
      'failed tries',
    );
    expect(inbox.to(u.email)).toEqual([]);
    await proxy.resume();
    const mails = await inbox.waitFor(u.email, 2);
    // retried on their own schedules: in either order
    expect(mails.map(subjectOf).sort()).toEqual([SUBJECTS.added, SUBJECTS.removed]);
    await until(async () => (await outbox(t, u.userId)).every((r) => r.state === 'SENT'), 'all sent');
    // SENT rows are never claimed again: what arrived is all that will
    expect(inbox.to(u.email)).toHaveLength(2);
    const retries = t.logs.filter((l) => l.includes('notification not sent, will retry'));
    for (const r of await outbox(t, u.userId))
      expect(retries.some((l) => l.includes(`"outboxId":${r.id},`))).toBe(true);
  });

  it('logs name the kind and the outbox id, never an address', () => {
    const lines = t.logs.filter((l) => /"outboxId":\d+/.test(l));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/"kind":"[a-z_]+"/);
    for (const m of sink.messages) for (const to of m.to) expect(t.logs.join('\n')).not.toContain(to);
  });
});

describe('NOTIFY_EVENTS', () => {
  let sink: SmtpSink;
  let t: TestApp;

  beforeAll(async () => {
    sink = await startSmtpSink();
    t = await createTestApp({
      env: { MAIL_TRANSPORT: 'smtp', SMTP_URL: sink.url, NOTIFY_EVENTS: 'factor_removed' },
    });
  });
  afterAll(async () => {
    await t?.close();
    await sink?.close();
  });

  it('only the chosen kinds are written and sent', async () => {
    const u = await human(t, await createOrg(t));
    const v2 = `/v2/users/${u.userId}/totp`;
    expect((await t.http.post(v2).set(bearer(u.token)).send({})).status).toBe(200);
    expect((await t.http.delete(v2).set(bearer(u.token))).status).toBe(200);
    const mails = await new Inbox(sink).waitFor(u.email, 1);
    expect(subjectOf(mails[0])).toBe(SUBJECTS.removed);
    expect((await outbox(t, u.userId)).map((r) => r.kind)).toEqual(['factor_removed']);
  });
});

describe('notifications across two instances sharing one database', () => {
  let sink: SmtpSink;
  let a: TestApp;
  let b: TestApp;
  const env = () => ({
    MAIL_TRANSPORT: 'smtp',
    SMTP_URL: sink.url,
    NOTIFY_EVENTS: 'all',
    // both workers look often, so they race for the rows the other instance wrote
    NOTIFY_POLL_INTERVAL_MS: '100',
  });

  beforeAll(async () => {
    sink = await startSmtpSink();
    a = await createTestApp({ env: env() });
    b = await createTestApp({ env: env(), shareDbWith: a });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await sink?.close();
  });

  const messageId = (m: ReceivedMail) => /^Message-ID: (.*?)\r?$/im.exec(m.raw)?.[1];

  it('each notification is delivered exactly once, whichever instance wrote or claimed it', async () => {
    const orgId = await createOrg(a);
    const users = await Promise.all([0, 1, 2, 3, 4, 5].map(() => human(a, orgId)));
    await Promise.all(
      users.map(async (u, i) => {
        const [first, second] = i % 2 ? [a, b] : [b, a];
        expect(
          (await first.http.post(`/v2/users/${u.userId}/totp`).set(bearer(u.token)).send({})).status,
        ).toBe(200);
        expect((await second.http.delete(`/v2/users/${u.userId}/totp`).set(bearer(u.token))).status).toBe(
          200,
        );
      }),
    );
    const inbox = new Inbox(sink);
    for (const u of users) await inbox.waitFor(u.email, 2);
    for (const u of users)
      await until(async () => (await outbox(a, u.userId)).every((r) => r.state === 'SENT'), 'SENT');
    const mails = users.flatMap((u) => inbox.to(u.email));
    expect(mails).toHaveLength(12);
    const ids = mails.map(messageId);
    expect(ids.every((id) => id && /^<notification\.\d+\.\d+@/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(12);
    for (const u of users) expect((await outbox(a, u.userId)).map((r) => r.attempts)).toEqual([1, 1]);
  });

  it('a row claimed by a worker that died is delivered once its claim has run out; a live claim is left alone', async () => {
    const u = await human(a, await createOrg(a));
    const plant = (leaseUntil: number) =>
      sql(
        a,
        `INSERT INTO notification_outbox (user_id, org_id, kind, event_type, payload, created_at, attempts, lease_until, lease_token)
         VALUES ($1, $2, 'factor_removed', 'user.human.mfa.otp.removed', NULL, $3, 1, $4, 'a-dead-worker')`,
        [u.userId, u.orgId, a.clock.now(), leaseUntil],
      );
    await plant(Date.now() + 3_600_000); // held by a worker that is still running (ids are taken in order)
    await plant(Date.now() - 1); // held by a worker that died
    const [mail] = await new Inbox(sink).waitFor(u.email, 1);
    expect(subjectOf(mail)).toBe(SUBJECTS.removed);
    await until(async () => (await outbox(a, u.userId))[1].state === 'SENT', 'SENT');
    const rows = await outbox(a, u.userId);
    expect(rows.map((r) => [r.state, r.attempts])).toEqual([
      ['PENDING', 1],
      ['SENT', 2],
    ]);
    expect(new Inbox(sink).to(u.email)).toHaveLength(1);
  });
});

describe('notification worker at shutdown', () => {
  let sink: SmtpSink;
  let holder: TestApp;

  beforeAll(async () => {
    sink = await startSmtpSink();
    // keeps the database after the app under test has closed (its own worker finds nothing to do)
    holder = await createTestApp();
  });
  afterAll(async () => {
    sink?.release();
    await holder?.close();
    await sink?.close();
  });

  it('waits for the mail being sent, settles it, then stops', async () => {
    const t = await createTestApp({
      shareDbWith: holder,
      env: { MAIL_TRANSPORT: 'smtp', SMTP_URL: sink.url, NOTIFY_EVENTS: 'all', MAIL_SEND_DEADLINE_MS: '500' },
    });
    const u = await human(t, await createOrg(t));
    sink.stall('data-end'); // the relay takes the whole mail and does not answer
    const received = sink.dataReceived();
    expect((await t.http.post(`/v2/users/${u.userId}/totp`).set(bearer(u.token)).send({})).status).toBe(200);
    await received;
    await t.close(); // the send ends at MAIL_SEND_DEADLINE_MS as transmitted-but-unconfirmed: counted as sent
    expect((await outbox(holder, u.userId)).map((r) => [r.kind, r.state, r.attempts])).toEqual([
      ['factor_added', 'SENT', 1],
    ]);
    expect(new Inbox(sink).to(u.email)).toHaveLength(1);
  });
});
