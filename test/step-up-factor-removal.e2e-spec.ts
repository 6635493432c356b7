import { createHuman, createOrg, HumanFixture } from './helpers/factories';
import { codeIn, startSmtpSink, SmtpSink } from './helpers/smtp-sink';
import { bearer, createTestApp, TestApp } from './helpers/test-app';

const BASE = '/internal/v1/mfa/totp-email';

/** STEP_UP_FOR_FACTOR_REMOVAL on the real TOTP (v2, v1) and OTP SMS removal routes. */
describe('step-up for removing one’s own factor', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let alice: HumanFixture;

  beforeAll(async () => {
    sink = await startSmtpSink();
    t = await createTestApp({
      env: {
        MAIL_TRANSPORT: 'smtp',
        SMTP_URL: sink.url,
        STEP_UP_FOR_FACTOR_REMOVAL: 'true',
        SMS_PROVIDER: 'log',
      },
    });
    const org = await createOrg(t);
    alice = await createHuman(t, org, { phone: '+41790000001' });
  });

  afterAll(async () => {
    await t?.close();
    await sink?.close();
  });

  /** Alice starts, receives and verifies a challenge for `operation`; returns its id. */
  async function verifiedChallenge(operation = 'mfa.factor.remove'): Promise<string> {
    const res = await t.http.post(BASE).set(bearer(alice.token)).send({ userId: alice.userId, operation });
    expect(res.status).toBe(201);
    const code = codeIn(sink.lastTo(alice.email));
    const v = await t.http
      .post(`${BASE}/${res.body.challengeId}:verify`)
      .set(bearer(alice.token))
      .send({ totp: code });
    expect(v.status).toBe(200);
    return res.body.challengeId as string;
  }

  it('v2 RemoveTOTP by oneself needs a verified mfa.factor.remove challenge, consumed once', async () => {
    await t.http.post(`/v2/users/${alice.userId}/totp`).set(bearer(alice.token)).expect(200);
    const without = await t.http.delete(`/v2/users/${alice.userId}/totp`).set(bearer(alice.token));
    expect(without.status).toBe(403);
    expect(without.body.code).toBe(7);
    expect(without.body.message).toContain('Step-up authentication required');

    const wrongOp = await verifiedChallenge('payment.approve');
    const refused = await t.http
      .delete(`/v2/users/${alice.userId}/totp`)
      .set(bearer(alice.token))
      .set('X-Step-Up-Challenge', wrongOp);
    expect(refused.status).toBe(403);

    const id = await verifiedChallenge();
    const ok = await t.http
      .delete(`/v2/users/${alice.userId}/totp`)
      .set(bearer(alice.token))
      .set('X-Step-Up-Challenge', id);
    expect(ok.status).toBe(200);
    expect(ok.body.details.resourceOwner).toBe(alice.orgId);

    // The challenge was consumed by the removal: it cannot authorise a second one.
    await t.http.post(`/v2/users/${alice.userId}/totp`).set(bearer(alice.token)).expect(200);
    const again = await t.http
      .delete(`/v2/users/${alice.userId}/totp`)
      .set(bearer(alice.token))
      .set('X-Step-Up-Challenge', id);
    expect(again.status).toBe(403);
  });

  it('an administrator removing another user’s TOTP needs no step-up', async () => {
    const res = await t.http.delete(`/v2/users/${alice.userId}/totp`).set(bearer(t.adminToken));
    expect(res.status).toBe(200);
  });

  it('v1 RemoveMyAuthFactorOTP needs step-up too', async () => {
    await t.http.post('/auth/v1/users/me/auth_factors/otp').set(bearer(alice.token)).expect(200);
    const without = await t.http.delete('/auth/v1/users/me/auth_factors/otp').set(bearer(alice.token));
    expect(without.status).toBe(403);
    const id = await verifiedChallenge();
    const ok = await t.http
      .delete('/auth/v1/users/me/auth_factors/otp')
      .set(bearer(alice.token))
      .set('X-Step-Up-Challenge', id);
    expect(ok.status).toBe(200);
  });

  it('removing one’s own OTP SMS authenticator needs step-up', async () => {
    const add = await t.http
      .post(`/resources/v3alpha/users/${alice.userId}/otp_sms`)
      .set(bearer(alice.token))
      .send({ number: '+41791234567', returnCode: {} });
    expect(add.status).toBe(200);
    const path = `/resources/v3alpha/users/${alice.userId}/otp_sms/${add.body.otpSmsId}`;
    const without = await t.http.delete(path).set(bearer(alice.token));
    expect(without.status).toBe(403);
    const id = await verifiedChallenge();
    const ok = await t.http.delete(path).set(bearer(alice.token)).set('X-Step-Up-Challenge', id);
    expect(ok.status).toBe(200);
  });

  it.each([
    ['v2 OTP SMS', 'otp_sms'],
    ['v2 OTP Email', 'otp_email'],
    ['recovery codes', 'recovery_codes'],
  ])('removing one’s own %s needs step-up', async (_name, kind) => {
    const path = `/v2/users/${alice.userId}/${kind}`;
    await t.http.post(path).set(bearer(alice.token)).send({}).expect(200);
    const without = await t.http.delete(path).set(bearer(alice.token));
    expect(without.status).toBe(403);
    expect(without.body.message).toContain('Step-up authentication required');
    const id = await verifiedChallenge();
    const ok = await t.http.delete(path).set(bearer(alice.token)).set('X-Step-Up-Challenge', id);
    expect(ok.status).toBe(200);
  });
});
