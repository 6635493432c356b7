import { createHuman, createOrg, HumanFixture } from './helpers/factories';
import { zitadelError } from './helpers/error-bodies';
import { bearer, createTestApp, TestApp } from './helpers/test-app';
import { codeAt, INVALID_CODE, readyTotp, sql } from './helpers/totp';

/**
 * TOTP attempt limits: OTP_MAX_ATTEMPTS failures lock the factor (429 + Retry-After, doubling on
 * repeat), replays spend no attempt, and parallel guesses never get more than the budget judged.
 */
describe('TOTP attempt limits', () => {
  let t: TestApp;
  let orgId: string;
  beforeAll(async () => {
    t = await createTestApp({ env: { OTP_MAX_ATTEMPTS: '3', OTP_LOCKOUT_SECONDS: '60' } });
    orgId = await createOrg(t);
  });
  afterAll(async () => t.close());

  const check = (u: HumanFixture, code: string) =>
    t.http.post(`/v2/users/${u.userId}/totp/_check`).set(bearer(u.token)).send({ code });
  const wrongCode = (secret: string) => {
    const good = new Set([-1, 0, 1].map((s) => codeAt(t, secret, s)));
    return ['000000', '111111', '222222', '333333'].find((c) => !good.has(c))!;
  };

  it('locks after OTP_MAX_ATTEMPTS failures with 429 + Retry-After, doubling on repeat; a success resets', async () => {
    const u = await createHuman(t, orgId);
    const secret = await readyTotp(t, u.userId, u.token);
    for (let i = 0; i < 3; i++) expect((await check(u, wrongCode(secret))).body).toEqual(INVALID_CODE);
    // locked: even the right code is refused, before it is looked at
    const locked = await check(u, codeAt(t, secret));
    expect(locked.status).toBe(429);
    expect(locked.headers['retry-after']).toBe('60');
    expect(locked.body).toEqual(zitadelError(8, 'TOTP-4ttmp', 'Too many failed attempts, try again later'));
    t.clock.advance(20_000);
    expect((await check(u, codeAt(t, secret))).headers['retry-after']).toBe('40');

    // lock over: three more failures lock again, for twice as long
    t.clock.advance(40_000);
    for (let i = 0; i < 3; i++) expect((await check(u, wrongCode(secret))).status).toBe(400);
    const second = await check(u, codeAt(t, secret));
    expect(second.status).toBe(429);
    expect(second.headers['retry-after']).toBe('120');

    // after it, a success resets the counter and the doubling
    t.clock.advance(120_000);
    expect((await check(u, codeAt(t, secret))).status).toBe(200);
    t.clock.advance(30_000);
    for (let i = 0; i < 2; i++) expect((await check(u, wrongCode(secret))).status).toBe(400);
    expect((await check(u, codeAt(t, secret))).status).toBe(200);
    t.clock.advance(30_000);
    for (let i = 0; i < 3; i++) expect((await check(u, wrongCode(secret))).status).toBe(400);
    const third = await check(u, codeAt(t, secret));
    expect(third.status).toBe(429);
    expect(third.headers['retry-after']).toBe('60');
  });

  it('forgets failures older than the window', async () => {
    const u = await createHuman(t, orgId);
    const secret = await readyTotp(t, u.userId, u.token);
    for (let i = 0; i < 2; i++) expect((await check(u, wrongCode(secret))).status).toBe(400);
    t.clock.advance(61_000);
    for (let i = 0; i < 2; i++) expect((await check(u, wrongCode(secret))).status).toBe(400);
    expect((await check(u, codeAt(t, secret))).status).toBe(200);
  });

  it('counts registration verifications too; replays of an older step count as failures', async () => {
    const u = await createHuman(t, orgId);
    const reg = await t.http.post(`/v2/users/${u.userId}/totp`).set(bearer(u.token)).send({});
    const verify = (code: string) =>
      t.http.post(`/v2/users/${u.userId}/totp/verify`).set(bearer(u.token)).send({ code });
    for (let i = 0; i < 3; i++) expect((await verify(wrongCode(reg.body.secret))).status).toBe(400);
    const locked = await verify(codeAt(t, reg.body.secret));
    expect(locked.status).toBe(429);
    expect(locked.headers['retry-after']).toBe('60');
    t.clock.advance(60_000);
    expect((await verify(codeAt(t, reg.body.secret))).status).toBe(200);
    // the next step is accepted: the verifying step is now an older one, and its code a guess like any other
    const older = codeAt(t, reg.body.secret);
    expect((await check(u, codeAt(t, reg.body.secret, 1))).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await check(u, older)).body).toEqual(INVALID_CODE);
    expect((await check(u, codeAt(t, reg.body.secret, 1))).status).toBe(429);
  });

  const counters = async (u: HumanFixture) =>
    (
      await sql<{
        failed_attempts: number | string;
        locked_until: number | string;
        lockouts: number | string;
      }>(t, 'SELECT failed_attempts, locked_until, lockouts FROM totp_factors WHERE user_id = $1', [u.userId])
    ).map((r) => ({
      failed: Number(r.failed_attempts),
      lockedUntil: Number(r.locked_until),
      lockouts: Number(r.lockouts),
    }))[0];

  it('a burst of one valid code: one 200, the replays are invalid codes that spend no attempt and lock nothing', async () => {
    const u = await createHuman(t, orgId);
    const secret = await readyTotp(t, u.userId, u.token);
    // one earlier failure stays counted: the replays neither add to it nor wipe it
    expect((await check(u, wrongCode(secret))).status).toBe(400);
    const code = codeAt(t, secret);
    const burst = await Promise.all(Array.from({ length: 12 }, () => check(u, code)));
    expect(burst.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of burst.filter((x) => x.status !== 200)) expect(r.body).toEqual(INVALID_CODE);
    expect(await counters(u)).toEqual({ failed: 0, lockedUntil: 0, lockouts: 0 });
    // more replays, one by one, after the success: still nothing spent
    for (let i = 0; i < 4; i++) expect((await check(u, code)).body).toEqual(INVALID_CODE);
    expect(await counters(u)).toEqual({ failed: 0, lockedUntil: 0, lockouts: 0 });
    // no lockout: the next step's code is accepted at once
    t.clock.advance(30_000);
    expect((await check(u, codeAt(t, secret))).status).toBe(200);
  });

  it('replays do not refund guesses: wrong codes around a replay of the accepted step still lock', async () => {
    const u = await createHuman(t, orgId);
    const secret = await readyTotp(t, u.userId, u.token);
    const code = codeAt(t, secret);
    expect((await check(u, code)).status).toBe(200);
    expect((await check(u, wrongCode(secret))).status).toBe(400);
    expect((await check(u, code)).body).toEqual(INVALID_CODE);
    expect((await counters(u)).failed).toBe(1);
    expect((await check(u, wrongCode(secret))).status).toBe(400);
    expect((await check(u, wrongCode(secret))).status).toBe(400);
    expect((await check(u, codeAt(t, secret, 1))).status).toBe(429);
  });

  it('a burst of one valid registration code: one 200, the others fail without locking the new factor', async () => {
    const u = await createHuman(t, orgId);
    const reg = await t.http.post(`/v2/users/${u.userId}/totp`).set(bearer(u.token)).send({});
    const code = codeAt(t, reg.body.secret);
    const burst = await Promise.all(
      Array.from({ length: 12 }, () =>
        t.http.post(`/v2/users/${u.userId}/totp/verify`).set(bearer(u.token)).send({ code }),
      ),
    );
    expect(burst.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of burst.filter((x) => x.status !== 200)) expect(r.status).toBe(400);
    expect(await counters(u)).toEqual({ failed: 0, lockedUntil: 0, lockouts: 0 });
    t.clock.advance(30_000);
    expect((await check(u, codeAt(t, reg.body.secret))).status).toBe(200);
  });

  it('20 parallel wrong codes: at most OTP_MAX_ATTEMPTS are judged, the rest get 429', async () => {
    const u = await createHuman(t, orgId);
    const secret = await readyTotp(t, u.userId, u.token);
    const bad = wrongCode(secret);
    const results = await Promise.all(Array.from({ length: 20 }, () => check(u, bad)));
    expect(results.filter((r) => r.status === 400)).toHaveLength(3);
    expect(results.filter((r) => r.status === 429)).toHaveLength(17);
    for (const r of results.filter((x) => x.status === 429))
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
  });
});
