import { createHuman, createOrg } from './helpers/factories';
import { bearer, createTestApp, TestApp } from './helpers/test-app';
import { codeAt, INVALID_CODE, readyTotp } from './helpers/totp';

/**
 * Replay protection and attempt limits live in the database, so they hold across service instances:
 * two apps on one database (one PostgreSQL schema, or one SQLite file opened by two connections).
 */
describe('TOTP across two instances sharing one database', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    a = await createTestApp({ env: { OTP_MAX_ATTEMPTS: '100' } });
    b = await createTestApp({ shareDbWith: a, now: a.clock.now(), env: { OTP_MAX_ATTEMPTS: '100' } });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const moveBoth = (ms: number) => {
    a.clock.advance(ms);
    b.clock.set(a.clock.now());
  };

  it('20 parallel requests with one valid code, split over both instances: exactly one 200', async () => {
    const orgId = await createOrg(a);
    const u = await createHuman(a, orgId);
    const secret = await readyTotp(a, u.userId, u.token);
    b.clock.set(a.clock.now());
    for (let round = 0; round < 3; round++) {
      const code = codeAt(a, secret);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0 ? a : b).http
            .post(`/v2/users/${u.userId}/totp/_check`)
            .set(bearer(u.token))
            .send({ code }),
        ),
      );
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      const losers = results.filter((r) => r.status !== 200);
      expect(losers).toHaveLength(19);
      for (const r of losers) expect(r.body).toEqual(INVALID_CODE);
      moveBoth(30_000);
    }
  });

  it('a step accepted on one instance is refused on the other', async () => {
    const orgId = await createOrg(a);
    const u = await createHuman(a, orgId);
    const secret = await readyTotp(a, u.userId, u.token);
    b.clock.set(a.clock.now());
    const code = codeAt(a, secret);
    expect(
      (await b.http.post(`/v2/users/${u.userId}/totp/_check`).set(bearer(u.token)).send({ code })).status,
    ).toBe(200);
    const again = await a.http.post(`/v2/users/${u.userId}/totp/_check`).set(bearer(u.token)).send({ code });
    expect(again.status).toBe(400);
    expect(again.body).toEqual(INVALID_CODE);
  });
});

describe('TOTP attempt limits across two instances', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    a = await createTestApp({ env: { OTP_MAX_ATTEMPTS: '4', OTP_LOCKOUT_SECONDS: '60' } });
    b = await createTestApp({
      shareDbWith: a,
      now: a.clock.now(),
      env: { OTP_MAX_ATTEMPTS: '4', OTP_LOCKOUT_SECONDS: '60' },
    });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('failures on both instances add up to one lockout', async () => {
    const orgId = await createOrg(a);
    const u = await createHuman(a, orgId);
    const secret = await readyTotp(a, u.userId, u.token);
    b.clock.set(a.clock.now());
    const good = new Set([-1, 0, 1].map((s) => codeAt(a, secret, s)));
    const bad = ['000000', '111111', '222222'].find((c) => !good.has(c))!;
    for (const app of [a, b, a, b]) {
      expect(
        (await app.http.post(`/v2/users/${u.userId}/totp/_check`).set(bearer(u.token)).send({ code: bad }))
          .status,
      ).toBe(400);
    }
    for (const app of [a, b]) {
      const res = await app.http
        .post(`/v2/users/${u.userId}/totp/_check`)
        .set(bearer(u.token))
        .send({ code: codeAt(a, secret) });
      expect(res.status).toBe(429);
      expect(res.headers['retry-after']).toBe('60');
    }
  });
});
