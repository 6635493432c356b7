import { createHmac } from 'node:crypto';
import { DataSource } from 'typeorm';
import { UsersReader } from '../src/identity/users-reader';
import { VERIFY_OTP_SMS_REGISTRATION } from './fixtures/seeds';
import { createHuman, createMachine, createOrg, grantOrgRoles, HumanFixture } from './helpers/factories';
import { FakeSmsProvider } from './helpers/fake-sms-provider';
import { settleLogs } from './helpers/logs';
import { bearer, createTestApp, TestApp } from './helpers/test-app';

const NOW = Date.UTC(2030, 0, 15, 10, 0, 0);
const SECRET = 'webhook-secret-0123456789abcdef';
const DAILY_LIMIT = 3;
const base = (userId: string) => `/resources/v3alpha/users/${userId}/otp_sms`;
const detailId = (id: string) => ({ '@type': 'type.googleapis.com/zitadel.v1.ErrorDetail', id });

let counter = 0;
/** A fresh valid Swiss mobile number per call, so per-number counters do not leak between tests. */
const newNumber = () => `+41791${String(++counter).padStart(6, '0')}`;

describe('OTP SMS (v3alpha) with the webhook provider', () => {
  let t: TestApp;
  let sms: FakeSmsProvider;
  let orgId: string;
  let otherOrgId: string;
  let owner: HumanFixture;
  const seenCodes = new Set<string>();
  const seenNumbers = new Set<string>();

  beforeAll(async () => {
    sms = await new FakeSmsProvider().start();
    t = await createTestApp({
      now: NOW,
      env: {
        SMS_PROVIDER: 'webhook',
        SMS_WEBHOOK_URL: sms.url + '/sms',
        SMS_WEBHOOK_SECRET: SECRET,
        SMS_DAILY_LIMIT_PER_NUMBER: String(DAILY_LIMIT),
        SMS_RETRIES: '1',
        SMS_TIMEOUT_MS: '2000',
      },
    });
    orgId = await createOrg(t);
    otherOrgId = await createOrg(t);
    owner = await createHuman(t, orgId);
    await grantOrgRoles(t, orgId, owner.userId, ['ORG_OWNER']);
  });
  afterAll(async () => {
    await t?.close();
    await sms?.stop();
  });

  const add = (token: string, userId: string, body: unknown, query = '') =>
    t.http
      .post(base(userId) + query)
      .set(bearer(token))
      .send(body as object);
  const postCode = (
    token: string,
    userId: string,
    id: string,
    action: '_verify' | '_check',
    code: unknown,
    query = '',
  ) =>
    t.http
      .post(`${base(userId)}/${id}/${action}${query}`)
      .set(bearer(token))
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(code));
  const verify = (token: string, userId: string, id: string, code: unknown, query = '') =>
    postCode(token, userId, id, '_verify', code, query);
  const resend = (token: string, userId: string, id: string, body: object = {}) =>
    t.http
      .post(`${base(userId)}/${id}/_resend`)
      .set(bearer(token))
      .send(body);
  const challenge = (token: string, userId: string, id: string, body: object = {}) =>
    t.http
      .post(`${base(userId)}/${id}/_challenge`)
      .set(bearer(token))
      .send(body);
  const remove = (token: string, userId: string, id: string, query = '') =>
    t.http.delete(`${base(userId)}/${id}${query}`).set(bearer(token));
  const codeFor = (number: string) => {
    const code = sms.last(number).code;
    seenCodes.add(code);
    return code;
  };
  const wrongCode = (code: string) => String((Number(code) + 1) % 100_000_000).padStart(8, '0');

  /** A user with a pending authenticator whose code arrived by SMS. */
  async function pending(user?: HumanFixture) {
    const u = user ?? (await createHuman(t, orgId));
    const number = newNumber();
    seenNumbers.add(number);
    const res = await add(u.token, u.userId, { number });
    expect(res.status).toBe(200);
    return { user: u, number, id: res.body.otpSmsId as string, code: codeFor(number) };
  }

  /** A user with a ready authenticator. */
  async function ready() {
    const p = await pending();
    expect((await verify(p.user.token, p.user.userId, p.id, p.code)).status).toBe(200);
    return p;
  }

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
    expect(again.body).toEqual({
      code: 9,
      message: 'Multifactor OTP (OneTimePassword) is already set up (COMMAND-qx4ls)',
      details: [
        { ...detailId('COMMAND-qx4ls'), message: 'Multifactor OTP (OneTimePassword) is already set up' },
      ],
    });
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
    expect(self.body).toEqual({
      code: 7,
      message: `${why} (AUTH-AWfge)`,
      details: [{ ...detailId('AUTH-AWfge'), message: why }],
    });
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
    expect(bad.body).toEqual({
      code: 3,
      message: 'Code is invalid (CODE-woT0xc)',
      details: [{ ...detailId('CODE-woT0xc'), message: 'Code is invalid' }],
    });
    expect((await verify(p.user.token, p.user.userId, p.id, p.code)).status).toBe(200);
  });

  it('rejects an expired code; a resent code works and replaces the old one', async () => {
    const p = await pending();
    t.clock.advance(301_000);
    const expired = await verify(p.user.token, p.user.userId, p.id, p.code);
    expect(expired.status).toBe(400);
    expect(expired.body).toEqual({
      code: 9,
      message: 'Code is expired (CODE-QvUQ4P)',
      details: [{ ...detailId('CODE-QvUQ4P'), message: 'Code is expired' }],
    });
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

  it('kills a code after OTP_MAX_ATTEMPTS wrong tries; a resend is needed', async () => {
    const p = await pending();
    for (let i = 0; i < t.config.otp.maxAttempts; i++) {
      const bad = await verify(p.user.token, p.user.userId, p.id, wrongCode(p.code));
      expect(bad.body.message).toBe('Code is invalid (CODE-woT0xc)');
    }
    const dead = await verify(p.user.token, p.user.userId, p.id, p.code);
    expect(dead.status).toBe(400);
    expect(dead.body.code).toBe(9);
    expect(dead.body.details[0].id).toBe('OTPSMS-Att3mx');
    t.clock.advance(t.config.sms.resendCooldownSeconds * 1000);
    expect((await resend(p.user.token, p.user.userId, p.id)).status).toBe(200);
    expect((await verify(p.user.token, p.user.userId, p.id, codeFor(p.number))).status).toBe(200);
  });

  it('enforces the resend cooldown with 429 and Retry-After', async () => {
    const p = await pending();
    const early = await resend(p.user.token, p.user.userId, p.id);
    expect(early.status).toBe(429);
    expect(early.headers['retry-after']).toBe('30');
    expect(early.body).toEqual({
      code: 8,
      message: 'A code was sent recently, try again later (OTPSMS-C00ld9)',
      details: [{ ...detailId('OTPSMS-C00ld9'), message: 'A code was sent recently, try again later' }],
    });
    t.clock.advance(10_000);
    const still = await resend(p.user.token, p.user.userId, p.id, { returnCode: {} });
    expect(still.status).toBe(429);
    expect(still.headers['retry-after']).toBe('20');
    t.clock.advance(20_000);
    const ok = await resend(p.user.token, p.user.userId, p.id, { returnCode: {} });
    expect(ok.status).toBe(200);
    expect(ok.body.verificationCode).toMatch(/^\d{8}$/);
    seenCodes.add(ok.body.verificationCode);
    expect((await verify(p.user.token, p.user.userId, p.id, ok.body.verificationCode)).status).toBe(200);
  });

  it('sends at most SMS_DAILY_LIMIT_PER_NUMBER messages per number and day (across users)', async () => {
    const p = await pending(); // message 1
    for (let i = 2; i <= DAILY_LIMIT; i++) {
      t.clock.advance(31_000);
      expect((await resend(p.user.token, p.user.userId, p.id)).status).toBe(200);
    }
    t.clock.advance(31_000);
    const sent = sms.received.length;
    const capped = await resend(p.user.token, p.user.userId, p.id);
    expect(capped.status).toBe(429);
    expect(capped.body.details[0].id).toBe('OTPSMS-D4yl1m');
    const dayEnd = (Math.floor(t.clock.now() / 86_400_000) + 1) * 86_400_000;
    expect(capped.headers['retry-after']).toBe(String(Math.ceil((dayEnd - t.clock.now()) / 1000)));
    // the refused resend did not take the cooldown slot: a returned code is still possible
    const returned = await resend(p.user.token, p.user.userId, p.id, { returnCode: {} });
    expect(returned.status).toBe(200);
    seenCodes.add(returned.body.verificationCode);

    const other = await createHuman(t, orgId);
    const blocked = await add(other.token, other.userId, { number: p.number });
    expect(blocked.status).toBe(429);
    expect(sms.received.length).toBe(sent);
    // nothing was created for the refused add
    const list = (await t.app
      .get(DataSource)
      .query(`SELECT id FROM otp_sms_authenticators WHERE user_id = '${other.userId}'`)) as unknown[];
    expect(list).toHaveLength(0);

    t.clock.set(dayEnd + 1000);
    const nextDay = await add(other.token, other.userId, { number: p.number });
    expect(nextDay.status).toBe(200);
    expect(sms.received.length).toBe(sent + 1);
    expect((await verify(other.token, other.userId, nextDay.body.otpSmsId, codeFor(p.number))).status).toBe(
      200,
    );
  });

  it('allows one authenticator per number and several numbers per user', async () => {
    const p = await pending();
    const dup = await add(p.user.token, p.user.userId, { number: p.number, returnCode: {} });
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe(6);
    const spaced = await add(p.user.token, p.user.userId, {
      number: `+41 ${p.number.slice(3, 5)} ${p.number.slice(5)}`,
      returnCode: {},
    });
    expect(spaced.status).toBe(409);
    const second = await add(p.user.token, p.user.userId, { number: newNumber(), returnCode: {} });
    expect(second.status).toBe(200);
    expect(second.body.otpSmsId).not.toBe(p.id);
    seenCodes.add(second.body.verificationCode);
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
    expect(self.body).toEqual({
      code: 7,
      message: `${why} (AUTH-AWfge)`,
      details: [{ ...detailId('AUTH-AWfge'), message: why }],
    });
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
    expect(gone.body).toEqual({
      code: 5,
      message: "Multifactor OTP (OneTimePassword) doesn't exist (COMMAND-Sr3h3)",
      details: [{ ...detailId('COMMAND-Sr3h3'), message: "Multifactor OTP (OneTimePassword) doesn't exist" }],
    });
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

  describe('races', () => {
    it('lets exactly one of several parallel verifications with the right code win', async () => {
      const p = await pending();
      const results = await Promise.all(
        Array.from({ length: 6 }, () => verify(p.user.token, p.user.userId, p.id, p.code)),
      );
      expect(results.map((r) => r.status).sort()).toEqual([200, 400, 400, 400, 400, 400]);
    });

    it('lets exactly one of several parallel checks of a sign-in code win', async () => {
      const p = await ready();
      t.clock.advance(31_000);
      const ch = await challenge(owner.token, p.user.userId, p.id, { returnCode: {} });
      seenCodes.add(ch.body.verificationCode);
      const results = await Promise.all(
        Array.from({ length: 6 }, () =>
          postCode(p.user.token, p.user.userId, p.id, '_check', ch.body.verificationCode),
        ),
      );
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    });

    it('sends one SMS for parallel resends within the cooldown', async () => {
      const p = await pending();
      t.clock.advance(31_000);
      const before = sms.received.length;
      const results = await Promise.all(
        Array.from({ length: 5 }, () => resend(p.user.token, p.user.userId, p.id)),
      );
      expect(results.map((r) => r.status).sort()).toEqual([200, 429, 429, 429, 429]);
      expect(sms.received.length).toBe(before + 1);
      expect((await verify(p.user.token, p.user.userId, p.id, codeFor(p.number))).status).toBe(200);
    });

    it('never exceeds the daily limit under parallel adds to one number', async () => {
      const number = newNumber();
      seenNumbers.add(number);
      const users = await Promise.all(Array.from({ length: DAILY_LIMIT + 3 }, () => createHuman(t, orgId)));
      const before = sms.received.filter((m) => m.to === number).length;
      const results = await Promise.all(users.map((u) => add(u.token, u.userId, { number })));
      expect(results.filter((r) => r.status === 200)).toHaveLength(DAILY_LIMIT);
      expect(results.filter((r) => r.status === 429)).toHaveLength(3);
      expect(sms.received.filter((m) => m.to === number).length - before).toBe(DAILY_LIMIT);
      for (const m of sms.received.filter((r) => r.to === number)) seenCodes.add(m.code);
    });
  });

  it('deletes the authenticators with their user', async () => {
    const p = await pending();
    expect((await t.http.delete(`/v2/users/${p.user.userId}`).set(bearer(t.adminToken))).status).toBe(200);
    const rows = (await t.app
      .get(DataSource)
      .query(`SELECT id FROM otp_sms_authenticators WHERE id = '${p.id}'`)) as unknown[];
    expect(rows).toHaveLength(0);
  });

  describe('permissions', () => {
    it('lets the user itself and an ORG_OWNER of its organisation act', async () => {
      const user = await createHuman(t, orgId);
      const res = await add(owner.token, user.userId, { number: newNumber(), returnCode: {} });
      expect(res.status).toBe(200);
      seenCodes.add(res.body.verificationCode);
      expect(
        (await verify(owner.token, user.userId, res.body.otpSmsId, res.body.verificationCode)).status,
      ).toBe(200);
      expect((await remove(owner.token, user.userId, res.body.otpSmsId)).status).toBe(200);
    });

    it('refuses an ORG_OWNER of another organisation and a plain other user with 403', async () => {
      const p = await pending();
      const foreignOwner = await createHuman(t, otherOrgId);
      await grantOrgRoles(t, otherOrgId, foreignOwner.userId, ['ORG_OWNER']);
      const stranger = await createHuman(t, orgId);
      for (const token of [foreignOwner.token, stranger.token]) {
        const calls = [
          add(token, p.user.userId, { number: newNumber() }),
          verify(token, p.user.userId, p.id, p.code),
          resend(token, p.user.userId, p.id),
          challenge(token, p.user.userId, p.id),
          postCode(token, p.user.userId, p.id, '_check', p.code),
          remove(token, p.user.userId, p.id),
        ];
        for (const res of await Promise.all(calls)) {
          expect(res.status).toBe(403);
          expect(res.body).toEqual({
            code: 7,
            message: 'No matching permissions found (AUTH-AWfge)',
            details: [{ ...detailId('AUTH-AWfge'), message: 'No matching permissions found' }],
          });
        }
      }
      // an ORG_OWNER of another organisation gets 403 for unknown users too (no probing)
      expect((await add(foreignOwner.token, '999999999999999999', { number: newNumber() })).status).toBe(403);
      expect((await verify(p.user.token, p.user.userId, p.id, p.code)).status).toBe(200);
    });

    it('lets an ORG_USER_MANAGER remove (user.write) but not add (user.credential.write)', async () => {
      const manager = await createHuman(t, orgId);
      await grantOrgRoles(t, orgId, manager.userId, ['ORG_USER_MANAGER']);
      const p = await pending();
      expect((await add(manager.token, p.user.userId, { number: newNumber() })).status).toBe(403);
      expect((await verify(manager.token, p.user.userId, p.id, p.code)).status).toBe(403);
      expect((await remove(manager.token, p.user.userId, p.id)).status).toBe(200);
    });

    it('answers 404 to an IAM_OWNER for unknown users and machine users', async () => {
      const unknown = await add(t.adminToken, '999999999999999999', { number: newNumber() });
      expect(unknown.status).toBe(404);
      expect(unknown.body).toEqual({
        code: 5,
        message: 'User could not be found (COMMAND-bx2OLtgGNS)',
        details: [{ ...detailId('COMMAND-bx2OLtgGNS'), message: 'User could not be found' }],
      });
      expect((await verify(t.adminToken, '999999999999999999', '1', '12345678')).status).toBe(404);
      expect((await remove(t.adminToken, '999999999999999999', '1')).status).toBe(404);
      const machine = await createMachine(t, orgId);
      expect((await add(t.adminToken, machine.userId, { number: newNumber() })).status).toBe(404);
    });

    it('answers 401 without a token', async () => {
      const res = await t.http.post(base('1')).send({ number: newNumber() });
      expect(res.status).toBe(401);
    });
  });

  describe('v3alpha query parameters', () => {
    it('accepts matching instance and organisation, 404 otherwise', async () => {
      const p = await pending();
      const reader = t.app.get(UsersReader);
      const domain = (await reader.findUser(p.user.userId))!.orgDomain;
      const otherDomain = (await reader.findUser((await createHuman(t, otherOrgId)).userId))!.orgDomain;
      const mismatches = [
        '?instance.id=other-instance',
        `?instance.domain=elsewhere.example.com`,
        `?organization.orgId=${otherOrgId}`,
        `?organization.org_id=${otherOrgId}`,
        `?organization.orgDomain=${otherDomain}`,
        '?organization.orgDomain=unknown.example.com',
      ];
      for (const q of mismatches) {
        const v = await verify(p.user.token, p.user.userId, p.id, p.code, q);
        expect([q, v.status]).toEqual([q, 404]);
        expect((await add(p.user.token, p.user.userId, { number: newNumber() }, q)).status).toBe(404);
        expect((await remove(p.user.token, p.user.userId, p.id, q)).status).toBe(404);
      }
      const inst = await verify(p.user.token, p.user.userId, p.id, p.code, '?instance.id=other-instance');
      expect(inst.body.message).toBe('Instance not found (QUERY-n0wng)');
      const match = `?instance.id=${t.config.instance.id}&instance.domain=${t.config.instance.domain}&organization.orgId=${orgId}&organization.orgDomain=${domain}`;
      expect((await verify(p.user.token, p.user.userId, p.id, p.code, match)).status).toBe(200);
      expect((await remove(p.user.token, p.user.userId, p.id, match)).status).toBe(200);
    });
  });

  describe('validation', () => {
    it('validates the phone number', async () => {
      const user = await createHuman(t, orgId);
      const invalid = await add(user.token, user.userId, { number: '+41123' });
      expect(invalid.status).toBe(400);
      expect(invalid.body.message).toBe('Phone is invalid (PHONE-so0wa)');
      expect((await add(user.token, user.userId, { number: '0791234567' })).body.message).toBe(
        'Phone is invalid (PHONE-so0wa)',
      );
      const long = await add(user.token, user.userId, { number: '+41 79 123 45 67 0000' });
      expect(long.body).toEqual({
        code: 3,
        message: 'invalid SetPhone.Number: value length must be between 1 and 20 runes, inclusive',
      });
      expect((await add(user.token, user.userId, {})).body.message).toBe(
        'invalid SetPhone.Number: value length must be between 1 and 20 runes, inclusive',
      );
      const both = await add(user.token, user.userId, { number: newNumber(), sendCode: {}, returnCode: {} });
      expect(both.status).toBe(400);
      const notTrue = await add(user.token, user.userId, { number: newNumber(), isVerified: false });
      expect(notTrue.body).toEqual({
        code: 3,
        message: 'invalid SetPhone.IsVerified: value must equal true',
      });
      // unknown fields are ignored, as by ZITADEL's gateway
      const extra = await add(user.token, user.userId, { number: newNumber(), returnCode: {}, foo: 'bar' });
      expect(extra.status).toBe(200);
      seenCodes.add(extra.body.verificationCode);
    });

    it('requires the code body to be a JSON string of 1..200 characters', async () => {
      const p = await pending();
      const message =
        'invalid VerifyOTPSMSRegistrationRequest.Code: value length must be between 1 and 200 runes, inclusive';
      for (const body of ['', 'x'.repeat(201)]) {
        const res = await verify(p.user.token, p.user.userId, p.id, body);
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ code: 3, message });
      }
      // Not a string at all: the message says what the body is.
      const notString =
        'invalid VerifyOTPSMSRegistrationRequest.Code: the body must be the code as a JSON string, e.g. "12345678"';
      for (const body of [{ code: p.code }, Number(p.code), null]) {
        const res = await verify(p.user.token, p.user.userId, p.id, body);
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ code: 3, message: notString });
      }
      const empty = await t.http.post(`${base(p.user.userId)}/${p.id}/_verify`).set(bearer(p.user.token));
      expect(empty.body).toEqual({ code: 3, message: notString });
      const check = await postCode(p.user.token, p.user.userId, p.id, '_check', '');
      expect(check.body.message).toBe(
        'invalid CheckOTPSMSCodeRequest.Code: value length must be between 1 and 200 runes, inclusive',
      );
      expect(
        (await postCode(p.user.token, p.user.userId, p.id, '_check', { code: p.code })).body.message,
      ).toBe(
        'invalid CheckOTPSMSCodeRequest.Code: the body must be the code as a JSON string, e.g. "12345678"',
      );
      // none of these spent an attempt
      expect((await verify(p.user.token, p.user.userId, p.id, p.code)).status).toBe(200);
    });
  });

  describe('provider failures', () => {
    afterEach(async () => {
      sms.failWith = undefined;
      sms.failedRequests = 0;
      if (!sms.running) await sms.restart();
    });

    it('answers 503 and creates nothing when the provider answers 500 (after the retries)', async () => {
      const user = await createHuman(t, orgId);
      const number = newNumber();
      seenNumbers.add(number);
      sms.failWith = 500;
      sms.failedRequests = 0;
      const res = await add(user.token, user.userId, { number });
      expect(res.status).toBe(503);
      expect(res.body).toEqual({
        code: 14,
        message: 'The SMS could not be sent, try again later (OTPSMS-Snd503)',
        details: [{ ...detailId('OTPSMS-Snd503'), message: 'The SMS could not be sent, try again later' }],
      });
      expect(sms.failedRequests).toBe(2); // SMS_RETRIES=1
      sms.failWith = undefined;
      const retry = await add(user.token, user.userId, { number });
      expect(retry.status).toBe(200); // no half-created authenticator blocks the number
      expect((await verify(user.token, user.userId, retry.body.otpSmsId, codeFor(number))).status).toBe(200);
    });

    it('answers 503 when the provider is unreachable; the previous code stays valid', async () => {
      const p = await pending();
      t.clock.advance(31_000);
      await sms.stop();
      const res = await resend(p.user.token, p.user.userId, p.id);
      expect(res.status).toBe(503);
      expect(res.body.code).toBe(14);
      await sms.restart();
      expect((await verify(p.user.token, p.user.userId, p.id, p.code)).status).toBe(200);
    });
  });

  describe('OpenAPI', () => {
    it('documents VerifyOTPSMSRegistration as its reference page does', async () => {
      const facts = VERIFY_OTP_SMS_REGISTRATION;
      const doc = (await t.http.get('/openapi.json')).body;
      expect(facts.route.replace(/:(\w+)/g, '{$1}')).toBe(facts.path);
      const op = doc.paths[facts.path][facts.method];
      expect(op.summary).toBe(facts.summary);
      expect(op.description).toBe(facts.description);
      expect(op.operationId).toBe(facts.operationId);

      const params = op.parameters as {
        name: string;
        in: string;
        description?: string;
        required?: boolean;
      }[];
      const pathParams = params.filter((p) => p.in === 'path');
      expect(pathParams.map((p) => ({ name: p.name, description: p.description }))).toEqual(
        facts.pathParameters,
      );
      for (const p of pathParams) expect(p.required).toBe(true);
      expect(facts.queryParameters).toBe(true);
      expect(
        params
          .filter((p) => p.in === 'query')
          .map((p) => p.name)
          .sort(),
      ).toEqual(['instance.domain', 'instance.id', 'organization.orgDomain', 'organization.orgId'].sort());

      const contentTypes = [...facts.mediaTypes];
      expect(op.requestBody.required).toBe(facts.body.required);
      expect(Object.keys(op.requestBody.content)).toEqual(contentTypes);
      for (const ct of contentTypes) {
        expect(op.requestBody.content[ct].schema).toMatchObject({
          type: facts.body.type,
          description: facts.body.description,
          minLength: facts.body.minLength,
          maxLength: facts.body.maxLength,
        });
      }

      for (const [status, text] of Object.entries(facts.responses)) {
        expect({ status, description: op.responses[status]?.description }).toEqual({
          status,
          description: text,
        });
        expect(Object.keys(op.responses[status].content)).toEqual(contentTypes);
        if (status === '200') continue;
        expect(op.responses[status].content['application/json'].schema.$ref).toBe(
          '#/components/schemas/RpcStatusDto',
        );
        expect(op.responses[status].content['application/json'].example).toEqual(facts.errorExample);
      }

      const schemas = doc.components.schemas;
      const resolve = (ref: string) => schemas[ref.replace('#/components/schemas/', '')];
      const okSchema = resolve(op.responses['200'].content['application/json'].schema.$ref);
      const details = resolve(
        okSchema.properties.details.$ref ?? okSchema.properties.details.allOf?.[0]?.$ref,
      );
      expect(Object.keys(details.properties)).toEqual(facts.details.fields);
      expect(details.properties.created.description).toBe(facts.details.created);
      expect(details.properties.changed.description).toBe(facts.details.changed);
      const ownerProp = details.properties.owner;
      expect(ownerProp.description).toBe(facts.details.owner);
      const owner = resolve(ownerProp.$ref ?? ownerProp.allOf[0].$ref);
      const typeProp = owner.properties.type;
      const typeRef = typeProp.$ref ?? typeProp.allOf?.[0]?.$ref;
      const ownerType = typeRef ? resolve(typeRef) : typeProp;
      expect(ownerType.enum).toEqual(facts.details.ownerType.enum);
      expect(typeProp.default ?? ownerType.default).toBe(facts.details.ownerType.default);
    });

    it('documents the siblings with the upstream texts', async () => {
      const doc = (await t.http.get('/openapi.json')).body;
      const add = doc.paths['/resources/v3alpha/users/{id}/otp_sms'].post;
      expect(add.summary).toBe('Add a OTP SMS authenticator');
      expect(add.operationId).toBe('AddOTPSMSAuthenticator');
      expect(add.responses['200'].description).toBe('OTP SMS authenticator successfully added');
      const del = doc.paths['/resources/v3alpha/users/{id}/otp_sms/{otpSmsId}'].delete;
      expect(del.summary).toBe('Remove a OTP SMS authenticator');
      expect(del.responses['200'].description).toBe('OTP SMS authenticator successfully removed');
    });
  });

  it('never logs a code or a full phone number', async () => {
    await settleLogs(t);
    expect(seenCodes.size).toBeGreaterThan(10);
    expect(seenNumbers.size).toBeGreaterThan(5);
    const logs = t.logs.join('\n');
    expect(logs.length).toBeGreaterThan(0);
    for (const code of seenCodes) expect(logs).not.toContain(code);
    for (const number of seenNumbers) {
      expect(logs).not.toContain(number);
      expect(logs).not.toContain(number.slice(3));
    }
    expect(logs).toMatch(/SMS to \+41…\d\d not sent/);
  });
});
