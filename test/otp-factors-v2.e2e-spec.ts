import { DataSource } from 'typeorm';
import { createHuman, createMachine, createOrg, grantOrgRoles, HumanFixture } from './helpers/factories';
import { FakeSmsProvider } from './helpers/fake-sms-provider';
import { startSmtpSink, SmtpSink, ReceivedMail } from './helpers/smtp-sink';
import { detailsWithId, zitadelError } from './helpers/error-bodies';
import { bearer, createTestApp, TestApp } from './helpers/test-app';

const MAX_ATTEMPTS = 3;
const COOLDOWN_S = 30;
const SMS_TTL_S = 120;
const DAILY_LIMIT = 4;

let counter = 0;
const newNumber = () => `+41792${String(++counter).padStart(6, '0')}`;
const mailCode = (mail: ReceivedMail) => {
  const m = /verification code is: (\d{8})\b/.exec(mail.raw);
  if (!m) throw new Error('no code in mail');
  return m[1];
};
const wrong = (code: string) => String((Number(code) + 1) % 100_000_000).padStart(8, '0');

/** v2 OTP SMS and OTP Email: life cycles with real deliveries, ZITADEL's errors, limits, the factor list. */
describe('v2 OTP SMS / OTP Email factors and ListAuthenticationMethodTypes', () => {
  let t: TestApp;
  let sms: FakeSmsProvider;
  let sink: SmtpSink;
  let orgId: string;
  let owner: HumanFixture;
  let stranger: { userId: string; token: string };

  beforeAll(async () => {
    sms = await new FakeSmsProvider().start();
    sink = await startSmtpSink();
    t = await createTestApp({
      env: {
        SMS_PROVIDER: 'webhook',
        SMS_WEBHOOK_URL: sms.url + '/sms',
        SMS_RETRIES: '0',
        SMS_TIMEOUT_MS: '2000',
        SMS_CODE_TTL_SECONDS: String(SMS_TTL_S),
        SMS_RESEND_COOLDOWN_SECONDS: String(COOLDOWN_S),
        SMS_DAILY_LIMIT_PER_NUMBER: String(DAILY_LIMIT),
        MAIL_TRANSPORT: 'smtp',
        SMTP_URL: sink.url,
        EMAIL_RESEND_COOLDOWN_SECONDS: String(COOLDOWN_S),
        OTP_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      },
    });
    orgId = await createOrg(t);
    owner = await createHuman(t, orgId);
    await grantOrgRoles(t, orgId, owner.userId, ['ORG_OWNER']);
    stranger = await createMachine(t, orgId);
  });
  afterAll(async () => {
    await t?.close();
    await sms?.stop();
    await sink?.close();
  });

  const path = (userId: string, kind: 'otp_sms' | 'otp_email', action = '') =>
    `/v2/users/${userId}/${kind}${action ? '/' + action : ''}`;
  const post = (token: string, p: string, body: object = {}) => t.http.post(p).set(bearer(token)).send(body);
  const del = (token: string, p: string) => t.http.delete(p).set(bearer(token));
  const methods = async (token: string, userId: string) => {
    const res = await t.http.get(`/v2/users/${userId}/authentication_methods`).set(bearer(token));
    expect(res.status).toBe(200);
    expect(res.body.details.totalResult).toBe(String(res.body.authMethodTypes.length));
    return res.body.authMethodTypes as string[];
  };
  const eventTypes = async (userId: string) => {
    const rows: { event_type: string; payload: string | null }[] = await t.app
      .get(DataSource)
      .query(
        t.db === 'postgres'
          ? 'SELECT event_type, payload FROM events WHERE aggregate_id = $1 ORDER BY sequence'
          : 'SELECT event_type, payload FROM events WHERE aggregate_id = ? ORDER BY sequence',
        [userId],
      );
    return rows;
  };
  const withPhone = async (verified = true) => {
    const number = newNumber();
    return { user: await createHuman(t, orgId, { phone: number, phoneVerified: verified }), number };
  };

  it('OTP SMS: a pending code does not pass without its factor (checked in the statement taking the attempt)', async () => {
    const { user, number } = await withPhone();
    expect((await post(user.token, path(user.userId, 'otp_sms'))).status).toBe(200);
    expect((await post(user.token, path(user.userId, 'otp_sms', '_send'))).status).toBe(200);
    const code = sms.last(number).code;
    // The factor row goes, the code row stays (as if a removal raced with the send).
    await t.app
      .get(DataSource)
      .query(
        t.db === 'postgres'
          ? `DELETE FROM otp_channel_factors WHERE user_id = $1 AND channel = 'sms'`
          : `DELETE FROM otp_channel_factors WHERE user_id = ? AND channel = 'sms'`,
        [user.userId],
      );
    const res = await post(user.token, path(user.userId, 'otp_sms', '_check'), { code });
    expect(res.status).toBe(404);
    expect(res.body.details).toEqual(detailsWithId('COMMAND-Sr3h3'));
    const events = (await eventTypes(user.userId)).map((e) => e.event_type);
    expect(events.filter((e) => e.startsWith('user.human.otp.sms'))).toEqual([
      'user.human.otp.sms.added',
      'user.human.otp.sms.code.added',
    ]);
  });

  it('OTP SMS: add on the verified phone, send a code by SMS, check it once, remove', async () => {
    const { user, number } = await withPhone();
    expect(await methods(user.token, user.userId)).toEqual([]);

    const added = await post(user.token, path(user.userId, 'otp_sms'));
    expect(added.status).toBe(200);
    expect(added.body.details).toEqual({
      sequence: expect.stringMatching(/^\d+$/),
      changeDate: new Date(t.clock.now()).toISOString(),
      resourceOwner: orgId,
    });
    expect(await methods(user.token, user.userId)).toEqual(['AUTHENTICATION_METHOD_TYPE_OTP_SMS']);

    const dup = await post(user.token, path(user.userId, 'otp_sms'));
    expect(dup.status).toBe(409);
    expect(dup.body).toEqual(
      zitadelError(6, 'COMMAND-Ad3g2', 'Multifactor OTP (OneTimePassword) is already set up'),
    );

    const before = sms.received.length;
    const sent = await post(user.token, path(user.userId, 'otp_sms', '_send'));
    expect(sent.status).toBe(200);
    expect(sms.received.length).toBe(before + 1);
    const code = sms.last(number).code;
    expect(code).toMatch(/^\d{8}$/);
    expect(sms.last(number).text).toContain(code);

    const bad = await post(user.token, path(user.userId, 'otp_sms', '_check'), { code: wrong(code) });
    expect(bad.status).toBe(400);
    expect(bad.body.details).toEqual(detailsWithId('CODE-woT0xc'));
    const ok = await post(user.token, path(user.userId, 'otp_sms', '_check'), { code });
    expect(ok.status).toBe(200);
    expect(ok.body.details.resourceOwner).toBe(orgId);
    const replay = await post(user.token, path(user.userId, 'otp_sms', '_check'), { code });
    expect(replay.status).toBe(400);
    expect(replay.body.details).toEqual(detailsWithId('COMMAND-S34gh'));

    // An administrator removes it (no step-up for acting on another user).
    const removed = await del(owner.token, path(user.userId, 'otp_sms'));
    expect(removed.status).toBe(200);
    expect(await methods(user.token, user.userId)).toEqual([]);
    const again = await del(owner.token, path(user.userId, 'otp_sms'));
    expect(again.status).toBe(404);
    expect(again.body.details).toEqual(detailsWithId('COMMAND-Sr3h3'));
    const noFactor = await post(user.token, path(user.userId, 'otp_sms', '_send'));
    expect(noFactor.status).toBe(404);
    // A check without the factor: not found, and no check.failed recorded (the list below ends with removed).
    const noFactorCheck = await post(user.token, path(user.userId, 'otp_sms', '_check'), { code });
    expect(noFactorCheck.status).toBe(404);
    expect(noFactorCheck.body.details).toEqual(detailsWithId('COMMAND-Sr3h3'));

    const events = (await eventTypes(user.userId)).map((e) => e.event_type);
    expect(events.filter((e) => e.startsWith('user.human.otp.sms'))).toEqual([
      'user.human.otp.sms.added',
      'user.human.otp.sms.code.added',
      'user.human.otp.sms.check.failed',
      'user.human.otp.sms.check.succeeded',
      'user.human.otp.sms.check.failed',
      'user.human.otp.sms.removed',
    ]);
    // Nothing secret in the log or the events.
    expect(t.logs.join('\n')).not.toContain(code);
    expect(t.logs.join('\n')).not.toContain(number);
    expect(JSON.stringify(await eventTypes(user.userId))).not.toContain(code);
  });

  it("OTP SMS: ZITADEL's error for an unverified or missing phone, and for a user without the factor", async () => {
    const { user } = await withPhone(false);
    const res = await post(user.token, path(user.userId, 'otp_sms'));
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      zitadelError(9, 'COMMAND-Q54j2', "Multifactor OTP (OneTimePassword) isn't ready"),
    );
    const noPhone = await createHuman(t, orgId);
    expect((await post(noPhone.token, path(noPhone.userId, 'otp_sms'))).status).toBe(400);
    const check = await post(noPhone.token, path(noPhone.userId, 'otp_sms', '_check'), { code: '12345678' });
    expect(check.status).toBe(404);
    expect(check.body.details).toEqual(detailsWithId('COMMAND-Sr3h3'));
    expect(await methods(owner.token, user.userId)).toEqual([]);
  });

  it('OTP SMS: a new code waits for the cooldown, replaces the old one, and counts against the daily limit', async () => {
    const { user, number } = await withPhone();
    await post(user.token, path(user.userId, 'otp_sms')).expect(200);
    await post(user.token, path(user.userId, 'otp_sms', '_send')).expect(200);
    const first = sms.last(number).code;
    const early = await post(user.token, path(user.userId, 'otp_sms', '_send'));
    expect(early.status).toBe(429);
    expect(early.body.details).toEqual(detailsWithId('OTPCODE-C00ld9'));
    expect(Number(early.headers['retry-after'])).toBe(COOLDOWN_S);
    t.clock.advance(COOLDOWN_S * 1000);
    await post(user.token, path(user.userId, 'otp_sms', '_send')).expect(200);
    const second = sms.last(number).code;
    if (first !== second) {
      const old = await post(user.token, path(user.userId, 'otp_sms', '_check'), { code: first });
      expect(old.status).toBe(400);
    }
    await post(user.token, path(user.userId, 'otp_sms', '_check'), { code: second }).expect(200);
    // Up to the daily limit (2 sent so far), then 429 until the next UTC day.
    for (let i = 2; i < DAILY_LIMIT; i++) {
      t.clock.advance(COOLDOWN_S * 1000);
      await post(user.token, path(user.userId, 'otp_sms', '_send')).expect(200);
    }
    t.clock.advance(COOLDOWN_S * 1000);
    const sentBefore = sms.received.length;
    const limited = await post(user.token, path(user.userId, 'otp_sms', '_send'));
    expect(limited.status).toBe(429);
    expect(limited.body.details).toEqual(detailsWithId('OTPSMS-D4yl1m'));
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(sms.received.length).toBe(sentBefore);
  });

  it('OTP SMS: a code allows OTP_MAX_ATTEMPTS tries, the last failure locks it, and it expires', async () => {
    const { user, number } = await withPhone();
    await post(user.token, path(user.userId, 'otp_sms')).expect(200);
    await post(user.token, path(user.userId, 'otp_sms', '_send')).expect(200);
    const code = sms.last(number).code;
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      const res = await post(user.token, path(user.userId, 'otp_sms', '_check'), { code: wrong(code) });
      expect(res.status).toBe(400);
    }
    const exhausted = await post(user.token, path(user.userId, 'otp_sms', '_check'), { code });
    expect(exhausted.status).toBe(400);
    expect(exhausted.body.details).toEqual(detailsWithId('OTPCODE-Att3mx'));
    const events = (await eventTypes(user.userId)).map((e) => e.event_type);
    expect(events.filter((e) => e === 'user.human.otp.sms.check.locked')).toHaveLength(1);

    t.clock.advance(COOLDOWN_S * 1000);
    await post(user.token, path(user.userId, 'otp_sms', '_send')).expect(200);
    const fresh = sms.last(number).code;
    t.clock.advance(SMS_TTL_S * 1000 + 1);
    const expired = await post(user.token, path(user.userId, 'otp_sms', '_check'), { code: fresh });
    expect(expired.status).toBe(400);
    expect(expired.body.details).toEqual(detailsWithId('CODE-QvUQ4P'));
  });

  it('OTP SMS: a provider that is down answers 503, discards the code and lets the caller retry at once', async () => {
    const { user, number } = await withPhone();
    await post(user.token, path(user.userId, 'otp_sms')).expect(200);
    sms.failWith = 500;
    try {
      const down = await post(user.token, path(user.userId, 'otp_sms', '_send'));
      expect(down.status).toBe(503);
      expect(down.body.details).toEqual(detailsWithId('OTPCODE-Snd503'));
    } finally {
      sms.failWith = undefined;
    }
    await post(user.token, path(user.userId, 'otp_sms', '_send')).expect(200);
    await post(user.token, path(user.userId, 'otp_sms', '_check'), { code: sms.last(number).code }).expect(
      200,
    );
  });

  it('OTP SMS: 20 parallel checks of the right code: exactly one succeeds', async () => {
    const { user, number } = await withPhone();
    await post(user.token, path(user.userId, 'otp_sms')).expect(200);
    await post(user.token, path(user.userId, 'otp_sms', '_send')).expect(200);
    const code = sms.last(number).code;
    const results = await Promise.all(
      Array.from({ length: 20 }, () => post(user.token, path(user.userId, 'otp_sms', '_check'), { code })),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.every((r) => r.status === 200 || r.status === 400)).toBe(true);
    const events = (await eventTypes(user.userId)).map((e) => e.event_type);
    expect(events.filter((e) => e === 'user.human.otp.sms.check.succeeded')).toHaveLength(1);
  });

  it('OTP SMS: the v2 factor and the v3alpha authenticators draw on one daily budget per number', async () => {
    const { user, number } = await withPhone();
    await post(user.token, path(user.userId, 'otp_sms')).expect(200);
    // DAILY_LIMIT - 1 SMS through v3alpha (add, then resends), the last one through v2.
    const v3 = await post(user.token, `/resources/v3alpha/users/${user.userId}/otp_sms`, { number });
    expect(v3.status).toBe(200);
    for (let i = 1; i < DAILY_LIMIT - 1; i++) {
      t.clock.advance(COOLDOWN_S * 1000);
      await post(
        user.token,
        `/resources/v3alpha/users/${user.userId}/otp_sms/${v3.body.otpSmsId}/_resend`,
      ).expect(200);
    }
    await post(user.token, path(user.userId, 'otp_sms', '_send')).expect(200);
    t.clock.advance(COOLDOWN_S * 1000);
    const limited = await post(user.token, path(user.userId, 'otp_sms', '_send'));
    expect(limited.status).toBe(429);
    expect(limited.body.details).toEqual(detailsWithId('OTPSMS-D4yl1m'));
  });

  it('bad input to _check is a 400 in the ZITADEL format and spends nothing', async () => {
    const { user, number } = await withPhone();
    await post(user.token, path(user.userId, 'otp_sms')).expect(200);
    await post(user.token, path(user.userId, 'otp_sms', '_send')).expect(200);
    for (const body of [{}, { code: 12345678 }, { code: '' }, { code: 'x'.repeat(201) }]) {
      const res = await post(user.token, path(user.userId, 'otp_sms', '_check'), body);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe(3);
      expect(res.body.message).toMatch(/^invalid /);
    }
    const bad = await t.http
      .post(path(user.userId, 'otp_sms', '_check'))
      .set(bearer(user.token))
      .set('Content-Type', 'application/json')
      .send('{"code":');
    expect(bad.status).toBe(400);
    // No attempt was spent: the code still has all of them.
    const code = sms.last(number).code;
    for (let i = 0; i < MAX_ATTEMPTS - 1; i++)
      expect(
        (await post(user.token, path(user.userId, 'otp_sms', '_check'), { code: wrong(code) })).status,
      ).toBe(400);
    await post(user.token, path(user.userId, 'otp_sms', '_check'), { code }).expect(200);
  });

  it('OTP Email: add on the verified address, code received over SMTP, checked once, removed', async () => {
    const user = await createHuman(t, orgId);
    const added = await post(user.token, path(user.userId, 'otp_email'));
    expect(added.status).toBe(200);
    expect(added.body.details.resourceOwner).toBe(orgId);
    const dup = await post(user.token, path(user.userId, 'otp_email'));
    expect(dup.status).toBe(409);
    expect(dup.body).toEqual(
      zitadelError(6, 'COMMAND-MKL2s', 'Multifactor OTP (OneTimePassword) is already set up'),
    );
    expect(await methods(user.token, user.userId)).toEqual(['AUTHENTICATION_METHOD_TYPE_OTP_EMAIL']);

    await post(user.token, path(user.userId, 'otp_email', '_send')).expect(200);
    const code = mailCode(sink.lastTo(user.email));
    const early = await post(user.token, path(user.userId, 'otp_email', '_send'));
    expect(early.status).toBe(429);
    expect(
      (await post(user.token, path(user.userId, 'otp_email', '_check'), { code: wrong(code) })).status,
    ).toBe(400);
    await post(user.token, path(user.userId, 'otp_email', '_check'), { code }).expect(200);
    expect((await post(user.token, path(user.userId, 'otp_email', '_check'), { code })).status).toBe(400);

    await del(owner.token, path(user.userId, 'otp_email')).expect(200);
    const again = await del(owner.token, path(user.userId, 'otp_email'));
    expect(again.status).toBe(404);
    expect(again.body).toEqual(
      zitadelError(5, 'COMMAND-b312D', "Multifactor OTP (OneTimePassword) doesn't exist"),
    );
    const events = (await eventTypes(user.userId)).map((e) => e.event_type);
    expect(events.filter((e) => e.startsWith('user.human.otp.email'))).toEqual([
      'user.human.otp.email.added',
      'user.human.otp.email.code.added',
      'user.human.otp.email.check.failed',
      'user.human.otp.email.check.succeeded',
      'user.human.otp.email.check.failed',
      'user.human.otp.email.removed',
    ]);
    expect(t.logs.join('\n')).not.toContain(code);
    expect(t.logs.join('\n')).not.toContain(user.email);
  });

  it("OTP Email: ZITADEL's error for an unverified address", async () => {
    const user = await createHuman(t, orgId, { emailVerified: false });
    const res = await post(user.token, path(user.userId, 'otp_email'));
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      zitadelError(9, 'COMMAND-KLJ2d', "Multifactor OTP (OneTimePassword) isn't ready"),
    );
  });

  it('the factor list holds every ready factor this service keeps, in enum order', async () => {
    const { user, number } = await withPhone();
    // TOTP registered but not verified: not listed.
    await post(user.token, `/v2/users/${user.userId}/totp`).expect(200);
    await post(user.token, path(user.userId, 'otp_email')).expect(200);
    // A pending v3alpha authenticator is not listed either; a verified one is.
    const v3 = await post(user.token, `/resources/v3alpha/users/${user.userId}/otp_sms`, { number });
    expect(v3.status).toBe(200);
    expect(await methods(user.token, user.userId)).toEqual(['AUTHENTICATION_METHOD_TYPE_OTP_EMAIL']);
    await t.http
      .post(`/resources/v3alpha/users/${user.userId}/otp_sms/${v3.body.otpSmsId}/_verify`)
      .set(bearer(user.token))
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(sms.last(number).code))
      .expect(200);
    await post(user.token, `/v2/users/${user.userId}/recovery_codes`).expect(200);
    expect(await methods(owner.token, user.userId)).toEqual([
      'AUTHENTICATION_METHOD_TYPE_OTP_SMS',
      'AUTHENTICATION_METHOD_TYPE_OTP_EMAIL',
      'AUTHENTICATION_METHOD_TYPE_RECOVERY_CODE',
    ]);
    const res = await t.http.get(`/v2/users/${user.userId}/authentication_methods`).set(bearer(user.token));
    expect(res.body.details).toEqual({ totalResult: '3', timestamp: new Date(t.clock.now()).toISOString() });
  });

  it('permissions: a stranger gets 403 on every route; an org owner manages other users', async () => {
    const { user } = await withPhone();
    const routes: [string, string][] = [
      ['post', path(user.userId, 'otp_sms')],
      ['post', path(user.userId, 'otp_sms', '_send')],
      ['post', path(user.userId, 'otp_sms', '_check')],
      ['delete', path(user.userId, 'otp_sms')],
      ['post', path(user.userId, 'otp_email')],
      ['post', path(user.userId, 'otp_email', '_send')],
      ['post', path(user.userId, 'otp_email', '_check')],
      ['delete', path(user.userId, 'otp_email')],
      ['get', `/v2/users/${user.userId}/authentication_methods`],
    ];
    for (const [method, p] of routes) {
      const req = method === 'get' ? t.http.get(p) : method === 'delete' ? t.http.delete(p) : t.http.post(p);
      const res = await req.set(bearer(stranger.token)).send({ code: '12345678' });
      expect([p, res.status]).toEqual([p, 403]);
    }
    // Unauthenticated: 401.
    expect((await t.http.post(path(user.userId, 'otp_sms'))).status).toBe(401);
    // The org owner (user.credential.write, user.write) acts on the user.
    await post(owner.token, path(user.userId, 'otp_sms')).expect(200);
    await post(owner.token, path(user.userId, 'otp_email')).expect(200);
    expect(await methods(owner.token, user.userId)).toEqual([
      'AUTHENTICATION_METHOD_TYPE_OTP_SMS',
      'AUTHENTICATION_METHOD_TYPE_OTP_EMAIL',
    ]);
    // An unknown user: not found for an instance administrator (others cannot tell it exists).
    const ghost = await post(t.adminToken, path('123456789012345678', 'otp_sms'));
    expect(ghost.status).toBe(404);
  });
});
