import { createHuman, createOrg, HumanFixture } from './helpers/factories';
import { codeIn, startSmtpSink, SmtpSink } from './helpers/smtp-sink';
import { bearer, createTestApp, TestApp } from './helpers/test-app';
import { sql } from './helpers/totp';

/**
 * A client that submits one valid code several times (double click, retry after a slow answer) must
 * not lock its own user out. OTP SMS and email codes are single use: once accepted the code is gone,
 * so a resubmission has nothing to guess against and spends no attempt (TOTP: test/totp-limits.e2e-spec.ts).
 */
describe('resubmitting a code that was just accepted', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let orgId: string;
  let u: HumanFixture;
  const BURST = 10;

  beforeAll(async () => {
    sink = await startSmtpSink();
    t = await createTestApp({
      env: {
        OTP_MAX_ATTEMPTS: '3',
        MAIL_TRANSPORT: 'smtp',
        SMTP_URL: sink.url,
        SMS_RESEND_COOLDOWN_SECONDS: '30',
      },
    });
    orgId = await createOrg(t);
    u = await createHuman(t, orgId);
  });
  afterAll(async () => {
    await t?.close();
    await sink?.close();
  });

  describe('OTP SMS', () => {
    const base = (suffix: string) => `/resources/v3alpha/users/${u.userId}/otp_sms${suffix}`;
    const postCode = (id: string, action: '_verify' | '_check', code: string) =>
      t.http
        .post(base(`/${id}/${action}`))
        .set(bearer(u.token))
        .set('Content-Type', 'application/json')
        .send(JSON.stringify(code));
    const issue = async (id: string) => {
      // an administrator may have the sign-in code returned (the user's own session may not)
      const res = await t.http
        .post(base(`/${id}/_challenge`))
        .set(bearer(t.adminToken))
        .send({ returnCode: {} });
      expect(res.status).toBe(200);
      return res.body.verificationCode as string;
    };
    const attempts = async (id: string) =>
      Number(
        (
          await sql<{ code_attempts: number }>(
            t,
            'SELECT code_attempts FROM otp_sms_authenticators WHERE id = $1',
            [id],
          )
        )[0].code_attempts,
      );

    it('a burst of one sign-in code: one 200, the rest 400 "Code not found"; nothing locked, the next code works', async () => {
      const added = await t.http
        .post(base(''))
        .set(bearer(t.adminToken))
        .send({ number: '+41791230001', isVerified: true });
      expect(added.status).toBe(200);
      const id = added.body.otpSmsId as string;
      const code = await issue(id);
      const burst = await Promise.all(Array.from({ length: BURST }, () => postCode(id, '_check', code)));
      expect(burst.filter((r) => r.status === 200)).toHaveLength(1);
      for (const r of burst.filter((x) => x.status !== 200)) {
        expect(r.status).toBe(400);
        expect(r.body.details[0].id).toBe('COMMAND-S34gh');
      }
      for (let i = 0; i < 3; i++)
        expect((await postCode(id, '_check', code)).body.details[0].id).toBe('COMMAND-S34gh');
      t.clock.advance(30_000);
      const next = await issue(id);
      expect(await attempts(id)).toBe(0);
      expect((await postCode(id, '_check', next)).status).toBe(200);
    });

    it('a burst of one registration code: one 200, the rest 400; the authenticator is ready', async () => {
      const added = await t.http
        .post(base(''))
        .set(bearer(t.adminToken))
        .send({ number: '+41791230002', returnCode: {} });
      expect(added.status).toBe(200);
      const id = added.body.otpSmsId as string;
      const code = added.body.verificationCode as string;
      const burst = await Promise.all(Array.from({ length: BURST }, () => postCode(id, '_verify', code)));
      expect(burst.filter((r) => r.status === 200)).toHaveLength(1);
      for (const r of burst.filter((x) => x.status !== 200)) expect(r.status).toBe(400);
      t.clock.advance(30_000);
      expect((await postCode(id, '_check', await issue(id))).status).toBe(200);
    });
  });

  describe('email challenges', () => {
    const BASE = '/internal/v1/mfa/totp-email';

    it('a burst of one code: one 200, the rest 410 "already verified"; no attempt counted', async () => {
      const created = await t.http
        .post(BASE)
        .set(bearer(u.token))
        .send({ userId: u.userId, operation: 'payment.approve' });
      expect(created.status).toBe(201);
      const id = created.body.challengeId as string;
      const code = codeIn(sink.lastTo(u.email));
      const burst = await Promise.all(
        Array.from({ length: BURST }, () =>
          t.http.post(`${BASE}/${id}:verify`).set(bearer(u.token)).send({ totp: code }),
        ),
      );
      expect(burst.filter((r) => r.status === 200)).toHaveLength(1);
      for (const r of burst.filter((x) => x.status !== 200)) {
        expect(r.status).toBe(410);
        expect(r.body.message).toBe('The challenge has already been verified');
      }
      const again = await t.http.post(`${BASE}/${id}:verify`).set(bearer(u.token)).send({ totp: code });
      expect(again.status).toBe(410);
      const got = await t.http.get(`${BASE}/${id}`).set(bearer(u.token));
      expect(got.body).toMatchObject({ status: 'VERIFIED', attemptsRemaining: 3 });
    });
  });
});
