import { randomBytes } from 'node:crypto';
import { bearer, TestApp } from './test-app';

const uniq = () => randomBytes(4).toString('hex');

export async function createOrg(t: TestApp, name = `org-${uniq()}`): Promise<string> {
  const res = await t.http.post('/v2/organizations').set(bearer(t.adminToken)).send({ name });
  if (res.status !== 200) throw new Error(`createOrg: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.organizationId as string;
}

export interface HumanFixture {
  userId: string;
  orgId: string;
  token: string;
  email: string;
  username: string;
}

/** A human user with a verified email (and phone, when given) and a PAT of its own. */
export async function createHuman(
  t: TestApp,
  orgId: string,
  opts: {
    email?: string;
    emailVerified?: boolean;
    phone?: string;
    phoneVerified?: boolean;
    username?: string;
  } = {},
): Promise<HumanFixture> {
  const username = opts.username ?? `user-${uniq()}`;
  const email = opts.email ?? `${username}@example.com`;
  const res = await t.http
    .post('/v2/users/human')
    .set(bearer(t.adminToken))
    .send({
      organization: { orgId },
      username,
      profile: { givenName: 'Test', familyName: 'User' },
      email: { email, isVerified: opts.emailVerified ?? true },
      ...(opts.phone ? { phone: { phone: opts.phone, isVerified: opts.phoneVerified ?? true } } : {}),
    });
  if (res.status !== 200) throw new Error(`createHuman: ${res.status} ${JSON.stringify(res.body)}`);
  const userId = res.body.userId as string;
  return { userId, orgId, token: await createPat(t, userId), email, username };
}

export async function createMachine(
  t: TestApp,
  orgId: string,
  username = `svc-${uniq()}`,
): Promise<{ userId: string; token: string }> {
  const res = await t.http
    .post('/v2/users/machine')
    .set(bearer(t.adminToken))
    .send({ organization: { orgId }, username, name: username });
  if (res.status !== 200) throw new Error(`createMachine: ${res.status} ${JSON.stringify(res.body)}`);
  const userId = res.body.userId as string;
  return { userId, token: await createPat(t, userId) };
}

export async function createPat(t: TestApp, userId: string, expirationDate?: string): Promise<string> {
  const res = await t.http
    .post(`/v2/users/${userId}/pats`)
    .set(bearer(t.adminToken))
    .send(expirationDate ? { expirationDate } : {});
  if (res.status !== 200) throw new Error(`createPat: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.token as string;
}

export async function grantOrgRoles(
  t: TestApp,
  orgId: string,
  userId: string,
  roles: string[],
): Promise<void> {
  const res = await t.http
    .put(`/v2/organizations/${orgId}/members/${userId}`)
    .set(bearer(t.adminToken))
    .send({ roles });
  if (res.status !== 200) throw new Error(`grantOrgRoles: ${res.status} ${JSON.stringify(res.body)}`);
}

export async function grantInstanceRoles(t: TestApp, userId: string, roles: string[]): Promise<void> {
  const res = await t.http.put(`/v2/instance/members/${userId}`).set(bearer(t.adminToken)).send({ roles });
  if (res.status !== 200) throw new Error(`grantInstanceRoles: ${res.status} ${JSON.stringify(res.body)}`);
}
