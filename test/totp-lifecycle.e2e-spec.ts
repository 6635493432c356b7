import { createHuman, createMachine, createOrg, grantOrgRoles, HumanFixture } from './helpers/factories';
import { zitadelError } from './helpers/error-bodies';
import { bearer, createTestApp, TestApp } from './helpers/test-app';
import {
  CODE_LENGTH,
  codeAt,
  INVALID_CODE,
  NOT_EXISTING,
  plantSecret,
  readyTotp,
  sql,
  TOTP_ENV,
  TOTP_V1 as V1,
  totpV2 as v2,
} from './helpers/totp';
import { SecretBox } from '../src/common/crypto/secret-box';
import { OATHTOOL_CODES, RFC_SECRET, RFC_VECTORS } from './fixtures/totp-vectors';

/**
 * The TOTP life cycle through the v2 User Service and the v1 Auth API: register, verify, remove, the
 * events they write, who may do it, secrets at rest and known answers. The _check route, replays and
 * races are in totp-check-races, the attempt limits in totp-limits.
 */
describe('TOTP life cycle (v2 User Service, v1 Auth API)', () => {
  let t: TestApp;
  let orgId: string;

  beforeAll(async () => {
    t = await createTestApp({ env: TOTP_ENV });
    orgId = await createOrg(t);
  });
  afterAll(async () => t.close());

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
