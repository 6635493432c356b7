import { DataSource } from 'typeorm';
import { rawQuery } from '../src/common/database/db-dialect';
import { PERMISSION_DENIED, zitadelError } from './helpers/error-bodies';
import {
  createHuman,
  createMachine,
  createOrg,
  grantInstanceRoles,
  grantOrgRoles,
} from './helpers/factories';
import { CHANGE_DETAILS } from './helpers/identity';
import { bearer, createTestApp, TestApp } from './helpers/test-app';

/**
 * Identity roles and permissions: organisation and instance roles take effect at once, an ORG_OWNER
 * manages only its own organisation, nobody gains rights through a more privileged user, and the last
 * active IAM_OWNER is never lost.
 */
describe('identity: roles and permissions through HTTP', () => {
  let t: TestApp;
  const tokens: string[] = [];
  beforeAll(async () => {
    t = await createTestApp();
    tokens.push(t.adminToken);
  });
  afterAll(async () => t.close());

  const admin = () => bearer(t.adminToken);

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
    ).toEqual(PERMISSION_DENIED);
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
    ).toEqual(PERMISSION_DENIED);
    // No existence leak: an unknown organisation looks exactly like a foreign one.
    expect(
      (
        await t.http
          .post('/v2/users/machine')
          .set(as)
          .send({ organization: { orgId: '199999999999999999' }, username: 'svc', name: 'svc' })
      ).body,
    ).toEqual(PERMISSION_DENIED);
    expect(
      (
        await t.http
          .put(`/v2/organizations/${other}/members/${created.body.userId}`)
          .set(as)
          .send({ roles: ['ORG_OWNER'] })
      ).body,
    ).toEqual(PERMISSION_DENIED);
    expect(
      (
        await t.http
          .put(`/v2/instance/members/${created.body.userId}`)
          .set(as)
          .send({ roles: ['IAM_OWNER'] })
      ).body,
    ).toEqual(PERMISSION_DENIED);
    expect((await t.http.post('/v2/organizations').set(as).send({ name: 'mine' })).body).toEqual(
      PERMISSION_DENIED,
    );
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
    expect((await t.http.post(`/v2/users/${owner.userId}/pats`).set(as).send({})).body).toEqual(
      PERMISSION_DENIED,
    );
    expect((await t.http.post(`/v2/users/${owner.userId}/lock`).set(as).send({})).body).toEqual(
      PERMISSION_DENIED,
    );
    expect((await t.http.delete(`/v2/users/${owner.userId}`).set(as)).body).toEqual(PERMISSION_DENIED);

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
    ).toEqual(PERMISSION_DENIED);
    expect((await t.http.delete(`/v2/users/${adminId}`).set(bearer(defOwner.token))).body).toEqual(
      PERMISSION_DENIED,
    );
    await t.http.get(`/v2/users/${adminId}`).set(bearer(defOwner.token)).expect(200);
  });

  it('never loses the last active IAM_OWNER', async () => {
    const adminId = (
      await rawQuery<{ user_id: string }>(
        t.app.get(DataSource),
        `SELECT user_id FROM memberships WHERE scope = 'INSTANCE' AND roles = 'IAM_OWNER'`,
      )
    ).rows[0].user_id;
    const LAST = zitadelError(
      9,
      'IDENTITY-own01',
      'The last active IAM_OWNER cannot be removed, locked or deactivated',
    );
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
    expect(tokens.length).toBeGreaterThan(5);
    for (const token of tokens) expect(t.logs.filter((l) => l.includes(token))).toEqual([]);
  });
});
