import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import type { Pool } from 'pg';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { Public } from '../src/common/auth/decorators';
import { TransactionRunner } from '../src/common/database/transaction-runner';
import { UseApiFamily } from '../src/common/errors/api-family';
import { OrganizationEntity } from '../src/identity/entities/organization.entity';
import { expectEmailError } from './helpers/error-bodies';
import { createHuman, createOrg, HumanFixture } from './helpers/factories';
import { TcpProxy } from './helpers/tcp-proxy';
import { bearer, createTestApp, E2E_DB, PG_URL, TestApp } from './helpers/test-app';

/**
 * A failing or overloaded dependency must give callers a fast, temporary failure (503 in the route
 * family's format, with Retry-After and X-Request-Id) instead of a hang or a 500, must never let work
 * that was answered with 503 change anything afterwards, and the service must recover by itself.
 */

/** Requests that wait here until the test opens the gate. */
class Gate {
  private waiting: (() => void)[] = [];
  private arrivals: (() => void)[] = [];
  arrived = 0;

  enter(): Promise<void> {
    this.arrived++;
    for (const notify of this.arrivals.splice(0)) notify();
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  async untilArrived(n: number): Promise<void> {
    while (this.arrived < n) await new Promise<void>((resolve) => this.arrivals.push(resolve));
  }

  open(): void {
    for (const release of this.waiting.splice(0)) release();
  }
}

let gate = new Gate();
/** What the late-write handler's transaction came to, once the gate let it continue. */
let lateWrite: Promise<string>;
let settleLateWrite: (outcome: string) => void;

@Public()
@Controller('v2/test-only')
class HeldZitadelController {
  constructor(private readonly tx: TransactionRunner) {}

  @Get('held')
  async held(): Promise<{ ok: boolean }> {
    await gate.enter();
    return { ok: true };
  }

  /** Waits at the gate, then tries to store an organisation named in the body. */
  @Post('late-write')
  @HttpCode(200)
  async write(@Body() body: { name: string }): Promise<{ ok: boolean }> {
    await gate.enter();
    try {
      await this.tx.run((em) =>
        em.insert(OrganizationEntity, {
          id: String(Date.now()),
          name: body.name,
          primaryDomain: `${body.name}.late.test`,
          state: 'ACTIVE',
          isDefault: false,
          createdAt: Date.now(),
        }),
      );
      settleLateWrite('committed');
    } catch (e) {
      settleLateWrite(`refused: ${e instanceof Error ? e.message : String(e)}`);
      throw e;
    }
    return { ok: true };
  }
}

@Public()
@UseApiFamily('email-challenge')
@Controller('internal/v1/mfa/test-only')
class HeldEmailController {
  @Get('held')
  async held(): Promise<{ ok: boolean }> {
    await gate.enter();
    return { ok: true };
  }
}

/** 503 in the ZITADEL format (gRPC UNAVAILABLE), with Retry-After and a request id. */
function expectZitadelUnavailable(res: request.Response): void {
  expect({ status: res.status, code: res.body.code }).toEqual({ status: 503, code: 14 });
  expect(typeof res.body.message).toBe('string');
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  expect(res.headers['x-request-id']).toMatch(/\S{8,}/);
}

/** 503 in the email-challenge format (INTERNAL_SERVER_ERROR) on this path, with Retry-After. */
function expectEmailUnavailable(res: request.Response, path: string): void {
  expectEmailError(res, 503, 'INTERNAL_SERVER_ERROR');
  expect(res.body.path).toBe(path);
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
}

/** Sends now (supertest is lazy) and hands back the answer's promise. */
const fire = (req: request.Test): Promise<request.Response> => req.then((r) => r);

const controllers = [HeldZitadelController, HeldEmailController];

describe('requests in flight are bounded (every database and adapter)', () => {
  let t: TestApp;

  beforeAll(async () => {
    gate = new Gate();
    t = await createTestApp({
      controllers,
      env: { MAX_IN_FLIGHT_REQUESTS: '2', REQUEST_TIMEOUT_MS: '60000' },
    });
  });
  afterAll(async () => {
    gate.open();
    await t?.close();
  });

  it('refuses excess requests at once with 503 + Retry-After, while /healthz and /readyz still answer', async () => {
    const held = [
      fire(t.http.get('/v2/test-only/held')),
      fire(t.http.get('/internal/v1/mfa/test-only/held')),
    ];
    await gate.untilArrived(2);

    const zitadel = await t.http.get('/v2/test-only/held').set('X-Request-Id', 'overload-zitadel-1');
    expectZitadelUnavailable(zitadel);
    expect(zitadel.headers['x-request-id']).toBe('overload-zitadel-1');
    const email = await t.http.get('/internal/v1/mfa/test-only/held');
    expectEmailUnavailable(email, '/internal/v1/mfa/test-only/held');
    // a real route, refused before it reaches authentication or the database
    expectZitadelUnavailable(
      await t.http.post('/v2/organizations').set(bearer(t.adminToken)).send({ name: 'nope' }),
    );

    // liveness and readiness are exempt
    expect((await t.http.get('/healthz')).status).toBe(200);
    expect((await t.http.get('/readyz')).status).toBe(200);
    expect(gate.arrived).toBe(2);

    gate.open();
    for (const res of await Promise.all(held)) expect(res.status).toBe(200);
    // the slots are free again
    expect(
      (
        await t.http
          .post('/v2/organizations')
          .set(bearer(t.adminToken))
          .send({ name: `after-${Date.now()}` })
      ).status,
    ).toBe(200);
  });
});

describe('the request deadline (every database and adapter)', () => {
  let t: TestApp;

  beforeAll(async () => {
    gate = new Gate();
    t = await createTestApp({ controllers, env: { REQUEST_TIMEOUT_MS: '100' } });
  });
  afterAll(async () => {
    gate.open();
    await t?.close();
  });

  it('answers a request that outlives REQUEST_TIMEOUT_MS with 503 in its family format', async () => {
    expectZitadelUnavailable(await t.http.get('/v2/test-only/held'));
    expectEmailUnavailable(
      await t.http.get('/internal/v1/mfa/test-only/held'),
      '/internal/v1/mfa/test-only/held',
    );
    gate.open();
  });

  it('lets work that continues after the 503 change nothing', async () => {
    gate = new Gate();
    lateWrite = new Promise((resolve) => (settleLateWrite = resolve));
    const name = `late${Date.now()}`;
    expectZitadelUnavailable(await t.http.post('/v2/test-only/late-write').send({ name }));
    gate.open();
    expect(await lateWrite).toMatch(/^refused/);
    const ds = t.app.get(DataSource);
    expect(await ds.getRepository(OrganizationEntity).countBy({ name })).toBe(0);
    // the refusal is no error of the service's
    expect(t.logs.filter((l) => l.includes('"unexpected error"'))).toEqual([]);
  });
});

if (E2E_DB === 'postgres') {
  describe('an unresponsive or unreachable PostgreSQL (through a proxy the test controls)', () => {
    let proxy: TcpProxy;
    let t: TestApp;
    let user: HumanFixture;
    const pg = new URL(PG_URL);

    beforeAll(async () => {
      proxy = await TcpProxy.start({ host: pg.hostname, port: Number(pg.port || 5432) });
      t = await createTestApp({
        env: {
          DATABASE_URL: proxy.rewrite(PG_URL),
          // every request looks its token up, so every request needs the database
          TOKEN_CACHE_SECONDS: '0',
          DATABASE_CONNECT_TIMEOUT_MS: '300',
          DATABASE_STATEMENT_TIMEOUT_MS: '300',
          REQUEST_TIMEOUT_MS: '1000',
        },
      });
      user = await createHuman(t, await createOrg(t));
    });
    afterAll(async () => {
      await proxy?.resume();
      await t?.close();
      await proxy?.close();
    });

    const getUser = () => t.http.get(`/v2/users/${user.userId}`).set(bearer(t.adminToken));
    const challengePath = '/internal/v1/mfa/totp-email/123456789';
    const getChallenge = () => t.http.get(challengePath).set(bearer(t.adminToken));

    it('answers 503 in each family format while the database does not answer, and 200 once it does again', async () => {
      expect((await getUser()).status).toBe(200);
      proxy.freeze();
      expectZitadelUnavailable(await getUser());
      expectEmailUnavailable(await getChallenge(), challengePath);
      expect((await t.http.get('/healthz')).status).toBe(200);
      expect((await t.http.get('/readyz')).status).toBe(503);
      await proxy.resume();
      expect((await getUser()).status).toBe(200);
    });

    it('answers 503 in each family format while the database is down, and 200 once it is back, without a restart', async () => {
      expect((await getUser()).status).toBe(200);
      await proxy.down();
      expectZitadelUnavailable(await getUser());
      expectEmailUnavailable(await getChallenge(), challengePath);
      // a write, too
      expectZitadelUnavailable(
        await t.http.post('/v2/organizations').set(bearer(t.adminToken)).send({ name: 'while-down' }),
      );
      await proxy.resume();
      expect((await getUser()).status).toBe(200);
      expect((await getChallenge()).status).toBe(404);
    });
  });

  describe('a full connection pool queue', () => {
    let proxy: TcpProxy;
    let t: TestApp;
    const pg = new URL(PG_URL);

    beforeAll(async () => {
      proxy = await TcpProxy.start({ host: pg.hostname, port: Number(pg.port || 5432) });
      t = await createTestApp({
        env: {
          DATABASE_URL: proxy.rewrite(PG_URL),
          TOKEN_CACHE_SECONDS: '0',
          DATABASE_POOL_SIZE: '1',
          DATABASE_POOL_MAX_WAITING: '1',
          // long bounds: only the queue may refuse here
          DATABASE_CONNECT_TIMEOUT_MS: '60000',
          DATABASE_STATEMENT_TIMEOUT_MS: '60000',
          REQUEST_TIMEOUT_MS: '60000',
        },
      });
    });
    afterAll(async () => {
      await proxy?.resume();
      await t?.close();
      await proxy?.close();
    });

    it('sheds load with a fast 503 instead of queueing without limit', async () => {
      const pool = (t.app.get(DataSource).driver as unknown as { master: Pool }).master;
      const orgId = await createOrg(t);
      // one token per request: requests with the same token would share one lookup
      const [a, b, c, d] = [
        await createHuman(t, orgId),
        await createHuman(t, orgId),
        await createHuman(t, orgId),
        await createHuman(t, orgId),
      ];
      const self = (u: HumanFixture) => t.http.get(`/v2/users/${u.userId}`).set(bearer(u.token));
      proxy.freeze();
      // the first request holds the only connection, the second waits for it
      const first = fire(self(a));
      const second = fire(self(b));
      while (pool.waitingCount < 1) await new Promise((resolve) => setImmediate(resolve));

      expectZitadelUnavailable(await self(c));
      const path = '/internal/v1/mfa/totp-email/1';
      expectEmailUnavailable(await t.http.get(path).set(bearer(d.token)), path);

      await proxy.resume();
      expect((await first).status).toBe(200);
      expect((await second).status).toBe(200);
      expect((await self(c)).status).toBe(200);
    });
  });
}
