import { Code, ConnectError, createClient, Transport } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { createServerTransport } from '@zitadel/client/node';
import { createAuthServiceClient } from '@zitadel/client/v1';
import { createUserServiceClient } from '@zitadel/client/v2';
import { createUserServiceClient as createUsersV3alphaClient } from '@zitadel/client/v3alpha';
import { createClientTransport } from '@zitadel/client/web';
import { ErrorDetailSchema } from '@zitadel/proto/zitadel/message_pb';
import { UserService } from '@zitadel/proto/zitadel/user/v2/user_service_pb';
import { createHuman, createOrg, grantOrgRoles, HumanFixture } from './helpers/factories';
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
      expect(ver.details?.sequence).toBe(reg.details!.sequence + 1n);
      expect(ver.details?.resourceOwner).toBe(orgId);
      const rest = await t.http.get(`/v2/users/${u.userId}`).set(bearer(u.token));
      expect(rest.status).toBe(200);
      const removed = await users.removeTOTP({ userId: u.userId });
      expect(removed.details?.sequence).toBe(ver.details!.sequence + 1n);
    });

    it('v1 AddMyAuthFactorOTP → VerifyMyAuthFactorOTP → RemoveMyAuthFactorOTP', async () => {
      const auth = createAuthServiceClient(transport(u.token));
      const added = await auth.addMyAuthFactorOTP({});
      expect(added.url).toContain(`secret=${added.secret}`);
      expect(added.details?.creationDate).toBeDefined();
      const ver = await auth.verifyMyAuthFactorOTP({ code: codeAt(t, added.secret) });
      expect(ver.details?.sequence).toBe(added.details!.sequence + 1n);
      const removed = await auth.removeMyAuthFactorOTP({});
      expect(removed.details?.sequence).toBe(ver.details!.sequence + 1n);
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
});
