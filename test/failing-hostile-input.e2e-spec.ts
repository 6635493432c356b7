import { randomBytes } from 'node:crypto';
import * as zlib from 'node:zlib';
import type { Response, Test } from 'supertest';
import { Principal } from '../src/common/auth/principal';
import { TotpService } from '../src/totp/totp.service';
import { createHuman, createOrg, HumanFixture } from './helpers/factories';
import { bearer, createTestApp, TestApp } from './helpers/test-app';
import { codeAt, readyTotp, sql, zitadelError } from './helpers/totp';

/**
 * Hostile client input: compressed or falsely "compressed" bodies, JSON nested far too deep, NUL
 * characters in the path, the query or the body, malformed percent-encoding and over-long path
 * parameters. Each gets a 4xx in the route family's error format with an X-Request-Id, never a 5xx,
 * and changes nothing; and one caller's bad input never decides another caller's answer.
 */
describe('hostile input', () => {
  let t: TestApp;
  let orgId: string;
  let user: HumanFixture;

  beforeAll(async () => {
    t = await createTestApp({ env: { OTP_MAX_ATTEMPTS: '100' } });
    orgId = await createOrg(t);
    user = await createHuman(t, orgId);
    await readyTotp(t, user.userId, user.token);
  });
  afterAll(async () => t?.close());

  const uniq = () => randomBytes(4).toString('hex');
  const CHECK = () => `/v2/users/${user.userId}/totp/_check`;
  const EMAIL = '/internal/v1/mfa/totp-email';
  const admin = () => bearer(t.adminToken);

  /** Everything a hostile request could have changed. */
  async function fingerprint(): Promise<string> {
    const rows = await sql(
      t,
      `SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM organizations) AS orgs,
         (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM email_challenges) AS challenges,
         (SELECT count(*) FROM otp_sms_authenticators) AS sms,
         (SELECT coalesce(sum(failed_attempts), 0) FROM totp_factors) AS attempts,
         (SELECT coalesce(max(last_step), 0) FROM totp_factors) AS steps`,
    );
    return JSON.stringify(rows[0], (_k, v: unknown) =>
      typeof v === 'number' || typeof v === 'bigint' ? String(v) : v,
    );
  }

  type Family = 'zitadel' | 'email';

  /** The error body of the family, with the request id of the header. */
  function expectError(res: Response, family: Family, status: number): void {
    expect({ status: res.status, body: res.body as unknown }).toEqual({ status, body: expect.anything() });
    const requestId = res.headers['x-request-id'];
    expect(requestId).toMatch(/^[A-Za-z0-9._:-]{8,128}$/);
    expect(res.headers['content-type']).toMatch(/json/);
    if (family === 'zitadel') {
      expect(res.body).toEqual({
        code: expect.any(Number),
        message: expect.any(String),
        ...(res.body.details ? { details: expect.any(Array) } : {}),
      });
    } else {
      expect(res.body).toEqual({
        code: expect.stringMatching(/^urn:plmr:mfa-totp:api:[A-Z_]+$/),
        message: expect.any(String),
        requestId,
        fieldErrors: expect.any(Array),
        status,
        timestamp: expect.any(String),
        path: expect.any(String),
      });
    }
  }

  /** Sends a hostile request and checks its answer and that nothing changed. */
  async function hostile(family: Family, status: number, send: () => Test): Promise<Response> {
    const before = await fingerprint();
    const res = await send();
    expectError(res, family, status);
    expect(await fingerprint()).toBe(before);
    return res;
  }

  /** `{"a":{"a":…}}` nested `depth` objects deep (the outermost one included). */
  const nested = (depth: number, leaf: unknown = 1): unknown => {
    let v: unknown = leaf;
    for (let i = 0; i < depth; i++) v = { a: v };
    return v;
  };
  const deepText = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

  describe('Content-Encoding other than identity: 415, the body is not read', () => {
    const plain = JSON.stringify({ code: '123456' });
    for (const encoding of ['gzip', 'deflate', 'br', 'x-made-up', 'identity, gzip']) {
      it(`"${encoding}" on an uncompressed body: ZITADEL and email-challenge families`, async () => {
        const z = await hostile('zitadel', 415, () =>
          t.http
            .post(CHECK())
            .set(admin())
            .set('Content-Type', 'application/json')
            .set('Content-Encoding', encoding)
            .send(plain),
        );
        expect(z.body.code).toBe(3);
        expect(z.headers['accept-encoding']).toBe('identity');
        const e = await hostile('email', 415, () =>
          t.http
            .post(EMAIL)
            .set(admin())
            .set('Content-Type', 'application/json')
            .set('Content-Encoding', encoding)
            .send(JSON.stringify({ userId: user.userId, operation: 'op' })),
        );
        expect(e.body.code).toBe('urn:plmr:mfa-totp:api:BAD_REQUEST');
      });
    }

    it('a body that really is gzip, deflate or br gets 415 too (only identity is accepted)', async () => {
      const body = Buffer.from(JSON.stringify({ name: `org-${uniq()}` }));
      for (const [encoding, data] of [
        ['gzip', zlib.gzipSync(body)],
        ['deflate', zlib.deflateSync(body)],
        ['br', zlib.brotliCompressSync(body)],
      ] as const) {
        await hostile('zitadel', 415, () =>
          t.http
            .post('/v2/organizations')
            .set(admin())
            .set('Content-Type', 'application/json')
            .set('Content-Encoding', encoding)
            .send(data),
        );
      }
    });

    it('identity (any case) is accepted', async () => {
      const res = await t.http
        .post('/v2/organizations')
        .set(admin())
        .set('Content-Type', 'application/json')
        .set('Content-Encoding', 'Identity')
        .send(JSON.stringify({ name: `org-${uniq()}` }));
      expect(res.status).toBe(200);
    });
  });

  describe('JSON nesting deeper than 32 levels: 400', () => {
    it('3,000 levels (within the body limit) on a ZITADEL and an email-challenge route', async () => {
      expect(deepText(3000).length).toBeLessThan(t.config.bodyLimitBytes);
      const z = await hostile('zitadel', 400, () =>
        t.http
          .post(CHECK())
          .set(admin())
          .set('Content-Type', 'application/json')
          .send(`{"code":${deepText(3000)}}`),
      );
      expect(z.body).toEqual({ code: 3, message: 'invalid request: JSON nested deeper than 32 levels' });
      await hostile('zitadel', 400, () =>
        t.http
          .post('/v2/organizations')
          .set(admin())
          .set('Content-Type', 'application/json')
          .send(deepText(3000)),
      );
      const e = await hostile('email', 400, () =>
        t.http
          .post(EMAIL)
          .set(admin())
          .set('Content-Type', 'application/json')
          .send(`{"userId":"${user.userId}","operation":"op","context":${JSON.stringify(nested(3000))}}`),
      );
      expect(e.body.code).toBe('urn:plmr:mfa-totp:api:BAD_REQUEST');
      expect(e.body.message).toBe('invalid request: JSON nested deeper than 32 levels');
    });

    it('32 levels are accepted, 33 are not', async () => {
      // the outermost object is level 1; unknown fields are ignored on ZITADEL routes
      const ok = await t.http
        .post('/v2/organizations')
        .set(admin())
        .send({ name: `org-${uniq()}`, extra: nested(31) });
      expect(ok.status).toBe(200);
      await hostile('zitadel', 400, () =>
        t.http
          .post('/v2/organizations')
          .set(admin())
          .send({ name: `org-${uniq()}`, extra: nested(32) }),
      );
    });
  });

  describe('NUL characters: 400', () => {
    const NUL = '\u0000';

    it('in a path parameter (ZITADEL and email-challenge routes)', async () => {
      const z = await hostile('zitadel', 400, () =>
        t.http.post(`/v2/users/%00${user.userId}/totp/_check`).set(admin()).send({ code: '123456' }),
      );
      expect(z.body).toEqual({
        code: 3,
        message: 'invalid request: the path or query holds a NUL character',
      });
      await hostile('zitadel', 400, () => t.http.get(`/v2/users/${user.userId}%00`).set(admin()));
      await hostile('zitadel', 400, () => t.http.delete(`/v2/users/${user.userId}%00/totp`).set(admin()));
      await hostile('email', 400, () => t.http.get(`${EMAIL}/1%00`).set(admin()));
      await hostile('email', 400, () =>
        t.http.post(`${EMAIL}/1%00:verify`).set(bearer(user.token)).send({ totp: '123456' }),
      );
    });

    it('in a query parameter', async () => {
      await hostile('zitadel', 400, () =>
        t.http
          .post(`/resources/v3alpha/users/${user.userId}/otp_sms?organization.orgId=%00`)
          .set(admin())
          .send({ number: '+41791234567' }),
      );
    });

    it('in a body string or a body key, at any depth (ZITADEL and email-challenge routes)', async () => {
      const z = await hostile('zitadel', 400, () =>
        t.http
          .post('/v2/organizations')
          .set(admin())
          .send({ name: `ev${NUL}il-${uniq()}` }),
      );
      expect(z.body).toEqual({ code: 3, message: 'invalid request: name must not hold a NUL character' });
      await hostile('zitadel', 400, () =>
        t.http
          .post('/v2/organizations')
          .set(admin())
          .send({ name: `org-${uniq()}`, [`x${NUL}`]: 1 }),
      );
      await hostile('zitadel', 400, () =>
        t.http
          .post('/v2/users/human')
          .set(admin())
          .send({
            organization: { orgId },
            username: `u${NUL}-${uniq()}`,
            profile: { givenName: 'A', familyName: 'B' },
            email: { email: `${uniq()}@example.com`, isVerified: true },
          }),
      );
      await hostile('zitadel', 400, () =>
        t.http
          .post(CHECK())
          .set(admin())
          .send({ code: `12345${NUL}` }),
      );
      // the bare JSON string body of the v3alpha verify route
      await hostile('zitadel', 400, () =>
        t.http
          .post(`/resources/v3alpha/users/${user.userId}/otp_sms/1/_verify`)
          .set(admin())
          .set('Content-Type', 'application/json')
          .send(`"1234${NUL}"`),
      );
      const e = await hostile('email', 400, () =>
        t.http
          .post(EMAIL)
          .set(admin())
          .send({ userId: `${user.userId}${NUL}`, operation: 'payment.approve' }),
      );
      expect(e.body.fieldErrors).toEqual([
        {
          field: 'userId',
          code: 'urn:plmr:mfa-totp:api:BAD_REQUEST',
          message: 'value must not hold a NUL character',
        },
      ]);
      await hostile('email', 400, () =>
        t.http
          .post(EMAIL)
          .set(admin())
          .send({
            userId: user.userId,
            operation: 'payment.approve',
            context: { list: [{ note: `a${NUL}b` }] },
          }),
      );
    });
  });

  describe('paths the router cannot take apart: the family format and a request id on both adapters', () => {
    it('malformed percent-encoding in a path parameter: 400, without echoing the path', async () => {
      const z = await hostile('zitadel', 400, () =>
        t.http.post('/v2/users/%E0%A4%A/totp/verify').set(admin()).send({ code: '123456' }),
      );
      expect(z.body).toEqual({ code: 3, message: 'invalid request: malformed percent-encoding in the path' });
      const e = await hostile('email', 400, () =>
        t.http.post(`${EMAIL}/%E0%A4%A:verify`).set(bearer(user.token)).send({ totp: '123456' }),
      );
      expect(e.body.message).toBe('invalid request: malformed percent-encoding in the path');
    });

    it('malformed percent-encoding outside any route: a 4xx in the format of the path prefix', async () => {
      const res = await t.http.get('/internal/v1/mfa/nothing/%E0%A4%A').set(admin());
      expect([400, 404]).toContain(res.status);
      expectError(res, 'email', res.status);
    });

    it('path parameters longer than 100 characters reach the route', async () => {
      const long = '9'.repeat(150);
      const z = await t.http.post(`/v2/users/${long}/totp/_check`).set(admin()).send({ code: '123456' });
      expectError(z, 'zitadel', 404);
      expect(z.body).toEqual(
        zitadelError(5, 'COMMAND-3Mif9s', "Multifactor OTP (OneTimePassword) doesn't exist"),
      );
      const e = await t.http.get(`${EMAIL}/${long}`).set(admin());
      expectError(e, 'email', 404);
      expect(e.body.code).toBe('urn:plmr:mfa-totp:api:CHALLENGE_NOT_FOUND');
    });

    it('path ids longer than 200 characters: 400 with the proto rule, whoever asks, before the permission', async () => {
      const tooLong = '9'.repeat(201);
      const message =
        'invalid GetUserByIDRequest.UserId: value length must be between 1 and 200 runes, inclusive';
      for (const id of [tooLong, '9'.repeat(5000), '💥'.repeat(201)]) {
        const res = await t.http.get(`/v2/users/${encodeURIComponent(id)}`).set(admin());
        expectError(res, 'zitadel', 400);
        expect(res.body).toEqual({ code: 3, message });
      }
      // 200 characters are still an id (unknown: 404)
      expectError(await t.http.get(`/v2/users/${'9'.repeat(200)}`).set(admin()), 'zitadel', 404);
      // a caller without the permission is told the same (not 403)
      const stranger = await createHuman(t, await createOrg(t));
      const res = await t.http
        .post(`/v2/users/${tooLong}/totp/verify`)
        .set(bearer(stranger.token))
        .send({ code: '1' });
      expectError(res, 'zitadel', 400);
      expect(res.body.message).toBe(
        'invalid VerifyTOTPRegistrationRequest.UserId: value length must be between 1 and 200 runes, inclusive',
      );
      const sms = await t.http
        .delete(`/resources/v3alpha/users/1/otp_sms/${tooLong}`)
        .set(bearer(stranger.token));
      expectError(sms, 'zitadel', 400);
      expect(sms.body.message).toBe(
        'invalid RemoveOTPSMSAuthenticatorRequest.OtpSmsId: value length must be between 1 and 200 runes, inclusive',
      );
      // without a token: still 401 first
      expectError(await t.http.get(`/v2/users/${tooLong}`), 'zitadel', 401);
    });
  });

  describe('one caller’s bad input never decides another caller’s answer', () => {
    const USERS = 30;
    let users: HumanFixture[];
    let secrets: string[];

    beforeAll(async () => {
      users = [];
      secrets = [];
      for (let i = 0; i < USERS; i++) {
        const u = await createHuman(t, orgId);
        users.push(u);
        secrets.push(await readyTotp(t, u.userId, u.token));
      }
    });

    it(`a NUL user id in a burst of ${USERS} valid checks: every valid check 200, the bad one 400`, async () => {
      for (let round = 0; round < 3; round++) {
        t.clock.advance(30_000);
        const valid = users.map((u, i) =>
          t.http
            .post(`/v2/users/${u.userId}/totp/_check`)
            .set(bearer(u.token))
            .send({ code: codeAt(t, secrets[i]) }),
        );
        const bad = t.http
          .post(`/v2/users/${users[0].userId}%00/totp/_check`)
          .set(admin())
          .send({ code: '123456' });
        const answers = await Promise.all([...valid.slice(0, USERS / 2), bad, ...valid.slice(USERS / 2)]);
        const statuses = answers.map((r) => r.status);
        expect(statuses).toEqual([...Array(USERS / 2).fill(200), 400, ...Array(USERS / 2).fill(200)]);
      }
    });

    it('a member whose input makes the batched statement fail fails alone (the input check bypassed)', async () => {
      t.clock.advance(30_000);
      const service = t.app.get(TotpService);
      const caller = { userId: users[0].userId } as Principal;
      const checks = users.map((u, i) => service.check(caller, u.userId, codeAt(t, secrets[i])));
      // submitted in the same turn as the valid checks, so it shares their batch
      const poisoned = service.check(caller, `${users[0].userId}\u0000`, '123456');
      const [poison, ...settled] = await Promise.allSettled([poisoned, ...checks]);
      expect(poison.status).toBe('rejected');
      expect(settled.map((s) => (s.status === 'rejected' ? String(s.reason) : 'ok'))).toEqual(
        Array(USERS).fill('ok'),
      );
      // every valid check was accepted once: no attempt left counted
      const counted = await sql<{ failed_attempts: number }>(
        t,
        `SELECT failed_attempts FROM totp_factors WHERE user_id IN (${users.map((_, i) => `$${i + 1}`).join(', ')})`,
        users.map((u) => u.userId),
      );
      expect(counted.map((r) => Number(r.failed_attempts))).toEqual(Array(USERS).fill(0));
    });
  });
});
