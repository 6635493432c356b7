import * as fs from 'node:fs';
import { DataSource } from 'typeorm';
import { rawQuery } from '../src/common/database/db-dialect';
import {
  createHuman,
  createMachine,
  createOrg,
  createPat,
  grantInstanceRoles,
  grantOrgRoles,
} from './helpers/factories';
import { bearer, createTestApp, TestApp } from './helpers/test-app';

const detail = (id: string, message: string) => [
  { '@type': 'type.googleapis.com/zitadel.v1.ErrorDetail', id, message },
];
const TOKEN_INVALID = {
  code: 16,
  message: 'Token is invalid (AUTH-7fs1e)',
  details: detail('AUTH-7fs1e', 'Token is invalid'),
};
const DENIED = {
  code: 7,
  message: 'No matching permissions found (AUTH-AWfge)',
  details: detail('AUTH-AWfge', 'No matching permissions found'),
};
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const CHANGE_DETAILS = {
  sequence: expect.stringMatching(/^\d+$/),
  changeDate: expect.stringMatching(ISO),
  resourceOwner: expect.stringMatching(/^\d{18}$/),
};
const CREATE_DETAILS = { ...CHANGE_DETAILS, creationDate: expect.stringMatching(ISO) };

async function count(t: TestApp, sql: string, params: unknown[]): Promise<number> {
  const { rows } = await rawQuery<{ n: number | string }>(t.app.get(DataSource), sql, params);
  return Number(rows[0].n);
}

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

describe('identity: administration through HTTP', () => {
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
    expect(dup.body).toEqual({
      code: 6,
      message: 'Organisation already exists (COMMAND-8ugTs)',
      details: detail('COMMAND-8ugTs', 'Organisation already exists'),
    });
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
    expect(dup.body).toEqual({
      code: 6,
      message: 'User already exists (COMMAND-k2unb)',
      details: detail('COMMAND-k2unb', 'User already exists'),
    });
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

  describe('validation: clear 4xx in the ZITADEL format, never a 500', () => {
    let org: string;
    const human = () => ({
      organization: { orgId: org },
      username: 'valid-user',
      profile: { givenName: 'G', familyName: 'F' },
      email: { email: 'v@example.com' },
    });
    beforeAll(async () => {
      org = await createOrg(t);
    });
    const cases: [string, string, () => unknown, number, string][] = [
      [
        'username of the wrong type',
        '/v2/users/human',
        () => ({ ...human(), username: 123 }),
        400,
        'invalid AddHumanUserRequest.Username: value must be a string',
      ],
      [
        'over-long username',
        '/v2/users/human',
        () => ({ ...human(), username: 'u'.repeat(201) }),
        400,
        'invalid AddHumanUserRequest.Username: value length must be between 1 and 200 runes, inclusive',
      ],
      [
        'username with white space',
        '/v2/users/human',
        () => ({ ...human(), username: 'a b' }),
        400,
        'invalid AddHumanUserRequest.Username: value must not contain white space',
      ],
      [
        'missing username',
        '/v2/users/human',
        () => ({ ...human(), username: undefined }),
        400,
        'invalid AddHumanUserRequest.Username: value length must be between 1 and 200 runes, inclusive',
      ],
      [
        'bad email',
        '/v2/users/human',
        () => ({ ...human(), email: { email: 'not-an-email' } }),
        400,
        'invalid AddHumanUserRequest.Email.Email: value must be a valid email address',
      ],
      [
        'email as a string',
        '/v2/users/human',
        () => ({ ...human(), email: 'v@example.com' }),
        400,
        'invalid AddHumanUserRequest.Email: value must be an object',
      ],
      [
        'over-long email',
        '/v2/users/human',
        () => ({ ...human(), email: { email: `${'e'.repeat(195)}@x.com` } }),
        400,
        'invalid AddHumanUserRequest.Email.Email: value length must be between 1 and 200 runes, inclusive',
      ],
      [
        'isVerified not a boolean',
        '/v2/users/human',
        () => ({ ...human(), email: { email: 'v@example.com', isVerified: 'yes' } }),
        400,
        'invalid AddHumanUserRequest.Email.IsVerified: value must be a boolean',
      ],
      [
        'phone not in E.164',
        '/v2/users/human',
        () => ({ ...human(), phone: { phone: '079 123 45 67' } }),
        400,
        'invalid AddHumanUserRequest.Phone.Phone: value must be a phone number in E.164 format',
      ],
      [
        'phone as a number',
        '/v2/users/human',
        () => ({ ...human(), phone: { phone: 41791234567 } }),
        400,
        'invalid AddHumanUserRequest.Phone.Phone: value must be a string',
      ],
      [
        'over-long given name',
        '/v2/users/human',
        () => ({ ...human(), profile: { givenName: 'g'.repeat(201), familyName: 'F' } }),
        400,
        'invalid AddHumanUserRequest.Profile.GivenName: value length must be between 1 and 200 runes, inclusive',
      ],
      [
        'bad preferred language',
        '/v2/users/human',
        () => ({ ...human(), profile: { givenName: 'G', familyName: 'F', preferredLanguage: 'English!' } }),
        400,
        'invalid AddHumanUserRequest.Profile.PreferredLanguage: value must be a BCP 47 language tag',
      ],
      [
        'missing profile',
        '/v2/users/human',
        () => ({ ...human(), profile: undefined }),
        400,
        'invalid AddHumanUserRequest.Profile: value must be an object',
      ],
      [
        'organization as a string',
        '/v2/users/human',
        () => ({ ...human(), organization: 'x' }),
        400,
        'invalid AddHumanUserRequest.Organization: value must be an object',
      ],
      [
        'body is a list',
        '/v2/users/human',
        () => [1, 2],
        400,
        'invalid AddHumanUserRequest: request body must be a JSON object',
      ],
      [
        'machine name empty',
        '/v2/users/machine',
        () => ({ organization: { orgId: org }, username: 'm', name: '' }),
        400,
        'invalid AddMachineUserRequest.Name: value length must be between 1 and 200 runes, inclusive',
      ],
      [
        'org name over-long',
        '/v2/organizations',
        () => ({ name: 'n'.repeat(201) }),
        400,
        'invalid CreateOrganizationRequest.Name: value length must be between 1 and 200 runes, inclusive',
      ],
      [
        'org name of the wrong type',
        '/v2/organizations',
        () => ({ name: ['x'] }),
        400,
        'invalid CreateOrganizationRequest.Name: value must be a string',
      ],
      [
        'unknown organisation',
        '/v2/users/human',
        () => ({ ...human(), organization: { orgId: '199999999999999999' } }),
        404,
        'Organisation not found (COMMAND-55M9f)',
      ],
      [
        'malformed organisation id',
        '/v2/users/machine',
        () => ({ organization: { orgId: 'abc' }, username: 'm', name: 'm' }),
        404,
        'Organisation not found (COMMAND-55M9f)',
      ],
    ];
    it.each(cases)('%s', async (_name, url, body, status, message) => {
      const res = await t.http
        .post(url)
        .set(admin())
        .send(body() as object);
      expect({ status: res.status, message: res.body.message }).toEqual({ status, message });
      expect(res.body.code).toBe(status === 404 ? 5 : 3);
    });

    it('validates PAT expiry dates and member roles', async () => {
      const u = await createHuman(t, org);
      tokens.push(u.token);
      const pat = (expirationDate: unknown) =>
        t.http.post(`/v2/users/${u.userId}/pats`).set(admin()).send({ expirationDate });
      expect((await pat('tomorrow')).body.message).toBe(
        'invalid AddPersonalAccessTokenRequest.ExpirationDate: value must be an RFC 3339 timestamp',
      );
      expect((await pat(5)).body.message).toBe(
        'invalid AddPersonalAccessTokenRequest.ExpirationDate: value must be a string',
      );
      const past = await pat(new Date(t.clock.now() - 1000).toISOString());
      expect(past.status).toBe(400);
      expect(past.body.message).toBe('Expiration date must be in the future (COMMAND-dv3t5)');
      const member = (roles: unknown) =>
        t.http.put(`/v2/organizations/${org}/members/${u.userId}`).set(admin()).send({ roles });
      expect((await member('ORG_OWNER')).body.message).toBe(
        'invalid SetOrgMemberRequest.Roles: value must be a list',
      );
      expect((await member([])).body.message).toBe(
        'invalid SetOrgMemberRequest.Roles: value must contain between 1 and 10 item(s)',
      );
      expect((await member(['IAM_OWNER'])).body.message).toBe(
        'invalid SetOrgMemberRequest.Roles: value must be in list [ORG_OWNER, ORG_USER_MANAGER]',
      );
      const inst = await t.http
        .put(`/v2/instance/members/${u.userId}`)
        .set(admin())
        .send({ roles: ['ORG_OWNER'] });
      expect(inst.body.message).toBe(
        'invalid SetInstanceMemberRequest.Roles: value must be in list [IAM_OWNER, IAM_USER_MANAGER, MFA_CHALLENGE_ISSUER]',
      );
      const unknownOrg = await t.http
        .put(`/v2/organizations/199999999999999999/members/${u.userId}`)
        .set(admin())
        .send({ roles: ['ORG_OWNER'] });
      expect(unknownOrg.status).toBe(404);
      const unknownUser = await t.http
        .put(`/v2/organizations/${org}/members/199999999999999999`)
        .set(admin())
        .send({ roles: ['ORG_OWNER'] });
      expect(unknownUser.status).toBe(404);
    });
  });

  it('grants organisation and instance roles; changes apply at once (cache invalidated)', async () => {
    const org = await createOrg(t);
    const other = await createOrg(t);
    const someone = await createHuman(t, other);
    const manager = await createHuman(t, org);
    tokens.push(someone.token, manager.token);
    const read = () => t.http.get(`/v2/users/${someone.userId}`).set(bearer(manager.token));

    expect((await read()).status).toBe(403); // cached as "no roles"
    await grantOrgRoles(t, other, manager.userId, ['ORG_USER_MANAGER']);
    expect((await read()).status).toBe(200);
    const changed = await t.http
      .put(`/v2/organizations/${other}/members/${manager.userId}`)
      .set(admin())
      .send({ roles: ['ORG_OWNER'] });
    expect(changed.body).toEqual({ details: { ...CHANGE_DETAILS, resourceOwner: other } });
    await t.http.delete(`/v2/organizations/${other}/members/${manager.userId}`).set(admin()).expect(200);
    expect((await read()).status).toBe(403);
    await t.http.delete(`/v2/organizations/${other}/members/${manager.userId}`).set(admin()).expect(404);

    await grantInstanceRoles(t, manager.userId, ['IAM_USER_MANAGER']);
    expect((await read()).status).toBe(200);
    // IAM_USER_MANAGER may not create organisations or grant roles.
    expect(
      (await t.http.post('/v2/organizations').set(bearer(manager.token)).send({ name: 'nope' })).body,
    ).toEqual(DENIED);
    expect(
      (
        await t.http
          .put(`/v2/instance/members/${manager.userId}`)
          .set(bearer(manager.token))
          .send({ roles: ['IAM_OWNER'] })
      ).status,
    ).toBe(403);
    await t.http.delete(`/v2/instance/members/${manager.userId}`).set(admin()).expect(200);
    expect((await read()).status).toBe(403);
  });

  it('lets an ORG_OWNER manage its own organisation, and only that one', async () => {
    const org = await createOrg(t);
    const other = await createOrg(t);
    const owner = await createHuman(t, org);
    tokens.push(owner.token);
    await grantOrgRoles(t, org, owner.userId, ['ORG_OWNER']);
    const as = bearer(owner.token);
    const created = await t.http
      .post('/v2/users/machine')
      .set(as)
      .send({ organization: { orgId: org }, username: 'svc', name: 'svc' })
      .expect(200);
    await t.http
      .put(`/v2/organizations/${org}/members/${created.body.userId}`)
      .set(as)
      .send({ roles: ['ORG_USER_MANAGER'] })
      .expect(200);
    expect(
      (
        await t.http
          .post('/v2/users/machine')
          .set(as)
          .send({ organization: { orgId: other }, username: 'svc', name: 'svc' })
      ).body,
    ).toEqual(DENIED);
    // No existence leak: an unknown organisation looks exactly like a foreign one.
    expect(
      (
        await t.http
          .post('/v2/users/machine')
          .set(as)
          .send({ organization: { orgId: '199999999999999999' }, username: 'svc', name: 'svc' })
      ).body,
    ).toEqual(DENIED);
    expect(
      (
        await t.http
          .put(`/v2/organizations/${other}/members/${created.body.userId}`)
          .set(as)
          .send({ roles: ['ORG_OWNER'] })
      ).body,
    ).toEqual(DENIED);
    expect(
      (
        await t.http
          .put(`/v2/instance/members/${created.body.userId}`)
          .set(as)
          .send({ roles: ['IAM_OWNER'] })
      ).body,
    ).toEqual(DENIED);
    expect((await t.http.post('/v2/organizations').set(as).send({ name: 'mine' })).body).toEqual(DENIED);
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
    expect(again.body).toEqual({
      code: 9,
      message: 'User is already deactivated (IDENTITY-st01)',
      details: detail('IDENTITY-st01', 'User is already deactivated'),
    });
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

  it('nobody gains rights through another user: no tokens for, or deletion of, a more privileged user', async () => {
    const org = await createOrg(t);
    const owner = await createHuman(t, org);
    const manager = await createHuman(t, org);
    const plain = await createHuman(t, org);
    tokens.push(owner.token, manager.token, plain.token);
    await grantOrgRoles(t, org, owner.userId, ['ORG_OWNER']);
    await grantOrgRoles(t, org, manager.userId, ['ORG_USER_MANAGER']);
    const as = bearer(manager.token);

    // The user manager may act on plain users of its organisation ...
    const ok = await t.http.post(`/v2/users/${plain.userId}/pats`).set(as).send({}).expect(200);
    tokens.push(ok.body.token);
    // ... but not mint a token for, lock or delete its ORG_OWNER.
    expect((await t.http.post(`/v2/users/${owner.userId}/pats`).set(as).send({})).body).toEqual(DENIED);
    expect((await t.http.post(`/v2/users/${owner.userId}/lock`).set(as).send({})).body).toEqual(DENIED);
    expect((await t.http.delete(`/v2/users/${owner.userId}`).set(as)).body).toEqual(DENIED);

    // An ORG_OWNER of the default organisation may not take over the IAM_OWNER admin.
    const defaultOrg = (
      await rawQuery<{ id: string }>(
        t.app.get(DataSource),
        `SELECT id FROM organizations WHERE is_default = $1`,
        [true],
      )
    ).rows[0].id;
    const adminId = (
      await rawQuery<{ user_id: string }>(
        t.app.get(DataSource),
        `SELECT user_id FROM memberships WHERE scope = 'INSTANCE'`,
      )
    ).rows[0].user_id;
    const defOwner = await createHuman(t, defaultOrg);
    tokens.push(defOwner.token);
    await grantOrgRoles(t, defaultOrg, defOwner.userId, ['ORG_OWNER']);
    expect(
      (await t.http.post(`/v2/users/${adminId}/pats`).set(bearer(defOwner.token)).send({})).body,
    ).toEqual(DENIED);
    expect((await t.http.delete(`/v2/users/${adminId}`).set(bearer(defOwner.token))).body).toEqual(DENIED);
    await t.http.get(`/v2/users/${adminId}`).set(bearer(defOwner.token)).expect(200);
  });

  it('never loses the last active IAM_OWNER', async () => {
    const adminId = (
      await rawQuery<{ user_id: string }>(
        t.app.get(DataSource),
        `SELECT user_id FROM memberships WHERE scope = 'INSTANCE' AND roles = 'IAM_OWNER'`,
      )
    ).rows[0].user_id;
    const LAST = {
      code: 9,
      message: 'The last active IAM_OWNER cannot be removed, locked or deactivated (IDENTITY-own01)',
      details: detail('IDENTITY-own01', 'The last active IAM_OWNER cannot be removed, locked or deactivated'),
    };
    expect((await t.http.delete(`/v2/instance/members/${adminId}`).set(admin())).body).toEqual(LAST);
    expect(
      (
        await t.http
          .put(`/v2/instance/members/${adminId}`)
          .set(admin())
          .send({ roles: ['IAM_USER_MANAGER'] })
      ).body,
    ).toEqual(LAST);
    expect((await t.http.post(`/v2/users/${adminId}/lock`).set(admin()).send({})).body).toEqual(LAST);
    expect((await t.http.delete(`/v2/users/${adminId}`).set(admin())).body).toEqual(LAST);
    // With a second owner present, removing one of them is fine.
    const org = await createOrg(t);
    const second = await createMachine(t, org);
    tokens.push(second.token);
    await grantInstanceRoles(t, second.userId, ['IAM_OWNER']);
    await t.http.delete(`/v2/instance/members/${second.userId}`).set(admin()).expect(200);
    await t.http.get(`/v2/users/${adminId}`).set(admin()).expect(200);
  });

  it('writes no token into any log line', () => {
    expect(tokens.length).toBeGreaterThan(10);
    for (const token of tokens) expect(t.logs.filter((l) => l.includes(token))).toEqual([]);
  });
});
