import { createHuman, createOrg, HumanFixture } from './helpers/factories';
import { zitadelError } from './helpers/error-bodies';
import { bearer, createTestApp, TestApp } from './helpers/test-app';
import {
  CODE_LENGTH,
  codeAt,
  INVALID_CODE,
  NOT_EXISTING,
  readyTotp,
  sql,
  TOTP_ENV,
  totpV2 as v2,
} from './helpers/totp';

/**
 * TOTP _check: a code is accepted once per step (replay protection, the ±1 step window), parallel
 * requests with one code have exactly one winner, and each check appends its event.
 */
describe('TOTP _check, replay protection and races', () => {
  let t: TestApp;
  let orgId: string;

  beforeAll(async () => {
    t = await createTestApp({ env: TOTP_ENV });
    orgId = await createOrg(t);
  });
  afterAll(async () => t.close());

  describe('_check and replay protection', () => {
    let u: HumanFixture;
    let secret: string;
    beforeAll(async () => {
      u = await createHuman(t, orgId);
      secret = await readyTotp(t, u.userId, u.token);
    });

    it('accepts a fresh code once; the same step again, or an older one, is an invalid code', async () => {
      const code = codeAt(t, secret);
      const ok = await t.http.post(v2(u.userId, '/_check')).set(bearer(u.token)).send({ code });
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual({
        details: { sequence: expect.any(String), changeDate: expect.any(String), resourceOwner: orgId },
      });
      const replay = await t.http.post(v2(u.userId, '/_check')).set(bearer(u.token)).send({ code });
      expect(replay.status).toBe(400);
      expect(replay.body).toEqual(INVALID_CODE);
      // the previous step's code is still inside the ±1 window, but older than the accepted step
      const older = await t.http
        .post(v2(u.userId, '/_check'))
        .set(bearer(u.token))
        .send({ code: codeAt(t, secret, -1) });
      expect(older.body).toEqual(INVALID_CODE);
      // the next step's code (clock skew of the device) is accepted, and then the current one is older
      const next = await t.http
        .post(v2(u.userId, '/_check'))
        .set(bearer(u.token))
        .send({ code: codeAt(t, secret, 1) });
      expect(next.status).toBe(200);
      t.clock.advance(30_000);
      expect(
        (
          await t.http
            .post(v2(u.userId, '/_check'))
            .set(bearer(u.token))
            .send({ code: codeAt(t, secret) })
        ).body,
      ).toEqual(INVALID_CODE);
      t.clock.advance(30_000);
      expect(
        (
          await t.http
            .post(v2(u.userId, '/_check'))
            .set(bearer(u.token))
            .send({ code: codeAt(t, secret) })
        ).status,
      ).toBe(200);
    });

    it('accepts ±1 step, not ±2; non-6-digit codes are simply invalid', async () => {
      t.clock.advance(60_000);
      for (const code of [codeAt(t, secret, -2), codeAt(t, secret, 2), '12345', '1234567', 'abcdef']) {
        const res = await t.http.post(v2(u.userId, '/_check')).set(bearer(u.token)).send({ code });
        expect(res.body).toEqual(INVALID_CODE);
      }
      const res = await t.http
        .post(v2(u.userId, '/_check'))
        .set(bearer(u.token))
        .send({ code: codeAt(t, secret, -1) });
      expect(res.status).toBe(200);
      t.clock.advance(60_000);
    });

    it('validates the _check body with its own message name', async () => {
      const res = await t.http.post(v2(u.userId, '/_check')).set(bearer(u.token)).send({ code: '' });
      expect(res.body).toEqual(CODE_LENGTH('CheckTOTPRequest'));
    });

    it('20 parallel requests with one valid code: exactly one 200', async () => {
      t.clock.advance(30_000);
      const code = codeAt(t, secret);
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          t.http.post(v2(u.userId, '/_check')).set(bearer(u.token)).send({ code }),
        ),
      );
      const statuses = results.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(statuses.filter((s) => s === 400)).toHaveLength(19);
      for (const r of results.filter((x) => x.status === 400)) expect(r.body).toEqual(INVALID_CODE);
      t.clock.advance(30_000);
    });

    it('parallel checks of many users (answered in batches): each code is judged for its own user', async () => {
      const users: (HumanFixture & { secret: string })[] = [];
      for (let i = 0; i < 8; i++) {
        const h = await createHuman(t, orgId);
        users.push({ ...h, secret: await readyTotp(t, h.userId, h.token) });
      }
      t.clock.advance(30_000);
      const check = (x: HumanFixture, code: string) =>
        t.http.post(v2(x.userId, '/_check')).set(bearer(x.token)).send({ code });
      // each user sends its own current code and, at the same time, the next user's current code
      const results = await Promise.all(
        users.flatMap((x, i) => [
          check(x, codeAt(t, x.secret)),
          check(x, codeAt(t, users[(i + 1) % users.length].secret)),
        ]),
      );
      for (const [i, x] of users.entries()) {
        const [own, foreign] = [results[2 * i], results[2 * i + 1]];
        expect([own.status, foreign.status]).toEqual([200, 400]);
        expect(foreign.body).toEqual(INVALID_CODE);
        const [event] = await sql<{ sequence: number | string }>(
          t,
          `SELECT sequence FROM events WHERE aggregate_id = $1 AND event_type = 'user.human.mfa.otp.check.succeeded'`,
          [x.userId],
        );
        expect(own.body.details).toEqual({
          sequence: String(event.sequence),
          changeDate: expect.any(String),
          resourceOwner: orgId,
        });
      }
      t.clock.advance(30_000);
    });

    it('20 parallel verifications of a registration with one valid code: exactly one 200', async () => {
      const v = await createHuman(t, orgId);
      const reg = await t.http.post(v2(v.userId)).set(bearer(v.token)).send({});
      const code = codeAt(t, reg.body.secret);
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          t.http.post(v2(v.userId, '/verify')).set(bearer(v.token)).send({ code }),
        ),
      );
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      // the losers either saw it ready already (400 qx4ls) or lost the step (400 Invalid code)
      for (const r of results.filter((x) => x.status !== 200)) expect(r.status).toBe(400);
    });

    it('answers _check for a TOTP that is not ready (400) or missing (404)', async () => {
      const v = await createHuman(t, orgId);
      const none = await t.http.post(v2(v.userId, '/_check')).set(bearer(v.token)).send({ code: '123456' });
      expect(none.status).toBe(404);
      expect(none.body).toEqual(NOT_EXISTING('COMMAND-3Mif9s'));
      await t.http.post(v2(v.userId)).set(bearer(v.token)).send({});
      const notReady = await t.http
        .post(v2(v.userId, '/_check'))
        .set(bearer(v.token))
        .send({ code: '123456' });
      expect(notReady.status).toBe(400);
      expect(notReady.body).toEqual(
        zitadelError(9, 'COMMAND-3Mif9s', "Multifactor OTP (OneTimePassword) isn't ready"),
      );
    });

    it('appends check.succeeded / check.failed events', async () => {
      const rows = await sql<{ event_type: string }>(
        t,
        `SELECT event_type FROM events WHERE aggregate_id = $1 AND event_type LIKE 'user.human.mfa.otp.check.%'`,
        [u.userId],
      );
      const types = rows.map((r) => r.event_type);
      expect(types.filter((x) => x === 'user.human.mfa.otp.check.succeeded').length).toBeGreaterThanOrEqual(
        4,
      );
      expect(types.filter((x) => x === 'user.human.mfa.otp.check.failed').length).toBeGreaterThanOrEqual(19);
    });
  });
});
