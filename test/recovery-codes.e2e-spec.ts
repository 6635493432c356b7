import { DataSource } from 'typeorm';
import { createHuman, createMachine, createOrg, grantOrgRoles, HumanFixture } from './helpers/factories';
import { detailsWithId } from './helpers/error-bodies';
import { bearer, createTestApp, TestApp } from './helpers/test-app';

const MAX_ATTEMPTS = 5;
const LOCKOUT_S = 300;

/** Recovery codes: generate (shown once), use once each (also under concurrency), attempt limit, remove. */
describe('recovery codes (v2 User Service)', () => {
  let t: TestApp;
  let orgId: string;
  let owner: HumanFixture;
  let stranger: { userId: string; token: string };

  beforeAll(async () => {
    t = await createTestApp({
      env: { OTP_MAX_ATTEMPTS: String(MAX_ATTEMPTS), OTP_LOCKOUT_SECONDS: String(LOCKOUT_S) },
    });
    orgId = await createOrg(t);
    owner = await createHuman(t, orgId);
    await grantOrgRoles(t, orgId, owner.userId, ['ORG_OWNER']);
    stranger = await createMachine(t, orgId);
  });
  afterAll(async () => t?.close());

  const base = (userId: string) => `/v2/users/${userId}/recovery_codes`;
  const generate = (token: string, userId: string, body: object = {}) =>
    t.http.post(base(userId)).set(bearer(token)).send(body);
  const check = (token: string, userId: string, code: string) =>
    t.http
      .post(`${base(userId)}/_check`)
      .set(bearer(token))
      .send({ code });
  const events = async (userId: string) => {
    const rows: { event_type: string; payload: string | null }[] = await t.app
      .get(DataSource)
      .query(
        t.db === 'postgres'
          ? 'SELECT event_type, payload FROM events WHERE aggregate_id = $1 ORDER BY sequence'
          : 'SELECT event_type, payload FROM events WHERE aggregate_id = ? ORDER BY sequence',
        [userId],
      );
    return rows.filter((r) => r.event_type.startsWith('user.human.recoverycode'));
  };
  const wrongCode = 'ZZZZZ-ZZZZZ';

  it('generates 10 grouped codes by default, stores only keyed hashes, and each works once', async () => {
    const user = await createHuman(t, orgId);
    const res = await generate(user.token, user.userId);
    expect(res.status).toBe(200);
    expect(res.body.details).toEqual({
      sequence: expect.stringMatching(/^\d+$/),
      changeDate: new Date(t.clock.now()).toISOString(),
      resourceOwner: orgId,
    });
    const codes = res.body.recoveryCodes as string[];
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const c of codes) expect(c).toMatch(/^[2-9A-HJ-NP-Z]{5}-[2-9A-HJ-NP-Z]{5}$/);

    // At rest: no code, in any form, in the table or the event log.
    const ds = t.app.get(DataSource);
    const stored = JSON.stringify(await ds.query('SELECT * FROM recovery_codes'));
    const log = JSON.stringify(await ds.query('SELECT * FROM events'));
    for (const c of codes) {
      for (const form of [c, c.replace('-', '')]) {
        expect(stored).not.toContain(form);
        expect(log).not.toContain(form);
        expect(t.logs.join('\n')).not.toContain(form);
      }
    }

    // Typed in lower case with spaces: still the code.
    const used = await check(user.token, user.userId, ` ${codes[0].toLowerCase().replace('-', ' ')} `);
    expect(used.status).toBe(200);
    expect(used.body.remaining).toBe(9);
    expect(used.body.details.resourceOwner).toBe(orgId);
    const again = await check(user.token, user.userId, codes[0]);
    expect(again.status).toBe(400);
    expect(again.body.details).toEqual(detailsWithId('RECOVERY-1nv4ld'));
    expect((await check(user.token, user.userId, codes[1])).body.remaining).toBe(8);

    expect((await events(user.userId)).map((e) => [e.event_type, JSON.parse(e.payload ?? 'null')])).toEqual([
      ['user.human.recoverycodes.added', { count: 10 }],
      ['user.human.recoverycode.check.succeeded', { remaining: 9 }],
      ['user.human.recoverycode.check.failed', {}],
      ['user.human.recoverycode.check.succeeded', { remaining: 8 }],
    ]);
  });

  it('generates without any request body, as ZITADEL clients send it', async () => {
    const user = await createHuman(t, orgId);
    const res = await t.http.post(base(user.userId)).set(bearer(user.token));
    expect(res.status).toBe(200);
    expect(res.body.recoveryCodes).toHaveLength(10);
  });

  it('20 parallel uses of one code: exactly one succeeds', async () => {
    const user = await createHuman(t, orgId);
    const codes = (await generate(user.token, user.userId, { count: 3 })).body.recoveryCodes as string[];
    expect(codes).toHaveLength(3);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => check(user.token, user.userId, codes[0])),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.every((s) => s === 200 || s === 400 || s === 429)).toBe(true);
    expect(results.find((r) => r.status === 200)!.body.remaining).toBe(2);
    const succeeded = (await events(user.userId)).filter(
      (e) => e.event_type === 'user.human.recoverycode.check.succeeded',
    );
    expect(succeeded).toHaveLength(1);
  });

  it('regenerating replaces the whole set; the count is configurable and bounded', async () => {
    const user = await createHuman(t, orgId);
    const first = (await generate(user.token, user.userId)).body.recoveryCodes as string[];
    const second = await generate(owner.token, user.userId, { count: 4 });
    expect(second.status).toBe(200);
    expect(second.body.recoveryCodes).toHaveLength(4);
    expect((await check(user.token, user.userId, first[0])).status).toBe(400);
    expect((await check(user.token, user.userId, second.body.recoveryCodes[0])).body.remaining).toBe(3);
    for (const count of [0, 51, 'ten']) {
      const bad = await generate(user.token, user.userId, { count });
      expect(bad.status).toBe(400);
      expect(bad.body.code).toBe(3);
    }
  });

  it('OTP_MAX_ATTEMPTS wrong codes lock checks until the window ends (429, Retry-After), right codes included', async () => {
    const user = await createHuman(t, orgId);
    const codes = (await generate(user.token, user.userId)).body.recoveryCodes as string[];
    for (let i = 0; i < MAX_ATTEMPTS; i++)
      expect((await check(user.token, user.userId, wrongCode)).status).toBe(400);
    const locked = await check(user.token, user.userId, codes[0]);
    expect(locked.status).toBe(429);
    expect(locked.body.details).toEqual(detailsWithId('RECOVERY-l0ck3d'));
    expect(Number(locked.headers['retry-after'])).toBe(LOCKOUT_S);
    expect((await events(user.userId)).filter((e) => e.event_type.endsWith('.locked'))).toHaveLength(1);
    t.clock.advance(LOCKOUT_S * 1000 + 1);
    const after = await check(user.token, user.userId, codes[0]);
    expect(after.status).toBe(200);
    expect(after.body.remaining).toBe(9);
  });

  it('remove: the set is gone (404 afterwards), and only ready sets are listed', async () => {
    const user = await createHuman(t, orgId);
    const list = async () =>
      (await t.http.get(`/v2/users/${user.userId}/authentication_methods`).set(bearer(user.token))).body
        .authMethodTypes as string[];
    expect(await list()).toEqual([]);
    const codes = (await generate(user.token, user.userId, { count: 1 })).body.recoveryCodes as string[];
    expect(await list()).toEqual(['AUTHENTICATION_METHOD_TYPE_RECOVERY_CODE']);
    expect((await check(user.token, user.userId, codes[0])).body.remaining).toBe(0);
    // No unused code left: not a usable factor any more.
    expect(await list()).toEqual([]);
    await generate(user.token, user.userId).expect(200);
    const removed = await t.http.delete(base(user.userId)).set(bearer(owner.token));
    expect(removed.status).toBe(200);
    expect(await list()).toEqual([]);
    const again = await t.http.delete(base(user.userId)).set(bearer(owner.token));
    expect(again.status).toBe(404);
    expect(again.body.details).toEqual(detailsWithId('RECOVERY-n0tfnd'));
    expect((await check(user.token, user.userId, codes[0])).status).toBe(404);
    expect((await events(user.userId)).map((e) => e.event_type)).toContain(
      'user.human.recoverycodes.removed',
    );
  });

  it('a check with no codes to check: 404 for the user without a set, the user not found for an unknown or machine user; nothing written', async () => {
    const user = await createHuman(t, orgId);
    const ds = t.app.get(DataSource);
    const rows = async () =>
      Number(
        (
          await ds.query(
            'SELECT (SELECT COUNT(*) FROM events) + (SELECT COUNT(*) FROM recovery_code_sets) AS n',
          )
        )[0].n,
      );
    const before = await rows();
    const none = await check(user.token, user.userId, wrongCode);
    expect(none.status).toBe(404);
    expect(none.body.details).toEqual(detailsWithId('RECOVERY-n0tfnd'));
    for (const userId of [stranger.userId, '999999999999999999']) {
      const missing = await check(t.adminToken, userId, wrongCode);
      expect(missing.status).toBe(404);
      expect(missing.body.details).toEqual(detailsWithId('COMMAND-bx2OLtgGNS'));
    }
    expect(await rows()).toBe(before);
  });

  it('permissions: a stranger gets 403, another user too; unauthenticated 401', async () => {
    const user = await createHuman(t, orgId);
    const other = await createHuman(t, orgId);
    for (const token of [stranger.token, other.token]) {
      expect((await generate(token, user.userId)).status).toBe(403);
      expect((await check(token, user.userId, wrongCode)).status).toBe(403);
      expect((await t.http.delete(base(user.userId)).set(bearer(token))).status).toBe(403);
      expect(
        (await t.http.get(`/v2/users/${user.userId}/authentication_methods`).set(bearer(token))).status,
      ).toBe(403);
    }
    expect((await t.http.post(base(user.userId)).send({})).status).toBe(401);
  });
});
