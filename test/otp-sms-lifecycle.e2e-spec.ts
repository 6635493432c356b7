import { createHmac } from 'node:crypto';
import { DataSource } from 'typeorm';
import { createHuman, HumanFixture } from './helpers/factories';
import { zitadelError } from './helpers/error-bodies';
import { FakeSmsProvider } from './helpers/fake-sms-provider';
import { OtpSmsFixture, SECRET } from './helpers/otp-sms';
import { bearer, TestApp } from './helpers/test-app';

/**
 * The OTP SMS life cycle: add (code by SMS or returned), verify, expiry and resend, sign-in codes
 * (_challenge, _check), removal, and what is stored. Limits and races are in otp-sms-limits; permissions,
 * query parameters, validation and the OpenAPI document in otp-sms-contract.
 */
describe('OTP SMS (v3alpha) life cycle with the webhook provider', () => {
  const f = new OtpSmsFixture();
  const {
    add,
    postCode,
    verify,
    resend,
    challenge,
    remove,
    codeFor,
    wrongCode,
    pending,
    ready,
    newNumber,
    seenCodes,
    seenNumbers,
  } = f;
  let t: TestApp;
  let sms: FakeSmsProvider;
  let orgId: string;
  let owner: HumanFixture;

  beforeAll(async () => {
    await f.start();
    ({ t, sms, orgId, owner } = f);
  });
  afterAll(async () => f.stop());

  it('adds, sends the code to the webhook (signed), verifies and makes the authenticator ready', async () => {
    const user = await createHuman(t, orgId);
    const number = newNumber();
    seenNumbers.add(number);
    const before = sms.received.length;
    const res = await add(user.token, user.userId, { number, sendCode: {} });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      details: {
        id: user.userId,
        created: new Date(t.clock.now()).toISOString(),
        changed: new Date(t.clock.now()).toISOString(),
        owner: { type: 'OWNER_TYPE_ORG', id: orgId },
      },
      otpSmsId: expect.stringMatching(/^\d{18}$/),
    });
    expect(sms.received.length).toBe(before + 1);
    const msg = sms.last(number);
    expect(msg.path).toBe('/sms');
    expect(msg.code).toMatch(/^\d{8}$/);
    seenCodes.add(msg.code);
    expect(msg.json).toEqual({
      to: number,
      body: `${msg.code} is your verification code. It expires in 5 minutes.`,
      code: msg.code,
      expiresAt: new Date(t.clock.now() + 300_000).toISOString(),
    });
    expect(msg.headers['x-signature']).toBe(
      'sha256=' + createHmac('sha256', SECRET).update(msg.raw).digest('hex'),
    );

    const ok = await verify(user.token, user.userId, res.body.otpSmsId, msg.code);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({
      details: {
        id: user.userId,
        changed: new Date(t.clock.now()).toISOString(),
        owner: { type: 'OWNER_TYPE_ORG', id: orgId },
      },
    });

    const again = await verify(user.token, user.userId, res.body.otpSmsId, msg.code);
    expect(again.status).toBe(400);
    expect(again.body).toEqual(
      zitadelError(9, 'COMMAND-qx4ls', 'Multifactor OTP (OneTimePassword) is already set up'),
    );
    expect((await resend(user.token, user.userId, res.body.otpSmsId)).status).toBe(400);

    // events: the life cycle, with neither the number nor the code in any payload
    const rows = (await t.app
      .get(DataSource)
      .query(
        `SELECT event_type, payload FROM events WHERE aggregate_id = '${user.userId}' ORDER BY sequence`,
      )) as {
      event_type: string;
      payload: string | null;
    }[];
    expect(rows.map((r) => r.event_type).filter((e) => e.includes('otp.sms'))).toEqual([
      'user.human.mfa.otp.sms.added',
      'user.human.mfa.otp.sms.code.added',
      'user.human.mfa.otp.sms.code.sent',
      'user.human.mfa.otp.sms.verified',
    ]);
    const payloads = rows.map((r) => r.payload ?? '').join('\n');
    expect(payloads).not.toContain(msg.code);
    expect(payloads).not.toContain(number.slice(3));
  });

  it('stores neither the number nor the code in plain text', async () => {
    const p = await pending();
    const rows = (await t.app
      .get(DataSource)
      .query(`SELECT * FROM otp_sms_authenticators WHERE id = '${p.id}'`)) as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    const dump =
      JSON.stringify(rows[0]) +
      JSON.stringify(await t.app.get(DataSource).query('SELECT * FROM sms_daily_counters'));
    expect(dump).not.toContain(p.number.slice(1));
    expect(dump).not.toContain(p.code);
  });

  it('returns the code with returnCode and sends nothing', async () => {
    const user = await createHuman(t, orgId);
    const before = sms.received.length;
    const res = await add(user.token, user.userId, { number: newNumber(), returnCode: {} });
    expect(res.status).toBe(200);
    expect(res.body.verificationCode).toMatch(/^\d{8}$/);
    seenCodes.add(res.body.verificationCode);
    expect(sms.received.length).toBe(before);
    expect((await verify(user.token, user.userId, res.body.otpSmsId, res.body.verificationCode)).status).toBe(
      200,
    );
  });

  it('accepts isVerified only from another user holding user.credential.write', async () => {
    const user = await createHuman(t, orgId);
    const number = newNumber();
    const self = await add(user.token, user.userId, { number, isVerified: true });
    expect(self.status).toBe(403);
    const why =
      'No matching permissions found: isVerified is only for a caller acting on another user with user.credential.write; verify your own number with the code sent to it';
    expect(self.body).toEqual(zitadelError(7, 'AUTH-AWfge', why));
    // nothing was created: the same number can be added normally afterwards
    expect((await add(user.token, user.userId, { number, returnCode: {} })).status).toBe(200);

    const before = sms.received.length;
    const byOwner = await add(owner.token, user.userId, { number: newNumber(), isVerified: true });
    expect(byOwner.status).toBe(200);
    expect(byOwner.body.verificationCode).toBeUndefined();
    expect(sms.received.length).toBe(before);
    const again = await verify(user.token, user.userId, byOwner.body.otpSmsId, '12345678');
    expect(again.status).toBe(400);
    expect(again.body.message).toBe('Multifactor OTP (OneTimePassword) is already set up (COMMAND-qx4ls)');
  });

  it('rejects a wrong code, then accepts the right one', async () => {
    const p = await pending();
    const bad = await verify(p.user.token, p.user.userId, p.id, wrongCode(p.code));
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual(zitadelError(3, 'CODE-woT0xc', 'Code is invalid'));
    expect((await verify(p.user.token, p.user.userId, p.id, p.code)).status).toBe(200);
  });

  it('rejects an expired code; a resent code works and replaces the old one', async () => {
    const p = await pending();
    t.clock.advance(301_000);
    const expired = await verify(p.user.token, p.user.userId, p.id, p.code);
    expect(expired.status).toBe(400);
    expect(expired.body).toEqual(zitadelError(9, 'CODE-QvUQ4P', 'Code is expired'));
    const r = await resend(p.user.token, p.user.userId, p.id);
    expect(r.status).toBe(200);
    expect(r.body.details.id).toBe(p.user.userId);
    expect(r.body.verificationCode).toBeUndefined();
    const fresh = codeFor(p.number);
    expect(fresh).not.toBe(p.code);
    expect((await verify(p.user.token, p.user.userId, p.id, p.code)).body.message).toBe(
      'Code is invalid (CODE-woT0xc)',
    );
    expect((await verify(p.user.token, p.user.userId, p.id, fresh)).status).toBe(200);
  });

  it('expires exactly after SMS_CODE_TTL_SECONDS', async () => {
    const p = await pending();
    t.clock.advance(300_000);
    expect((await verify(p.user.token, p.user.userId, p.id, p.code)).status).toBe(200);
  });

  it('sends sign-in codes to a ready authenticator and checks them once', async () => {
    const p = await ready();
    t.clock.advance(31_000);
    const ch = await challenge(p.user.token, p.user.userId, p.id);
    expect(ch.status).toBe(200);
    expect(ch.body.verificationCode).toBeUndefined();
    const code = codeFor(p.number);
    const bad = await postCode(p.user.token, p.user.userId, p.id, '_check', wrongCode(code));
    expect(bad.status).toBe(400);
    expect(bad.body.message).toBe('Code is invalid (CODE-woT0xc)');
    const ok = await postCode(p.user.token, p.user.userId, p.id, '_check', code);
    expect(ok.status).toBe(200);
    expect(ok.body.details).toEqual({
      id: p.user.userId,
      changed: expect.any(String),
      owner: { type: 'OWNER_TYPE_ORG', id: orgId },
    });
    const reused = await postCode(p.user.token, p.user.userId, p.id, '_check', code);
    expect(reused.status).toBe(400);
    expect(reused.body.message).toBe('Code not found (COMMAND-S34gh)');

    const types = (
      (await t.app
        .get(DataSource)
        .query(
          `SELECT event_type FROM events WHERE aggregate_id = '${p.user.userId}' ORDER BY sequence`,
        )) as { event_type: string }[]
    ).map((r) => r.event_type);
    expect(types.slice(-3)).toEqual([
      'user.human.mfa.otp.sms.check.failed',
      'user.human.mfa.otp.sms.check.succeeded',
      'user.human.mfa.otp.sms.check.failed',
    ]);
  });

  it('refuses challenges on pending authenticators and returned sign-in codes to the user itself', async () => {
    const p = await pending();
    const notReady = await challenge(p.user.token, p.user.userId, p.id);
    expect(notReady.status).toBe(400);
    expect(notReady.body.message).toBe("Multifactor OTP (OneTimePassword) isn't ready (COMMAND-SFD52)");
    // Checking a code of a factor that is not ready: ZITADEL's id for checking, not the one for sending.
    const check = await postCode(p.user.token, p.user.userId, p.id, '_check', p.code);
    expect(check.status).toBe(400);
    expect(check.body.message).toBe("Multifactor OTP (OneTimePassword) isn't ready (COMMAND-d2r52)");

    const r = await ready();
    t.clock.advance(31_000);
    const self = await challenge(r.user.token, r.user.userId, r.id, { returnCode: {} });
    expect(self.status).toBe(403);
    const why =
      'No matching permissions found: returnCode is only for a caller acting on another user with user.credential.write; have the code sent by SMS instead';
    expect(self.body).toEqual(zitadelError(7, 'AUTH-AWfge', why));
    const byOwner = await challenge(owner.token, r.user.userId, r.id, { returnCode: {} });
    expect(byOwner.status).toBe(200);
    seenCodes.add(byOwner.body.verificationCode);
    expect(
      (await postCode(owner.token, r.user.userId, r.id, '_check', byOwner.body.verificationCode)).status,
    ).toBe(200);
  });

  it('removes an authenticator', async () => {
    const p = await ready();
    const res = await remove(p.user.token, p.user.userId, p.id);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      details: {
        id: p.user.userId,
        changed: new Date(t.clock.now()).toISOString(),
        owner: { type: 'OWNER_TYPE_ORG', id: orgId },
      },
    });
    const gone = await remove(p.user.token, p.user.userId, p.id);
    expect(gone.status).toBe(404);
    expect(gone.body).toEqual(
      zitadelError(5, 'COMMAND-Sr3h3', "Multifactor OTP (OneTimePassword) doesn't exist"),
    );
    expect((await verify(p.user.token, p.user.userId, p.id, p.code)).status).toBe(404);
    // the number is free again
    expect((await add(p.user.token, p.user.userId, { number: p.number, returnCode: {} })).status).toBe(200);
  });

  it('answers 404 for an authenticator of another user', async () => {
    const a = await pending();
    const b = await createHuman(t, orgId);
    expect((await verify(b.token, b.userId, a.id, a.code)).status).toBe(404);
    expect((await remove(owner.token, b.userId, a.id)).status).toBe(404);
    expect((await verify(a.user.token, a.user.userId, a.id, a.code)).status).toBe(200);
  });

  it('deletes the authenticators with their user', async () => {
    const p = await pending();
    expect((await t.http.delete(`/v2/users/${p.user.userId}`).set(bearer(t.adminToken))).status).toBe(200);
    const rows = (await t.app
      .get(DataSource)
      .query(`SELECT id FROM otp_sms_authenticators WHERE id = '${p.id}'`)) as unknown[];
    expect(rows).toHaveLength(0);
  });

  it('never logs a code or a full phone number', async () => {
    await f.expectNothingSecretLogged({ codes: 10, numbers: 5 });
  });
});
