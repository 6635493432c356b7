import { DataSource } from 'typeorm';
import { createHuman, HumanFixture } from './helpers/factories';
import { zitadelError } from './helpers/error-bodies';
import { FakeSmsProvider } from './helpers/fake-sms-provider';
import { OtpSmsFixture, DAILY_LIMIT } from './helpers/otp-sms';
import { TestApp } from './helpers/test-app';

/**
 * OTP SMS limits: attempts per code, the resend cooldown, the daily limit per number, one authenticator
 * per number; parallel requests that race for them; and answers when the SMS provider fails.
 */
describe('OTP SMS (v3alpha) limits, races and provider failures', () => {
  const f = new OtpSmsFixture();
  const {
    add,
    postCode,
    verify,
    resend,
    challenge,
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
    expect(early.body).toEqual(zitadelError(8, 'OTPSMS-C00ld9', 'A code was sent recently, try again later'));
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

    // the full counter of that day is the number's; its next message forgets it
    const day = Math.floor(t.clock.now() / 86_400_000);
    const fullCounters = async () =>
      Number(
        (
          (await t.app
            .get(DataSource)
            .query(
              `SELECT COUNT(*) AS n FROM sms_daily_counters WHERE day = ${day} AND count = ${DAILY_LIMIT}`,
            )) as { n: number | string }[]
        )[0].n,
      );
    expect(await fullCounters()).toBe(1);
    t.clock.set(dayEnd + 1000);
    const nextDay = await add(other.token, other.userId, { number: p.number });
    expect(nextDay.status).toBe(200);
    expect(sms.received.length).toBe(sent + 1);
    expect(await fullCounters()).toBe(0);
    expect((await verify(other.token, other.userId, nextDay.body.otpSmsId, codeFor(p.number))).status).toBe(
      200,
    );
  });

  it('counts a resend on the day it is sent, and forgets the counters of earlier days of its number', async () => {
    const p = await pending(); // message 1, today
    const counters = async () =>
      (
        (await t.app.get(DataSource).query(
          `SELECT day, count FROM sms_daily_counters
           WHERE number_hash = (SELECT number_hash FROM otp_sms_authenticators WHERE id = '${p.id}')`,
        )) as { day: number | string; count: number | string }[]
      ).map((r) => [Number(r.day), Number(r.count)]);
    const today = Math.floor(t.clock.now() / 86_400_000);
    expect(await counters()).toEqual([[today, 1]]);
    t.clock.set((today + 1) * 86_400_000 + 1000);
    expect((await resend(p.user.token, p.user.userId, p.id)).status).toBe(200);
    expect(await counters()).toEqual([[today + 1, 1]]);
    // a returned code is no message: not counted
    t.clock.advance(31_000);
    const returned = await resend(p.user.token, p.user.userId, p.id, { returnCode: {} });
    expect(returned.status).toBe(200);
    seenCodes.add(returned.body.verificationCode);
    expect(await counters()).toEqual([[today + 1, 1]]);
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
      expect(res.body).toEqual(
        zitadelError(14, 'OTPSMS-Snd503', 'The SMS could not be sent, try again later'),
      );
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

  it('never logs a code or a full phone number', async () => {
    const logs = await f.expectNothingSecretLogged({ codes: 10, numbers: 5 });
    expect(logs).toMatch(/SMS to \+41…\d\d not sent/);
  });
});
