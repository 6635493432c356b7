import * as fs from 'node:fs';
import { DataSource } from 'typeorm';
import { rawQuery } from '../src/common/database/db-dialect';
import { TOKEN_INVALID, zitadelError } from './helpers/error-bodies';
import {
  createHuman,
  createMachine,
  createOrg,
  createPat,
  grantInstanceRoles,
  grantOrgRoles,
} from './helpers/factories';
import { CHANGE_DETAILS, count, CREATE_DETAILS } from './helpers/identity';
import { bearer, createTestApp, TestApp } from './helpers/test-app';

/**
 * Identity life cycle: the bootstrap admin, organisations and users in the ZITADEL shape, personal
 * access tokens, deactivating, locking and deleting users. Validation is in identity-validation, roles
 * and who may do what in identity-permissions.
 */
describe('identity: bootstrap', () => {
  let first: TestApp;
  let second: TestApp | undefined;
  beforeAll(async () => {
    first = await createTestApp();
  });
  afterAll(async () => {
    await second?.close();
    await first.close();
  });

  it('writes the admin PAT on first start with mode 0600 and announces only its path', async () => {
    const file = first.config.auth.bootstrapPatPath;
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const token = fs.readFileSync(file, 'utf8').trim();
    expect(token).toMatch(/^mfa_[A-Za-z0-9_-]{43}$/);
    expect(token).toBe(first.adminToken);
    const announce = first.logs.filter((l) => l.includes('"context":"Bootstrap"'));
    expect(announce).toHaveLength(1);
    expect(announce[0]).toContain(file);
    expect(first.logs.filter((l) => l.includes(token))).toEqual([]);
    expect(fs.readdirSync(first.config.dataDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('the bootstrap token is an IAM_OWNER of a machine user "admin" in the default organisation', async () => {
    await first.http
      .post('/v2/organizations')
      .set(bearer(first.adminToken))
      .send({ name: 'Bootstrap Check' })
      .expect(200);
    const { rows } = await rawQuery<{
      id: string;
      username: string;
      type: string;
      name: string;
      roles: string;
    }>(
      first.app.get(DataSource),
      `SELECT u.id, u.username, u.type, o.name, m.roles FROM users u JOIN organizations o ON o.id = u.org_id
         JOIN memberships m ON m.user_id = u.id WHERE m.scope = 'INSTANCE'`,
    );
    expect(rows).toEqual([
      { id: expect.any(String), username: 'admin', type: 'machine', name: 'Default', roles: 'IAM_OWNER' },
    ]);
    const me = await first.http.get(`/v2/users/${rows[0].id}`).set(bearer(first.adminToken)).expect(200);
    expect(me.body.user).toEqual({
      userId: rows[0].id,
      state: 'USER_STATE_ACTIVE',
      username: 'admin',
      loginNames: ['admin@default.localhost'],
      machine: { name: 'Administrator' },
    });
  });

  it('does not bootstrap again on a second start against the same database', async () => {
    second = await createTestApp({ shareDbWith: first });
    expect(fs.existsSync(second.config.auth.bootstrapPatPath)).toBe(false);
    expect(second.logs.filter((l) => l.includes('"context":"Bootstrap"'))).toEqual([]);
    await second.http
      .post('/v2/organizations')
      .set(bearer(first.adminToken))
      .send({ name: 'Second Start' })
      .expect(200);
    expect(await count(second, `SELECT COUNT(*) AS n FROM organizations WHERE is_default = $1`, [true])).toBe(
      1,
    );
    expect(await count(second, `SELECT COUNT(*) AS n FROM users WHERE username = 'admin'`, [])).toBe(1);
    expect(await count(second, `SELECT COUNT(*) AS n FROM personal_access_tokens`, [])).toBe(1);
  });
});

describe('identity: organisations, users and tokens through HTTP', () => {
  let t: TestApp;
  const tokens: string[] = [];
  beforeAll(async () => {
    t = await createTestApp();
    tokens.push(t.adminToken);
  });
  afterAll(async () => t.close());

  const admin = () => bearer(t.adminToken);

  it('creates organisations; names are unique, their domains are disambiguated', async () => {
    const res = await t.http.post('/v2/organizations').set(admin()).send({ name: 'ACME Corp' }).expect(200);
    expect(res.body).toEqual({ organizationId: expect.stringMatching(/^\d{18}$/), details: CREATE_DETAILS });
    expect(res.body.details.resourceOwner).toBe(res.body.organizationId);
    const dup = await t.http.post('/v2/organizations').set(admin()).send({ name: 'acme corp' });
    expect(dup.status).toBe(409);
    expect(dup.body).toEqual(zitadelError(6, 'COMMAND-8ugTs', 'Organisation already exists'));
    // Different names with the same slug both get an organisation with a distinct domain.
    const a = await createOrg(t, '東京');
    const b = await createOrg(t, '大阪');
    const ua = await createMachine(t, a, 'svc');
    const ub = await createMachine(t, b, 'svc');
    const ga = await t.http.get(`/v2/users/${ua.userId}`).set(admin()).expect(200);
    const gb = await t.http.get(`/v2/users/${ub.userId}`).set(admin()).expect(200);
    expect(ga.body.user.loginNames).toEqual(['svc@org.localhost']);
    expect(gb.body.user.loginNames).toEqual([expect.stringMatching(/^svc@org-\d{6}\.localhost$/)]);
  });

  it('creates human and machine users and reads them in the ZITADEL shape, empty fields omitted', async () => {
    const org = await createOrg(t, 'Shapes Inc');
    const full = await t.http
      .post('/v2/users/human')
      .set(admin())
      .send({
        organization: { orgId: org },
        username: 'minnie',
        profile: { givenName: 'Minnie', familyName: 'Mouse', preferredLanguage: 'en' },
        email: { email: 'minnie@example.com', isVerified: true },
        phone: { phone: '+41791234567', isVerified: true },
      })
      .expect(200);
    expect(full.body).toEqual({
      userId: expect.stringMatching(/^\d{18}$/),
      details: { ...CREATE_DETAILS, resourceOwner: org },
    });
    const bare = await t.http
      .post('/v2/users/human')
      .set(admin())
      .send({
        organization: { orgId: org },
        username: 'mickey',
        profile: { givenName: 'Mickey', familyName: 'Mouse' },
        email: { email: 'mickey@example.com' },
        unknownField: 1,
      })
      .expect(200);
    const machine = await t.http
      .post('/v2/users/machine')
      .set(admin())
      .send({ organization: { orgId: org }, username: 'billing', name: 'Billing service' })
      .expect(200);

    const g1 = await t.http.get(`/v2/users/${full.body.userId}`).set(admin()).expect(200);
    expect(g1.body).toEqual({
      details: { ...CREATE_DETAILS, resourceOwner: org },
      user: {
        userId: full.body.userId,
        state: 'USER_STATE_ACTIVE',
        username: 'minnie',
        loginNames: ['minnie@shapes-inc.localhost'],
        human: {
          profile: { givenName: 'Minnie', familyName: 'Mouse', preferredLanguage: 'en' },
          email: { email: 'minnie@example.com', isVerified: true },
          phone: { phone: '+41791234567', isVerified: true },
        },
      },
    });
    const g2 = await t.http.get(`/v2/users/${bare.body.userId}`).set(admin()).expect(200);
    expect(g2.body.user).toEqual({
      userId: bare.body.userId,
      state: 'USER_STATE_ACTIVE',
      username: 'mickey',
      loginNames: ['mickey@shapes-inc.localhost'],
      human: {
        profile: { givenName: 'Mickey', familyName: 'Mouse' },
        email: { email: 'mickey@example.com' },
      },
    });
    const g3 = await t.http.get(`/v2/users/${machine.body.userId}`).set(admin()).expect(200);
    expect(g3.body.user).toEqual({
      userId: machine.body.userId,
      state: 'USER_STATE_ACTIVE',
      username: 'billing',
      loginNames: ['billing@shapes-inc.localhost'],
      machine: { name: 'Billing service' },
    });
  });

  it('keeps usernames unique per organisation (409), not across organisations', async () => {
    const org = await createOrg(t);
    const other = await createOrg(t);
    await createHuman(t, org, { username: 'donald' });
    const body = {
      organization: { orgId: org },
      username: 'donald',
      profile: { givenName: 'D', familyName: 'D' },
      email: { email: 'd@example.com' },
    };
    const dup = await t.http.post('/v2/users/human').set(admin()).send(body);
    expect(dup.status).toBe(409);
    expect(dup.body).toEqual(zitadelError(6, 'COMMAND-k2unb', 'User already exists'));
    const dupMachine = await t.http
      .post('/v2/users/machine')
      .set(admin())
      .send({ organization: { orgId: org }, username: 'donald', name: 'x' });
    expect(dupMachine.status).toBe(409);
    await t.http
      .post('/v2/users/human')
      .set(admin())
      .send({ ...body, organization: { orgId: other } })
      .expect(200);
  });

  it('a removed user is unknown to an organisation owner who looked it up before (no stale organisation)', async () => {
    const org = await createOrg(t);
    const owner = await createHuman(t, org);
    await grantOrgRoles(t, org, owner.userId, ['ORG_OWNER']);
    const user = await createHuman(t, org);
    await t.http.get(`/v2/users/${user.userId}`).set(bearer(owner.token)).expect(200);
    await t.http.delete(`/v2/users/${user.userId}`).set(admin()).expect(200);
    const res = await t.http.get(`/v2/users/${user.userId}`).set(bearer(owner.token));
    expect(res.status).toBe(403);
    expect(res.body.message).toBe('No matching permissions found (AUTH-AWfge)');
  });

  it('issues PATs with and without expiry, shows them once, and revocation works at once', async () => {
    const org = await createOrg(t);
    const user = await createMachine(t, org);
    tokens.push(user.token);
    const forever = await t.http.post(`/v2/users/${user.userId}/pats`).set(admin()).send({}).expect(200);
    expect(forever.body).toEqual({
      details: { ...CREATE_DETAILS, resourceOwner: org },
      tokenId: expect.stringMatching(/^\d{18}$/),
      token: expect.stringMatching(/^mfa_[A-Za-z0-9_-]{43}$/),
    });
    const expiry = new Date(t.clock.now() + 3_600_000).toISOString();
    const hour = await t.http
      .post(`/v2/users/${user.userId}/pats`)
      .set(admin())
      .send({ expirationDate: expiry })
      .expect(200);
    tokens.push(forever.body.token, hour.body.token);
    const self = () => t.http.get(`/v2/users/${user.userId}`);

    await self().set(bearer(forever.body.token)).expect(200);
    await self().set(bearer(hour.body.token)).expect(200);
    // Only the hash is stored.
    expect(
      await count(
        t,
        `SELECT COUNT(*) AS n FROM personal_access_tokens WHERE token_hash = $1 OR token_hash = $2`,
        [forever.body.token, hour.body.token],
      ),
    ).toBe(0);

    // A user revokes its own token; the revoked token fails on the very next request (it was cached).
    const del = await t.http
      .delete(`/v2/users/${user.userId}/pats/${forever.body.tokenId}`)
      .set(bearer(user.token))
      .expect(200);
    expect(del.body).toEqual({ details: { ...CHANGE_DETAILS, resourceOwner: org } });
    const after = await self().set(bearer(forever.body.token));
    expect(after.status).toBe(401);
    expect(after.body).toEqual(TOKEN_INVALID);
    expect(after.headers['www-authenticate']).toBe('Bearer');
    await t.http.delete(`/v2/users/${user.userId}/pats/${forever.body.tokenId}`).set(admin()).expect(404);
    // A token id of another user is not found under this user.
    const otherUser = await createMachine(t, org);
    tokens.push(otherUser.token);
    const otherPat = await t.http
      .post(`/v2/users/${otherUser.userId}/pats`)
      .set(admin())
      .send({})
      .expect(200);
    tokens.push(otherPat.body.token);
    await t.http.delete(`/v2/users/${user.userId}/pats/${otherPat.body.tokenId}`).set(admin()).expect(404);
    await t.http.get(`/v2/users/${otherUser.userId}`).set(bearer(otherPat.body.token)).expect(200);

    // The expiring token dies with its expiry, even while cached.
    t.clock.advance(3_600_000 - 1_000);
    await self().set(bearer(hour.body.token)).expect(200);
    t.clock.advance(2_000);
    expect((await self().set(bearer(hour.body.token))).body).toEqual(TOKEN_INVALID);
    await self().set(bearer(user.token)).expect(200);
  });

  it('deactivates, locks and reactivates users: tokens of a user that is not active are refused at once', async () => {
    const org = await createOrg(t);
    const user = await createHuman(t, org);
    tokens.push(user.token);
    const me = () => t.http.get(`/v2/users/${user.userId}`).set(bearer(user.token));
    const state = async () => (await t.http.get(`/v2/users/${user.userId}`).set(admin())).body.user.state;
    const act = (a: string) => t.http.post(`/v2/users/${user.userId}/${a}`).set(admin()).send({});

    await me().expect(200);
    expect((await act('lock')).body).toEqual({ details: { ...CHANGE_DETAILS, resourceOwner: org } });
    expect(await state()).toBe('USER_STATE_LOCKED');
    expect((await me()).body).toEqual(TOKEN_INVALID);
    expect((await act('lock')).status).toBe(400);
    await act('unlock').expect(200);
    await me().expect(200);
    await act('deactivate').expect(200);
    expect(await state()).toBe('USER_STATE_INACTIVE');
    expect((await me()).body).toEqual(TOKEN_INVALID);
    const again = await act('deactivate');
    expect(again.body).toEqual(zitadelError(9, 'IDENTITY-st01', 'User is already deactivated'));
    expect((await act('unlock')).status).toBe(400);
    await act('reactivate').expect(200);
    await me().expect(200);
    expect((await t.http.post('/v2/users/199999999999999999/lock').set(admin()).send({})).status).toBe(404);
  });

  it('deleting a user stops its tokens at once and removes its memberships', async () => {
    const org = await createOrg(t);
    const user = await createHuman(t, org);
    const second = await createPat(t, user.userId);
    tokens.push(user.token, second);
    await grantOrgRoles(t, org, user.userId, ['ORG_USER_MANAGER']);
    await grantInstanceRoles(t, user.userId, ['IAM_USER_MANAGER']);
    await t.http.get(`/v2/users/${user.userId}`).set(bearer(user.token)).expect(200);
    const memberships = () =>
      count(t, `SELECT COUNT(*) AS n FROM memberships WHERE user_id = $1`, [user.userId]);
    expect(await memberships()).toBe(2);

    const del = await t.http.delete(`/v2/users/${user.userId}`).set(admin()).expect(200);
    expect(del.body).toEqual({ details: { ...CHANGE_DETAILS, resourceOwner: org } });
    expect((await t.http.get(`/v2/users/${user.userId}`).set(bearer(user.token))).body).toEqual(
      TOKEN_INVALID,
    );
    expect((await t.http.get(`/v2/users/${user.userId}`).set(bearer(second))).body).toEqual(TOKEN_INVALID);
    expect(await memberships()).toBe(0);
    expect(
      await count(t, `SELECT COUNT(*) AS n FROM personal_access_tokens WHERE user_id = $1`, [user.userId]),
    ).toBe(0);
    const gone = await t.http.get(`/v2/users/${user.userId}`).set(admin());
    expect(gone.status).toBe(404);
    expect((await t.http.delete(`/v2/users/${user.userId}`).set(admin())).status).toBe(404);
    // The username is free again.
    await createHuman(t, org, { username: user.username });
  });

  it('writes no token into any log line', () => {
    expect(tokens.length).toBeGreaterThan(5);
    for (const token of tokens) expect(t.logs.filter((l) => l.includes(token))).toEqual([]);
  });
});
