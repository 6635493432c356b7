import { createHuman, createMachine, createOrg, grantOrgRoles, HumanFixture } from './helpers/factories';
import { bearer, createTestApp, TestApp } from './helpers/test-app';
import { codeAt, INVALID_CODE, plantSecret, readyTotp, sql, zitadelError } from './helpers/totp';
import { SecretBox } from '../src/common/crypto/secret-box';
import { OATHTOOL_CODES, RFC_SECRET, RFC_VECTORS } from './fixtures/totp-vectors';

const NOT_EXISTING = (id: string) => zitadelError(5, id, "Multifactor OTP (OneTimePassword) doesn't exist");
const CODE_LENGTH = (msg: string) => ({
  code: 3,
  message: `invalid ${msg}.Code: value length must be between 1 and 200 runes, inclusive`,
});

describe('TOTP (v2 User Service, v1 Auth API, _check)', () => {
  let t: TestApp;
  let orgId: string;

  beforeAll(async () => {
    // attempt limits have their own suite below; here they must not get in the way of the failure cases
    t = await createTestApp({ env: { TOTP_ISSUER: 'ACME Login', OTP_MAX_ATTEMPTS: '100' } });
    orgId = await createOrg(t);
  });
  afterAll(async () => t.close());

  const v2 = (userId: string, suffix = '') => `/v2/users/${userId}/totp${suffix}`;
  const V1 = '/auth/v1/users/me/auth_factors/otp';

  describe('v2 life cycle', () => {
    let u: HumanFixture;
    beforeAll(async () => {
      u = await createHuman(t, orgId);
    });

    it('registers: details, an otpauth URI with the issuer and login name, a 20-byte base32 secret', async () => {
      const res = await t.http.post(v2(u.userId)).set(bearer(u.token)).send({});
      expect(res.status).toBe(200);
      const { details, uri, secret } = res.body;
      expect(secret).toMatch(/^[A-Z2-7]{32}$/);
      const org = await sql<{ primary_domain: string }>(
        t,
        'SELECT primary_domain FROM organizations WHERE id = $1',
        [orgId],
      );
      const loginName = `${u.username}@${org[0].primary_domain}`;
      expect(uri).toBe(
        `otpauth://totp/ACME%20Login:${loginName}?algorithm=SHA1&digits=6&issuer=ACME%20Login&period=30&secret=${secret}`,
      );
      expect(details).toEqual({
        sequence: expect.stringMatching(/^\d+$/),
        changeDate: expect.any(String),
        resourceOwner: orgId,
      });
      expect(new Date(details.changeDate).getTime()).toBe(t.clock.now());
    });

    it('re-registering an unverified TOTP replaces the secret (the old one no longer verifies)', async () => {
      const first = await t.http.post(v2(u.userId)).set(bearer(u.token)).send({});
      const second = await t.http.post(v2(u.userId)).set(bearer(u.token)).send({});
      expect(second.status).toBe(200);
      expect(second.body.secret).not.toBe(first.body.secret);
      expect(Number(second.body.details.sequence)).toBe(Number(first.body.details.sequence) + 1);
      const old = await t.http
        .post(v2(u.userId, '/verify'))
        .set(bearer(u.token))
        .send({ code: codeAt(t, first.body.secret) });
      expect(old.status).toBe(400);
      expect(old.body).toEqual(INVALID_CODE);
    });

    it('validates the code as the reference: required, 1-200 runes', async () => {
      for (const body of [{}, { code: '' }, { code: 'x'.repeat(201) }, { code: 123456 }]) {
        const res = await t.http.post(v2(u.userId, '/verify')).set(bearer(u.token)).send(body);
        expect(res.status).toBe(400);
        if (typeof body.code === 'number')
          expect(res.body.message).toMatch(/^invalid VerifyTOTPRegistrationRequest\.Code: /);
        else expect(res.body).toEqual(CODE_LENGTH('VerifyTOTPRegistrationRequest'));
      }
      // 200 characters is allowed (and simply an invalid code)
      const long = await t.http
        .post(v2(u.userId, '/verify'))
        .set(bearer(u.token))
        .send({ code: '1'.repeat(200) });
      expect(long.body).toEqual(INVALID_CODE);
    });

    it('verifies with a trimmed code, ignoring unknown fields (the path wins)', async () => {
      const reg = await t.http.post(v2(u.userId)).set(bearer(u.token)).send({});
      const res = await t.http
        .post(v2(u.userId, '/verify'))
        .set(bearer(u.token))
        .send({ userId: '999', code: `  ${codeAt(t, reg.body.secret)} `, extra: true });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        details: {
          sequence: String(Number(reg.body.details.sequence) + 1),
          changeDate: expect.any(String),
          resourceOwner: orgId,
        },
      });
    });

    it('refuses a second verification (400 FailedPrecondition, the raw upstream key) and a new registration (409)', async () => {
      const again = await t.http.post(v2(u.userId, '/verify')).set(bearer(u.token)).send({ code: '123456' });
      expect(again.status).toBe(400);
      expect(again.body).toEqual(zitadelError(9, 'COMMAND-qx4ls', 'Errors.Users.MFA.OTP.AlreadyReady'));
      const reg = await t.http.post(v2(u.userId)).set(bearer(u.token)).send({});
      expect(reg.status).toBe(409);
      expect(reg.body).toEqual(
        zitadelError(6, 'COMMAND-do9se', 'Multifactor OTP (OneTimePassword) is already set up'),
      );
    });

    it('removes (200), then 404 for remove and verify', async () => {
      const res = await t.http.delete(v2(u.userId)).set(bearer(u.token));
      expect(res.status).toBe(200);
      expect(res.body.details).toEqual({
        sequence: expect.any(String),
        changeDate: expect.any(String),
        resourceOwner: orgId,
      });
      const again = await t.http.delete(v2(u.userId)).set(bearer(u.token));
      expect(again.status).toBe(404);
      expect(again.body).toEqual(NOT_EXISTING('COMMAND-Hd9sd'));
      const verify = await t.http.post(v2(u.userId, '/verify')).set(bearer(u.token)).send({ code: '123456' });
      expect(verify.status).toBe(404);
      expect(verify.body).toEqual(NOT_EXISTING('COMMAND-3Mif9s'));
    });

    it('wrote added/verified/removed events with the user as aggregate and its org as owner, without secrets', async () => {
      const rows = await sql<{
        event_type: string;
        resource_owner: string;
        creator: string;
        payload: string | null;
        sequence: number;
      }>(
        t,
        `SELECT event_type, resource_owner, creator, payload, sequence FROM events WHERE aggregate_id = $1 AND event_type LIKE 'user.human.mfa.otp.%' ORDER BY sequence`,
        [u.userId],
      );
      expect(rows.map((r) => r.event_type)).toEqual([
        'user.human.mfa.otp.added',
        'user.human.mfa.otp.added',
        'user.human.mfa.otp.added',
        'user.human.mfa.otp.added',
        'user.human.mfa.otp.verified',
        'user.human.mfa.otp.removed',
      ]);
      for (const r of rows) {
        expect(r.resource_owner).toBe(orgId);
        expect(r.creator).toBe(u.userId);
        expect(r.payload).toBeNull();
      }
    });
  });

  describe('register errors and permissions', () => {
    it('answers 400 "User could not be found" for unknown and machine users', async () => {
      const unknown = await t.http.post(v2('123456789012345678')).set(bearer(t.adminToken)).send({});
      expect(unknown.status).toBe(400);
      expect(unknown.body).toEqual(zitadelError(9, 'COMMAND-SqyJz', 'User could not be found'));
      const machine = await createMachine(t, orgId);
      const res = await t.http.post(v2(machine.userId)).set(bearer(t.adminToken)).send({});
      expect(res.status).toBe(400);
      expect(res.body).toEqual(zitadelError(9, 'COMMAND-SqyJz', 'User could not be found'));
      const v1 = await t.http.post(V1).set(bearer(machine.token)).send({});
      expect(v1.body).toEqual(zitadelError(9, 'COMMAND-SqyJz', 'User could not be found'));
    });

    it('needs a token (401), and self or user.credential.write (remove: user.write) on the user’s org (403)', async () => {
      const target = await createHuman(t, orgId);
      const other = await createHuman(t, orgId);
      expect((await t.http.post(v2(target.userId)).send({})).status).toBe(401);
      for (const req of [
        t.http.post(v2(target.userId)).send({}),
        t.http.post(v2(target.userId, '/verify')).send({ code: '123456' }),
        t.http.post(v2(target.userId, '/_check')).send({ code: '123456' }),
        t.http.delete(v2(target.userId)),
      ]) {
        const res = await req.set(bearer(other.token));
        expect(res.status).toBe(403);
        expect(res.body).toEqual(zitadelError(7, 'AUTH-AWfge', 'No matching permissions found'));
      }
      // ORG_USER_MANAGER holds user.write but not user.credential.write: may remove, not register.
      const manager = await createHuman(t, orgId);
      await grantOrgRoles(t, orgId, manager.userId, ['ORG_USER_MANAGER']);
      expect((await t.http.post(v2(target.userId)).set(bearer(manager.token)).send({})).status).toBe(403);
      // ORG_OWNER may register and verify for others.
      const owner = await createHuman(t, orgId);
      await grantOrgRoles(t, orgId, owner.userId, ['ORG_OWNER']);
      const secret = await readyTotp(t, target.userId, owner.token);
      const check = await t.http
        .post(v2(target.userId, '/_check'))
        .set(bearer(owner.token))
        .send({ code: codeAt(t, secret) });
      expect(check.status).toBe(200);
      const removed = await t.http.delete(v2(target.userId)).set(bearer(manager.token));
      expect(removed.status).toBe(200);
      // an owner of another organisation may not
      const otherOrg = await createOrg(t);
      const foreign = await createHuman(t, otherOrg);
      await grantOrgRoles(t, otherOrg, foreign.userId, ['ORG_OWNER']);
      expect((await t.http.post(v2(target.userId)).set(bearer(foreign.token)).send({})).status).toBe(403);
    });
  });

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

  describe('v1 Auth API (the token’s own user)', () => {
    it('adds (url, secret, details with creationDate), verifies, removes', async () => {
      const u = await createHuman(t, orgId);
      const add = await t.http.post(V1).set(bearer(u.token)).send({});
      expect(add.status).toBe(200);
      expect(Object.keys(add.body)).toEqual(['url', 'secret', 'details', 'qrCode']);
      expect(add.body.url).toMatch(
        new RegExp(`^otpauth://totp/ACME%20Login:${u.username}@.*&secret=${add.body.secret}$`),
      );
      expect(add.body.details).toEqual({
        sequence: expect.any(String),
        creationDate: expect.any(String),
        resourceOwner: orgId,
      });
      expect(new Date(add.body.details.creationDate).getTime()).toBe(t.clock.now());

      const empty = await t.http.post(`${V1}/_verify`).set(bearer(u.token)).send({ code: '' });
      expect(empty.body).toEqual(CODE_LENGTH('VerifyMyAuthFactorOTPRequest'));
      const wrong = await t.http
        .post(`${V1}/_verify`)
        .set(bearer(u.token))
        .send({ code: '000000' === codeAt(t, add.body.secret) ? '111111' : '000000' });
      expect(wrong.status).toBe(400);
      expect(wrong.body).toEqual(INVALID_CODE);
      const ok = await t.http
        .post(`${V1}/_verify`)
        .set(bearer(u.token))
        .send({ code: codeAt(t, add.body.secret) });
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual({
        details: { sequence: expect.any(String), changeDate: expect.any(String), resourceOwner: orgId },
      });
      const again = await t.http.post(V1).set(bearer(u.token)).send({});
      expect(again.status).toBe(409);
      const v2Check = await t.http
        .post(v2(u.userId, '/_check'))
        .set(bearer(u.token))
        .send({ code: codeAt(t, add.body.secret, 1) });
      expect(v2Check.status).toBe(200);

      const rm = await t.http.delete(V1).set(bearer(u.token));
      expect(rm.status).toBe(200);
      expect(rm.body.details).toEqual({
        sequence: expect.any(String),
        changeDate: expect.any(String),
        resourceOwner: orgId,
      });
      const rm2 = await t.http.delete(V1).set(bearer(u.token));
      expect(rm2.status).toBe(404);
      expect(rm2.body).toEqual(NOT_EXISTING('COMMAND-Hd9sd'));
      const verify = await t.http.post(`${V1}/_verify`).set(bearer(u.token)).send({ code: '123456' });
      expect(verify.body).toEqual(NOT_EXISTING('COMMAND-3Mif9s'));
      expect((await t.http.post(V1).send({})).status).toBe(401);
    });
  });

  describe('secrets at rest', () => {
    it('never stores or logs the plaintext secret; the sealed value opens only for its user', async () => {
      const u = await createHuman(t, orgId);
      const reg = await t.http.post(v2(u.userId)).set(bearer(u.token)).send({});
      const secret: string = reg.body.secret;
      const code = codeAt(t, secret);
      await t.http.post(v2(u.userId, '/verify')).set(bearer(u.token)).send({ code }).expect(200);
      const [row] = await sql<Record<string, unknown>>(t, 'SELECT * FROM totp_factors WHERE user_id = $1', [
        u.userId,
      ]);
      const dump = JSON.stringify(row);
      expect(dump).not.toContain(secret);
      expect(dump.toLowerCase()).not.toContain(secret.toLowerCase());
      expect(dump).not.toContain(Buffer.from(secret).toString('base64'));
      expect(row.secret_sealed).toMatch(/^v1\.[^.]+\.[^.]+\.[^.]+\.[^.]+$/);
      const box = t.app.get(SecretBox);
      expect(box.open(row.secret_sealed as string, u.userId)).toBe(secret);
      expect(() => box.open(row.secret_sealed as string, '1')).toThrow();
      const events = await sql(t, 'SELECT * FROM events WHERE aggregate_id = $1', [u.userId]);
      expect(JSON.stringify(events)).not.toContain(secret);
      const logs = t.logs.join('\n');
      expect(logs).not.toContain(secret);
      expect(logs).not.toContain(`"${code}"`);
    });
  });

  describe('known answers through the API', () => {
    it('accepts codes computed by oathtool for planted secrets at their times', async () => {
      const saved = t.clock.now();
      try {
        for (const [secret, seconds, code] of OATHTOOL_CODES.slice(0, 4)) {
          const u = await createHuman(t, orgId);
          await t.http.post(v2(u.userId)).set(bearer(u.token)).send({}).expect(200);
          await plantSecret(t, u.userId, secret);
          t.clock.set(seconds * 1000);
          const res = await t.http.post(v2(u.userId, '/verify')).set(bearer(u.token)).send({ code });
          expect({ secret, status: res.status }).toEqual({ secret, status: 200 });
        }
      } finally {
        t.clock.set(saved);
      }
    });

    it('verifies and checks the SHA1 vectors of RFC 6238 appendix B at their times', async () => {
      const u = await createHuman(t, orgId);
      await t.http.post(v2(u.userId)).set(bearer(u.token)).send({}).expect(200);
      await plantSecret(t, u.userId, RFC_SECRET); // ASCII "12345678901234567890"
      const saved = t.clock.now();
      const vectors = RFC_VECTORS.slice(0, 5);
      try {
        for (const [i, [seconds, code]] of vectors.entries()) {
          t.clock.set(seconds * 1000);
          const path = i === 0 ? '/verify' : '/_check';
          const res = await t.http.post(v2(u.userId, path)).set(bearer(u.token)).send({ code });
          expect({ seconds, status: res.status }).toEqual({ seconds, status: 200 });
        }
      } finally {
        t.clock.set(Math.max(saved, t.clock.now()) + 60_000);
      }
    });
  });
});

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
