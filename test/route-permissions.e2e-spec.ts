import { Controller, Get } from '@nestjs/common';
import { toFastifyPath } from '../src/bootstrap';
import FIXTURE from './fixtures/route-permissions.json';
import { PERMISSION_DENIED } from './helpers/error-bodies';
import { bearer, createTestApp, TestApp } from './helpers/test-app';
import {
  diffWithFixture,
  expressRoutes,
  formatTable,
  routeAccessTable,
  toFixture,
} from './helpers/route-permissions';

/**
 * Every route of the real app must say who may call it: `@Public()` or `@RequirePermission(...)`, and
 * every route is listed with its access in test/fixtures/route-permissions.json. The table is read
 * from the running app (DiscoveryService + Reflector, and the HTTP router itself), so a route that any
 * module adds fails here until it is declared and listed: a change of who may call what shows up in the
 * fixture's diff in review.
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

  it('every controller route is listed in the fixture with its access, and the fixture lists no other', () => {
    const table = routeAccessTable(t.app);
    const diff = diffWithFixture(table, FIXTURE.controllers);
    if (diff.unlisted.length || diff.stale.length || diff.changed.length)
      process.stdout.write(
        `\nthe route table as the fixture's "controllers":\n${JSON.stringify(toFixture(table), null, 2)}\n`,
      );
    expect(diff).toEqual({ unlisted: [], stale: [], changed: [] });
    // the health routes and the identity routes as designed (a subset of the fixture, kept explicit)
    expect(toFixture(table)).toMatchObject({
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
    const access = toFixture(routeAccessTable(t.app));
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

  it('the HTTP router serves exactly the listed routes: the controllers’ and the API documentation', () => {
    const listed = [...Object.keys(FIXTURE.controllers), ...Object.keys(FIXTURE.outsideControllers)].sort();
    const routes = expressRoutes(t.app);
    if (routes) {
      expect(routes).toEqual(listed);
      return;
    }
    // Fastify: its router cannot be listed, so every listed controller route must be found in it.
    const fastify = t.app.getHttpAdapter().getInstance() as {
      hasRoute(o: { method: string; url: string }): boolean;
    };
    const missing = Object.keys(FIXTURE.controllers).filter((route) => {
      const [method, url] = route.split(' ');
      return !fastify.hasRoute({ method, url: toFastifyPath(url) });
    });
    expect(missing).toEqual([]);
  });

  it('serves the API documentation without a token (outside the controllers)', async () => {
    await t.http.get('/openapi.json').expect(200);
    await t.http.get('/openapi.yaml').expect(200);
    // none of the other documentation routes asks for a token (a missing asset is a plain 404)
    for (const route of Object.keys(FIXTURE.outsideControllers)) {
      const res = await t.http.get(route.split(' ')[1]);
      expect({ route, refused: [401, 403].includes(res.status) }).toEqual({ route, refused: false });
    }
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

  it('is reported as not listed in the fixture', () => {
    const diff = diffWithFixture(routeAccessTable(t.app), FIXTURE.controllers);
    expect(diff).toEqual({ unlisted: ['GET /test-only/undeclared'], stale: [], changed: [] });
  });

  it('is refused by the guard even for the IAM_OWNER (deny by default)', async () => {
    const res = await t.http.get('/test-only/undeclared').set(bearer(t.adminToken));
    expect(res.status).toBe(403);
    expect(res.body).toEqual(PERMISSION_DENIED);
    await t.http.get('/test-only/undeclared').expect(401);
  });
});
