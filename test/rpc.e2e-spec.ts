import { Code, ConnectError, createClient, Transport } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { createServerTransport } from '@zitadel/client/node';
import { createAuthServiceClient } from '@zitadel/client/v1';
import { createUserServiceClient } from '@zitadel/client/v2';
import { createUserServiceClient as createUsersV3alphaClient } from '@zitadel/client/v3alpha';
import { createClientTransport } from '@zitadel/client/web';
import { ErrorDetailSchema } from '@zitadel/proto/zitadel/message_pb';
import { AuthenticationMethodType, UserService } from '@zitadel/proto/zitadel/user/v2/user_service_pb';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { createHuman, createOrg, grantOrgRoles, HumanFixture } from './helpers/factories';
import { codeIn, SmtpSink, startSmtpSink } from './helpers/smtp-sink';
import { bearer, createTestApp, TestApp } from './helpers/test-app';
import { codeAt, sql } from './helpers/totp';

/** A Connect transport as ZITADEL's Login UI builds it (`@connectrpc/connect-node`, HTTP/1.1, binary). */
function connectTransport(baseUrl: string, token?: string): Transport {
  return createConnectTransport({
    baseUrl,
    httpVersion: '1.1',
    useBinaryFormat: true,
    interceptors: token
      ? [
          (next) => (req) => {
            req.header.set('authorization', `Bearer ${token}`);
            return next(req);
          },
        ]
      : [],
  });
}

/** The rejection of a call, as a ConnectError (fails when the call succeeds). */
async function rejection(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error('the call succeeded');
}

/** The ErrorDetail ids of an error (zitadel.v1.ErrorDetail in the status details). */
const detailIds = (e: ConnectError) => e.findDetails(ErrorDetailSchema).map((d) => d.id);

describe('ZITADEL RPC protocols (gRPC, gRPC-Web, Connect) at the same services', () => {
  let t: TestApp;
  let orgId: string;

  beforeAll(async () => {
    t = await createTestApp({ env: { OTP_MAX_ATTEMPTS: '100' } });
    orgId = await createOrg(t);
  });
  afterAll(async () => t.close());

  /** The three transports ZITADEL's clients use, each with the caller's token. */
  const transports: [string, (token: string) => Transport][] = [
    [
      'gRPC (@zitadel/client createServerTransport)',
      (tk) => createServerTransport(tk, { baseUrl: t.grpcUrl }),
    ],
    [
      'gRPC-Web (@zitadel/client createClientTransport)',
      (tk) => createClientTransport(tk, { baseUrl: t.baseUrl }),
    ],
    ['Connect (@connectrpc/connect-node)', (tk) => connectTransport(t.baseUrl, tk)],
  ];

  describe.each(transports)('%s', (_name, transport) => {
    let u: HumanFixture;
    beforeEach(async () => {
      u = await createHuman(t, orgId);
    });

    it('v2 RegisterTOTP → VerifyTOTPRegistration → RemoveTOTP', async () => {
      const users = createUserServiceClient(transport(u.token));
      const reg = await users.registerTOTP({ userId: u.userId });
      expect(reg.secret).toMatch(/^[A-Z2-7]{32}$/);
      expect(reg.uri).toContain(`secret=${reg.secret}`);
      expect(reg.details?.resourceOwner).toBe(orgId);
      const ver = await users.verifyTOTPRegistration({ userId: u.userId, code: codeAt(t, reg.secret) });
      expect(Number(ver.details?.sequence)).toBe(Number(reg.details!.sequence) + 1);
      expect(ver.details?.resourceOwner).toBe(orgId);
      const rest = await t.http.get(`/v2/users/${u.userId}`).set(bearer(u.token));
      expect(rest.status).toBe(200);
      const removed = await users.removeTOTP({ userId: u.userId });
      expect(Number(removed.details?.sequence)).toBe(Number(ver.details!.sequence) + 1);
    });

    it('v1 AddMyAuthFactorOTP → VerifyMyAuthFactorOTP → RemoveMyAuthFactorOTP', async () => {
      const auth = createAuthServiceClient(transport(u.token));
      const added = await auth.addMyAuthFactorOTP({});
      expect(added.url).toContain(`secret=${added.secret}`);
      expect(added.details?.creationDate).toBeDefined();
      const ver = await auth.verifyMyAuthFactorOTP({ code: codeAt(t, added.secret) });
      expect(Number(ver.details?.sequence)).toBe(Number(added.details!.sequence) + 1);
      const removed = await auth.removeMyAuthFactorOTP({});
      expect(Number(removed.details?.sequence)).toBe(Number(ver.details!.sequence) + 1);
    });

    it('v3alpha AddOTPSMSAuthenticator → VerifyOTPSMSRegistration', async () => {
      const users = createUsersV3alphaClient(transport(u.token));
      const added = await users.addOTPSMSAuthenticator({
        id: u.userId,
        phone: { number: '+41791234567', verification: { case: 'returnCode', value: {} } },
      });
      expect(added.otpSmsId).toMatch(/^\d+$/);
      expect(added.verificationCode).toMatch(/^\d+$/);
      expect(added.details?.owner?.id).toBe(orgId);
      const ver = await users.verifyOTPSMSRegistration({
        id: u.userId,
        otpSmsId: added.otpSmsId,
        code: added.verificationCode!,
      });
      expect(ver.details?.id).toBe(u.userId);
      expect(ver.details?.changed).toBeDefined();
    });

    it('a wrong code → InvalidArgument with the ErrorDetail EVENT-8isk2', async () => {
      const users = createUserServiceClient(transport(u.token));
      const reg = await users.registerTOTP({ userId: u.userId });
      const wrong = codeAt(t, reg.secret) === '000000' ? '111111' : '000000';
      const e = await rejection(users.verifyTOTPRegistration({ userId: u.userId, code: wrong }));
      expect(e.code).toBe(Code.InvalidArgument);
      expect(e.rawMessage).toBe('Invalid code (EVENT-8isk2)');
      expect(e.findDetails(ErrorDetailSchema)).toEqual([
        expect.objectContaining({ id: 'EVENT-8isk2', message: 'Invalid code' }),
      ]);
    });

    it('the validation limits of the proto: an empty code → InvalidArgument with the REST message', async () => {
      const users = createUserServiceClient(transport(u.token));
      await users.registerTOTP({ userId: u.userId });
      const e = await rejection(users.verifyTOTPRegistration({ userId: u.userId, code: '' }));
      expect(e.code).toBe(Code.InvalidArgument);
      expect(e.rawMessage).toBe(
        'invalid VerifyTOTPRegistrationRequest.Code: value length must be between 1 and 200 runes, inclusive',
      );
    });

    it('no token → Unauthenticated', async () => {
      const users = createUserServiceClient(transport(''));
      const e = await rejection(users.registerTOTP({ userId: u.userId }));
      expect(e.code).toBe(Code.Unauthenticated);
    });

    it("another organisation's owner → PermissionDenied (AUTH-AWfge)", async () => {
      const otherOrg = await createOrg(t);
      const owner = await createHuman(t, otherOrg);
      await grantOrgRoles(t, otherOrg, owner.userId, ['ORG_OWNER']);
      const users = createUserServiceClient(transport(owner.token));
      const e = await rejection(users.registerTOTP({ userId: u.userId }));
      expect(e.code).toBe(Code.PermissionDenied);
      expect(detailIds(e)).toEqual(['AUTH-AWfge']);
      const rows = await sql(t, 'SELECT 1 FROM totp_factors WHERE user_id = $1', [u.userId]);
      expect(rows).toHaveLength(0);
    });

    it('a method this service does not implement → Unimplemented', async () => {
      const users = createUserServiceClient(transport(u.token));
      const e = await rejection(users.listUsers({}));
      expect(e.code).toBe(Code.Unimplemented);
    });
  });

  it('a raw Connect client of the descriptor gets the same answer as REST for GetUserByID', async () => {
    const u = await createHuman(t, orgId);
    const client = createClient(UserService, connectTransport(t.baseUrl, u.token));
    const rpc = await client.getUserByID({ userId: u.userId });
    const rest = await t.http.get(`/v2/users/${u.userId}`).set(bearer(u.token));
    expect(rpc.user?.userId).toBe(rest.body.user.userId);
    expect(rpc.user?.username).toBe(rest.body.user.username);
    expect(rpc.details?.resourceOwner).toBe(rest.body.details.resourceOwner);
  });
  it('users and PATs over gRPC: AddHumanUser, AddPersonalAccessToken, LockUser (its token is refused), DeleteUser', async () => {
    const admin = createUserServiceClient(createServerTransport(t.adminToken, { baseUrl: t.grpcUrl }));
    const added = await admin.addHumanUser({
      organization: { org: { case: 'orgId', value: orgId } },
      username: `rpc-${Date.now()}`,
      profile: { givenName: 'Rpc', familyName: 'User' },
      email: { email: 'rpc@example.com', verification: { case: 'isVerified', value: true } },
    });
    expect(added.userId).toMatch(/^\d+$/);
    expect(added.details?.resourceOwner).toBe(orgId);
    const pat = await admin.addPersonalAccessToken({ userId: added.userId });
    expect(pat.token).toBeTruthy();
    const self = createUserServiceClient(connectTransport(t.baseUrl, pat.token));
    const me = await self.getUserByID({ userId: added.userId });
    expect(me.user?.type.case).toBe('human');
    expect(me.user?.type.case === 'human' && me.user.type.value.email?.email).toBe('rpc@example.com');
    await admin.lockUser({ userId: added.userId });
    expect((await rejection(self.getUserByID({ userId: added.userId }))).code).toBe(Code.Unauthenticated);
    await admin.deleteUser({ userId: added.userId });
    const gone = await rejection(admin.getUserByID({ userId: added.userId }));
    expect(gone.code).toBe(Code.NotFound);
  });

  it('v2 OTP SMS and OTP Email factors and the method list over gRPC, as on REST', async () => {
    const u = await createHuman(t, orgId, { phone: '+41791234567', phoneVerified: true });
    const users = createUserServiceClient(createServerTransport(u.token, { baseUrl: t.grpcUrl }));
    const sms = await users.addOTPSMS({ userId: u.userId });
    expect(sms.details?.resourceOwner).toBe(orgId);
    const mail = await users.addOTPEmail({ userId: u.userId });
    expect(Number(mail.details?.sequence)).toBe(Number(sms.details?.sequence) + 1);
    const rest = await t.http.get(`/v2/users/${u.userId}/authentication_methods`).set(bearer(u.token));
    const listed = await users.listAuthenticationMethodTypes({ userId: u.userId });
    expect(listed.authMethodTypes.map((m) => AuthenticationMethodType[m])).toEqual(
      (rest.body.authMethodTypes as string[]).map((m) => m.replace('AUTHENTICATION_METHOD_TYPE_', '')),
    );
    expect(listed.authMethodTypes).toEqual(
      expect.arrayContaining([AuthenticationMethodType.OTP_SMS, AuthenticationMethodType.OTP_EMAIL]),
    );
    await users.removeOTPSMS({ userId: u.userId });
    await users.removeOTPEmail({ userId: u.userId });
    const again = await rejection(users.removeOTPEmail({ userId: u.userId }));
    expect(again.code).toBe(Code.NotFound);
  });

  it('each RPC leaves one access log line (method, protocol, status code) without the message or the token', async () => {
    const u = await createHuman(t, orgId);
    const users = createUserServiceClient(createServerTransport(u.token, { baseUrl: t.grpcUrl }));
    const reg = await users.registerTOTP({ userId: u.userId });
    const code = codeAt(t, reg.secret);
    await users.verifyTOTPRegistration({ userId: u.userId, code });
    const lines = t.logs.filter((l) => l.includes('rpc completed'));
    const verify = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.rpc === 'zitadel.user.v2.UserService/VerifyTOTPRegistration');
    expect(verify.length).toBeGreaterThanOrEqual(1);
    expect(verify[verify.length - 1]).toMatchObject({ protocol: 'grpc', code: 0 });
    for (const l of t.logs) {
      expect(l).not.toContain(reg.secret);
      expect(l).not.toContain(u.token);
    }
  });

  it('path ids over 200 characters → InvalidArgument with the proto rule, as on REST', async () => {
    const u = await createHuman(t, orgId);
    const users = createUserServiceClient(createServerTransport(u.token, { baseUrl: t.grpcUrl }));
    const e = await rejection(users.registerTOTP({ userId: '9'.repeat(201) }));
    expect(e.code).toBe(Code.InvalidArgument);
    expect(e.rawMessage).toBe(
      'invalid RegisterTOTPRequest.UserId: value length must be between 1 and 200 runes, inclusive',
    );
  });

  describe('20 parallel calls over gRPC with one valid code: exactly one is accepted', () => {
    it('VerifyTOTPRegistration', async () => {
      const u = await createHuman(t, orgId);
      const users = createUserServiceClient(createServerTransport(u.token, { baseUrl: t.grpcUrl }));
      const reg = await users.registerTOTP({ userId: u.userId });
      const code = codeAt(t, reg.secret);
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, () => users.verifyTOTPRegistration({ userId: u.userId, code })),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results)
        if (r.status === 'rejected')
          expect([Code.InvalidArgument, Code.FailedPrecondition, Code.AlreadyExists]).toContain(
            ConnectError.from(r.reason).code,
          );
      const events = await sql<{ event_type: string }>(
        t,
        `SELECT event_type FROM events WHERE aggregate_id = $1 AND event_type LIKE '%otp.verified'`,
        [u.userId],
      );
      expect(events).toHaveLength(1);
    });

    it('VerifyMyAuthFactorOTP', async () => {
      const u = await createHuman(t, orgId);
      const auth = createAuthServiceClient(createServerTransport(u.token, { baseUrl: t.grpcUrl }));
      const added = await auth.addMyAuthFactorOTP({});
      const code = codeAt(t, added.secret);
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, () => auth.verifyMyAuthFactorOTP({ code })),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results)
        if (r.status === 'rejected') expect(ConnectError.from(r.reason).code).not.toBe(Code.Internal);
    });
  });

  it('REST and RPC calls interleaved on one user see one event sequence', async () => {
    const u = await createHuman(t, orgId);
    const grpc = createUserServiceClient(createServerTransport(u.token, { baseUrl: t.grpcUrl }));
    const web = createUserServiceClient(createClientTransport(u.token, { baseUrl: t.baseUrl }));
    const connect = createAuthServiceClient(connectTransport(t.baseUrl, u.token));
    const seqs: number[] = [];
    const rest1 = await t.http.post(`/v2/users/${u.userId}/totp`).set(bearer(u.token)).send({});
    seqs.push(Number(rest1.body.details.sequence));
    const reg = await grpc.registerTOTP({ userId: u.userId });
    seqs.push(Number(reg.details!.sequence));
    const rest2 = await t.http
      .post(`/v2/users/${u.userId}/totp/verify`)
      .set(bearer(u.token))
      .send({ code: codeAt(t, reg.secret) });
    expect(rest2.status).toBe(200);
    seqs.push(Number(rest2.body.details.sequence));
    seqs.push(Number((await web.removeTOTP({ userId: u.userId })).details!.sequence));
    const added = await connect.addMyAuthFactorOTP({});
    seqs.push(Number(added.details!.sequence));
    const rest3 = await t.http.delete('/auth/v1/users/me/auth_factors/otp').set(bearer(u.token));
    seqs.push(Number(rest3.body.details.sequence));
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0] + i));
    const events = await sql<{ sequence: string | number; event_type: string }>(
      t,
      'SELECT sequence, event_type FROM events WHERE aggregate_id = $1 ORDER BY sequence',
      [u.userId],
    );
    expect(events.slice(-seqs.length).map((e) => Number(e.sequence))).toEqual(seqs);
  });

  it('@zitadel/node (nice-grpc): v1 add → verify → remove, Unauthenticated, Unimplemented, EVENT-8isk2', async () => {
    const u = await createHuman(t, orgId);
    const script = path.join(__dirname, 'fixtures', 'zitadel-node-client.mjs');
    const child = spawn(process.execPath, [script, t.grpcUrl.replace('http://', ''), u.token], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const out = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const next = async () => JSON.parse((await out.next()).value as string) as Record<string, unknown>;
    try {
      expect(await next()).toMatchObject({ step: 'unauthenticated', code: 16 });
      expect(await next()).toMatchObject({ step: 'unimplemented', code: 12 });
      const added = await next();
      expect(added).toMatchObject({ step: 'added', secret: expect.stringMatching(/^[A-Z2-7]{32}$/) });
      child.stdin!.write(`${codeAt(t, added.secret as string)}\n`);
      expect(await next()).toMatchObject({ step: 'wrong', code: 3, details: 'Invalid code (EVENT-8isk2)' });
      const verified = await next();
      expect(verified).toMatchObject({ step: 'verified' });
      expect(Number(verified.sequence)).toBe(Number(added.sequence) + 1);
      expect(await next()).toMatchObject({ step: 'removed' });
    } finally {
      child.kill();
    }
  });
});

describe('the gRPC port shares the request limits of the main port', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { MAX_IN_FLIGHT_REQUESTS: '1' } });
  });
  afterAll(async () => t.close());

  it('calls beyond MAX_IN_FLIGHT_REQUESTS are refused at once → Unavailable', async () => {
    const users = createUserServiceClient(createServerTransport(t.adminToken, { baseUrl: t.grpcUrl }));
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => users.getUserByID({ userId: '1' })),
    );
    const codes = results.map((r) => (r.status === 'rejected' ? ConnectError.from(r.reason).code : 0));
    expect(codes).toContain(Code.NotFound);
    expect(codes).toContain(Code.Unavailable);
    expect(codes.every((c) => c === Code.NotFound || c === Code.Unavailable)).toBe(true);
  });
});

describe('step-up over RPC: the x-step-up-challenge metadata, as the REST header', () => {
  let t: TestApp;
  let sink: SmtpSink;
  beforeAll(async () => {
    sink = await startSmtpSink();
    t = await createTestApp({
      env: { MAIL_TRANSPORT: 'smtp', SMTP_URL: sink.url, STEP_UP_FOR_FACTOR_REMOVAL: 'true' },
    });
  });
  afterAll(async () => {
    await t?.close();
    await sink?.close();
  });

  it('RemoveTOTP by oneself over gRPC needs a verified mfa.factor.remove challenge', async () => {
    const u = await createHuman(t, await createOrg(t));
    const users = createUserServiceClient(createServerTransport(u.token, { baseUrl: t.grpcUrl }));
    await users.registerTOTP({ userId: u.userId });
    const without = await rejection(users.removeTOTP({ userId: u.userId }));
    expect(without.code).toBe(Code.PermissionDenied);
    expect(detailIds(without)).toEqual(['AUTH-StepUp1']);

    const BASE = '/internal/v1/mfa/totp-email';
    const started = await t.http
      .post(BASE)
      .set(bearer(u.token))
      .send({ userId: u.userId, operation: 'mfa.factor.remove' });
    expect(started.status).toBe(201);
    const verified = await t.http
      .post(`${BASE}/${started.body.challengeId}:verify`)
      .set(bearer(u.token))
      .send({ totp: codeIn(sink.lastTo(u.email)) });
    expect(verified.status).toBe(200);
    const removed = await users.removeTOTP(
      { userId: u.userId },
      { headers: { 'x-step-up-challenge': started.body.challengeId as string } },
    );
    expect(removed.details?.resourceOwner).toBe(u.orgId);
  });
});

describe('JWT access tokens over gRPC, through the same token verifier', () => {
  const ISSUER = 'https://idp.example.test';
  const AUDIENCE = 'mfa-service';
  let t: TestApp;
  let jwks: http.Server;
  let privateKey: Parameters<SignJWT['sign']>[0];

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'rpc-key', alg: 'ES256', use: 'sig' };
    jwks = http.createServer((_req, res) => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
    t = await createTestApp({
      env: { OIDC_ISSUER: ISSUER, OIDC_AUDIENCE: AUDIENCE, OIDC_JWKS_URL: jwksUrl },
    });
  });
  afterAll(async () => {
    await t?.close();
    await new Promise((resolve) => jwks?.close(resolve));
  });

  const jwt = (sub: string, aud = AUDIENCE) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'rpc-key' })
      .setSubject(sub)
      .setIssuer(ISSUER)
      .setAudience(aud)
      .setExpirationTime('5m')
      .sign(privateKey);

  it('a valid JWT of the user registers its TOTP; one for another audience → Unauthenticated', async () => {
    const u = await createHuman(t, await createOrg(t));
    const users = createUserServiceClient(createServerTransport(await jwt(u.userId), { baseUrl: t.grpcUrl }));
    const reg = await users.registerTOTP({ userId: u.userId });
    expect(reg.secret).toMatch(/^[A-Z2-7]{32}$/);
    const wrong = createUserServiceClient(
      createServerTransport(await jwt(u.userId, 'someone-else'), { baseUrl: t.grpcUrl }),
    );
    expect((await rejection(wrong.registerTOTP({ userId: u.userId }))).code).toBe(Code.Unauthenticated);
  });
});
