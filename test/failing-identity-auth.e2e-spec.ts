import { Controller, HttpCode, Module, Param, Post } from '@nestjs/common';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { Caller, RequirePermission, userParam } from '../src/common/auth/decorators';
import { Principal } from '../src/common/auth/principal';
import { IdentityModule, UsersReader } from '../src/identity';
import { CommonErrors } from '../src/common/errors/common-errors';
import {
  createHuman,
  createMachine,
  createOrg,
  createPat,
  grantInstanceRoles,
  grantOrgRoles,
} from './helpers/factories';
import { PERMISSION_DENIED, TOKEN_INVALID, zitadelError, zitadelPlain } from './helpers/error-bodies';
import { bearer, createTestApp, TestApp } from './helpers/test-app';

/**
 * The authentication × authorisation matrix through HTTP: every kind of credential and caller against
 * a read route, a user.write route and a user.credential.write route, on a known and an unknown target.
 *
 * The credential route is a probe compiled into this test app only (the TOTP module owns the real ones):
 * the real global AuthGuard decides, and the probe answers 404 for an unknown user like a service would.
 */
@Controller('test-only/users')
class CredentialProbeController {
  constructor(private readonly users: UsersReader) {}

  @Post(':userId/credential')
  @HttpCode(200)
  @RequirePermission('user.credential.write', { self: true, target: userParam('userId') })
  async Probe(@Caller() caller: Principal, @Param('userId') userId: string) {
    if (!(await this.users.findUser(userId))) throw CommonErrors.userNotFound();
    return { caller: caller.userId, userId };
  }
}

/** The probe's module says what it uses, as a feature module would. */
@Module({ imports: [IdentityModule], controllers: [CredentialProbeController] })
class CredentialProbeModule {}

const ISSUER = 'https://idp.example.test';
const AUDIENCE = 'mfa-service';
const UNKNOWN_USER = '199999999999999999';

const BODY = {
  missing: zitadelPlain(16, 'auth header missing'),
  header: zitadelError(16, 'AUTH-toLo1', 'invalid auth header'),
  token: TOKEN_INVALID,
  denied: PERMISSION_DENIED,
  notFound: zitadelError(5, 'COMMAND-bx2OLtgGNS', 'User could not be found'),
};
type Outcome = 200 | '401 missing' | '401 header' | '401 token' | 403 | 404;

type CallerName =
  | 'no token'
  | 'Basic x'
  | 'Bearer (no token)'
  | 'Bearer a b'
  | 'unknown token'
  | 'revoked token'
  | 'expired token'
  | 'JWT valid (sub = ORG_OWNER)'
  | 'JWT wrong audience'
  | 'JWT wrong issuer'
  | 'JWT expired'
  | 'JWT bad signature'
  | 'JWT unknown sub'
  | 'self'
  | 'plain user, same org'
  | 'ORG_OWNER, same org'
  | 'ORG_OWNER, other org'
  | 'ORG_USER_MANAGER, same org'
  | 'IAM_USER_MANAGER'
  | 'IAM_OWNER';
type RouteName = 'read' | 'user.write' | 'user.credential.write';
const ROUTES: RouteName[] = ['read', 'user.write', 'user.credential.write'];

/** Expected outcome per caller on [read, user.write, user.credential.write], target = an existing user of org A. */
const KNOWN_TARGET: [CallerName, Outcome, Outcome, Outcome][] = [
  ['no token', '401 missing', '401 missing', '401 missing'],
  ['Basic x', '401 header', '401 header', '401 header'],
  ['Bearer (no token)', '401 header', '401 header', '401 header'],
  ['Bearer a b', '401 header', '401 header', '401 header'],
  ['unknown token', '401 token', '401 token', '401 token'],
  ['revoked token', '401 token', '401 token', '401 token'],
  ['expired token', '401 token', '401 token', '401 token'],
  ['JWT valid (sub = ORG_OWNER)', 200, 200, 200],
  ['JWT wrong audience', '401 token', '401 token', '401 token'],
  ['JWT wrong issuer', '401 token', '401 token', '401 token'],
  ['JWT expired', '401 token', '401 token', '401 token'],
  ['JWT bad signature', '401 token', '401 token', '401 token'],
  ['JWT unknown sub', '401 token', '401 token', '401 token'],
  ['self', 200, 200, 200],
  ['plain user, same org', 403, 403, 403],
  ['ORG_OWNER, same org', 200, 200, 200],
  ['ORG_OWNER, other org', 403, 403, 403],
  ['ORG_USER_MANAGER, same org', 200, 200, 403],
  ['IAM_USER_MANAGER', 200, 200, 403],
  ['IAM_OWNER', 200, 200, 200],
];

/** Unknown target: no existence leak to organisation-scoped callers; instance-wide holders get the 404. */
const UNKNOWN_TARGET: [CallerName, Outcome, Outcome, Outcome][] = [
  ['no token', '401 missing', '401 missing', '401 missing'],
  ['unknown token', '401 token', '401 token', '401 token'],
  ['plain user, same org', 403, 403, 403],
  ['ORG_OWNER, same org', 403, 403, 403],
  ['ORG_USER_MANAGER, same org', 403, 403, 403],
  ['IAM_USER_MANAGER', 404, 404, 403],
  ['IAM_OWNER', 404, 404, 404],
];

interface Case {
  name: string;
  caller: CallerName;
  route: RouteName;
  target: 'known' | 'unknown';
  expected: Outcome;
}
const cases = (rows: typeof KNOWN_TARGET, target: Case['target']): Case[] =>
  rows.flatMap(([caller, ...outcomes]) =>
    ROUTES.map((route, i) => ({
      name: `${caller} → ${route} on ${target} user: ${outcomes[i]}`,
      caller,
      route,
      target,
      expected: outcomes[i],
    })),
  );

describe('identity: authentication and authorisation matrix', () => {
  let t: TestApp;
  let jwks: http.Server;
  /** Authorization header per caller (undefined = none). */
  const headers = new Map<CallerName, string | undefined>();
  /** The user each caller authenticates as, for "self". */
  let selfId: string;
  let targetId: string;
  /** Every secret this test handled: none may appear in a response (except PAT creation) or a log line. */
  const secrets: string[] = [];
  const bodies: string[] = [];

  beforeAll(async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const other = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'ES256', use: 'sig' };
    jwks = http.createServer((_req, res) => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
    t = await createTestApp({
      env: { OIDC_ISSUER: ISSUER, OIDC_AUDIENCE: AUDIENCE, OIDC_JWKS_URL: jwksUrl },
      extraModules: [CredentialProbeModule],
    });

    const orgA = await createOrg(t);
    const orgB = await createOrg(t);
    const target = await createHuman(t, orgA);
    targetId = target.userId;
    selfId = target.userId;
    const plainA = await createHuman(t, orgA);
    const ownerA = await createHuman(t, orgA);
    await grantOrgRoles(t, orgA, ownerA.userId, ['ORG_OWNER']);
    const ownerB = await createHuman(t, orgB);
    await grantOrgRoles(t, orgB, ownerB.userId, ['ORG_OWNER']);
    const managerA = await createHuman(t, orgA);
    await grantOrgRoles(t, orgA, managerA.userId, ['ORG_USER_MANAGER']);
    const iamUserManager = await createMachine(t, orgB);
    await grantInstanceRoles(t, iamUserManager.userId, ['IAM_USER_MANAGER']);

    // A revoked token: used once (so it is cached), then revoked.
    const revoked = await t.http.post(`/v2/users/${ownerA.userId}/pats`).set(bearer(t.adminToken)).send({});
    await t.http.get(`/v2/users/${targetId}`).set(bearer(revoked.body.token)).expect(200);
    await t.http
      .delete(`/v2/users/${ownerA.userId}/pats/${revoked.body.tokenId}`)
      .set(bearer(t.adminToken))
      .expect(200);
    // An expired token: valid for 5 s, used (and cached for TOKEN_CACHE_SECONDS=10), then 6 s pass.
    const expired = await createPat(t, ownerA.userId, new Date(t.clock.now() + 5_000).toISOString());
    await t.http.get(`/v2/users/${targetId}`).set(bearer(expired)).expect(200);
    t.clock.advance(6_000);

    const now = Math.floor(t.clock.now() / 1000);
    const jwt = (o: {
      sub?: string;
      aud?: string;
      iss?: string;
      exp?: number;
      key?: Parameters<SignJWT['sign']>[0];
    }) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: 'test-key' })
        .setSubject(o.sub ?? ownerA.userId)
        .setIssuer(o.iss ?? ISSUER)
        .setAudience(o.aud ?? AUDIENCE)
        .setIssuedAt(now - 60)
        .setExpirationTime(o.exp ?? now + 300)
        .sign(o.key ?? privateKey);

    const set = (name: CallerName, value: string | undefined) => headers.set(name, value);
    const withToken = (name: CallerName, token: string) => {
      secrets.push(token);
      set(name, `Bearer ${token}`);
    };
    set('no token', undefined);
    set('Basic x', 'Basic x');
    set('Bearer (no token)', 'Bearer');
    set('Bearer a b', 'Bearer a b');
    withToken('unknown token', 'mfa_' + 'A'.repeat(43));
    withToken('revoked token', revoked.body.token);
    withToken('expired token', expired);
    withToken('JWT valid (sub = ORG_OWNER)', await jwt({}));
    withToken('JWT wrong audience', await jwt({ aud: 'someone-else' }));
    withToken('JWT wrong issuer', await jwt({ iss: 'https://evil.example.test' }));
    withToken('JWT expired', await jwt({ exp: now - 1 }));
    withToken('JWT bad signature', await jwt({ key: other.privateKey }));
    withToken('JWT unknown sub', await jwt({ sub: UNKNOWN_USER }));
    withToken('self', target.token);
    withToken('plain user, same org', plainA.token);
    withToken('ORG_OWNER, same org', ownerA.token);
    withToken('ORG_OWNER, other org', ownerB.token);
    withToken('ORG_USER_MANAGER, same org', managerA.token);
    withToken('IAM_USER_MANAGER', iamUserManager.token);
    withToken('IAM_OWNER', t.adminToken);
  });

  afterAll(async () => {
    await t.close();
    await new Promise((resolve) => jwks.close(resolve));
  });

  /** Sends the route's request as `caller`; the user.write route revokes a fresh PAT of the target. */
  async function call(c: Case) {
    const userId = c.target === 'unknown' ? UNKNOWN_USER : c.caller === 'self' ? selfId : targetId;
    let req;
    if (c.route === 'read') {
      req = t.http.get(`/v2/users/${userId}`);
    } else if (c.route === 'user.write') {
      let tokenId = '199999999999999998';
      if (c.target === 'known') {
        const pat = await t.http.post(`/v2/users/${userId}/pats`).set(bearer(t.adminToken)).send({});
        tokenId = pat.body.tokenId;
        secrets.push(pat.body.token);
      }
      req = t.http.delete(`/v2/users/${userId}/pats/${tokenId}`);
    } else {
      req = t.http.post(`/test-only/users/${userId}/credential`).send({});
    }
    const auth = headers.get(c.caller);
    if (auth !== undefined) req = req.set('Authorization', auth);
    const res = await req;
    bodies.push(res.text);
    return { res, userId };
  }

  it.each([...cases(KNOWN_TARGET, 'known'), ...cases(UNKNOWN_TARGET, 'unknown')])('$name', async (c) => {
    const { res, userId } = await call(c);
    const expectedStatus = typeof c.expected === 'number' ? c.expected : 401;
    expect({ status: res.status, body: res.body }).toMatchObject({ status: expectedStatus });
    if (expectedStatus === 401) {
      expect(res.headers['www-authenticate']).toBe('Bearer');
    } else {
      expect(res.headers['www-authenticate']).toBeUndefined();
    }
    switch (c.expected) {
      case '401 missing':
        expect(res.body).toEqual(BODY.missing);
        break;
      case '401 header':
        expect(res.body).toEqual(BODY.header);
        break;
      case '401 token':
        expect(res.body).toEqual(BODY.token);
        break;
      case 403:
        expect(res.body).toEqual(BODY.denied);
        break;
      case 404:
        expect(res.body).toEqual(BODY.notFound);
        break;
      case 200:
        if (c.route === 'read') expect(res.body.user.userId).toBe(userId);
        else if (c.route === 'user.write')
          expect(res.body.details).toEqual({
            sequence: expect.any(String),
            changeDate: expect.any(String),
            resourceOwner: expect.any(String),
          });
        else expect(res.body).toEqual({ caller: expect.any(String), userId });
        break;
    }
  });

  it('lets no token appear in any response body or log line', () => {
    expect(secrets.length).toBeGreaterThan(15);
    expect(bodies.length).toBeGreaterThan(50);
    for (const secret of secrets) {
      expect(bodies.filter((b) => b.includes(secret))).toEqual([]);
      expect(t.logs.filter((l) => l.includes(secret))).toEqual([]);
    }
  });
});
