import { Controller, Get } from '@nestjs/common';
import { bearer, createTestApp, TestApp } from './helpers/test-app';
import { formatTable, routeAccessTable } from './helpers/route-permissions';

/**
 * Every route of the real app must say who may call it: `@Public()` or `@RequirePermission(...)`.
 * The table is read from the running app (DiscoveryService + Reflector), so routes that any module
 * adds later are checked without being listed here.
 */
describe('route permissions', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('every route is @Public() or @RequirePermission(...)', () => {
    const table = routeAccessTable(t.app);
    process.stdout.write(`\nroute → permission\n${formatTable(table)}\n`);
    expect(table.length).toBeGreaterThan(10);
    expect(table.filter((r) => r.access === 'MISSING')).toEqual([]);
  });

  it('documents the identity and health routes as designed', () => {
    const access = Object.fromEntries(routeAccessTable(t.app).map((r) => [r.route, r.access]));
    expect(access).toMatchObject({
      'GET /healthz': 'PUBLIC',
      'GET /readyz': 'PUBLIC',
      'POST /v2/organizations': 'org.create (instance)',
      'PUT /v2/organizations/:orgId/members/:userId': 'org.member.write (org from param orgId)',
      'DELETE /v2/organizations/:orgId/members/:userId': 'org.member.write (org from param orgId)',
      'PUT /v2/instance/members/:userId': 'iam.member.write (instance)',
      'DELETE /v2/instance/members/:userId': 'iam.member.write (instance)',
      'POST /v2/users/human': 'user.write (org from body organization.orgId)',
      'POST /v2/users/machine': 'user.write (org from body organization.orgId)',
      'GET /v2/users/:userId': 'user.read (self or user from param userId)',
      'DELETE /v2/users/:userId': 'user.write (user from param userId)',
      'POST /v2/users/:userId/deactivate': 'user.write (user from param userId)',
      'POST /v2/users/:userId/reactivate': 'user.write (user from param userId)',
      'POST /v2/users/:userId/lock': 'user.write (user from param userId)',
      'POST /v2/users/:userId/unlock': 'user.write (user from param userId)',
      'POST /v2/users/:userId/pats': 'user.write (self or user from param userId)',
      'DELETE /v2/users/:userId/pats/:tokenId': 'user.write (self or user from param userId)',
    });
  });

  it('documents the v2 OTP SMS / OTP Email, recovery-code and factor-list routes as designed', () => {
    const access = Object.fromEntries(routeAccessTable(t.app).map((r) => [r.route, r.access]));
    const credential = 'user.credential.write (self or user from param userId)';
    const write = 'user.write (self or user from param userId)';
    expect(access).toMatchObject({
      'POST /v2/users/:userId/otp_sms': credential,
      'DELETE /v2/users/:userId/otp_sms': write,
      'POST /v2/users/:userId/otp_sms/_send': credential,
      'POST /v2/users/:userId/otp_sms/_check': credential,
      'POST /v2/users/:userId/otp_email': credential,
      'DELETE /v2/users/:userId/otp_email': write,
      'POST /v2/users/:userId/otp_email/_send': credential,
      'POST /v2/users/:userId/otp_email/_check': credential,
      'POST /v2/users/:userId/recovery_codes': credential,
      'DELETE /v2/users/:userId/recovery_codes': write,
      'POST /v2/users/:userId/recovery_codes/_check': credential,
      'GET /v2/users/:userId/authentication_methods': 'user.read (self or user from param userId)',
    });
  });

  it('serves the API documentation without a token (outside the controllers)', async () => {
    await t.http.get('/openapi.json').expect(200);
    await t.http.get('/openapi.yaml').expect(200);
  });
});

@Controller('test-only/undeclared')
class UndeclaredController {
  @Get()
  Undeclared() {
    return { reached: true };
  }
}

describe('route permissions: a route without a declaration', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ controllers: [UndeclaredController] });
  });
  afterAll(async () => t.close());

  it('is reported by the table', () => {
    const missing = routeAccessTable(t.app).filter((r) => r.access === 'MISSING');
    expect(missing).toEqual([
      { route: 'GET /test-only/undeclared', handler: 'UndeclaredController.Undeclared', access: 'MISSING' },
    ]);
  });

  it('is refused by the guard even for the IAM_OWNER (deny by default)', async () => {
    const res = await t.http.get('/test-only/undeclared').set(bearer(t.adminToken));
    expect(res.status).toBe(403);
    expect(res.body.message).toBe('No matching permissions found (AUTH-AWfge)');
    await t.http.get('/test-only/undeclared').expect(401);
  });
});
