import { createHuman, createOrg } from './helpers/factories';
import { bearer, createTestApp, TestApp } from './helpers/test-app';

/** Identity validation: every bad request body is a clear 4xx in the ZITADEL format, never a 500. */
describe('identity: validation through HTTP', () => {
  let t: TestApp;
  const tokens: string[] = [];
  beforeAll(async () => {
    t = await createTestApp();
    tokens.push(t.adminToken);
  });
  afterAll(async () => t.close());

  const admin = () => bearer(t.adminToken);

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

  it('writes no token into any log line', () => {
    expect(tokens.length).toBeGreaterThan(1);
    for (const token of tokens) expect(t.logs.filter((l) => l.includes(token))).toEqual([]);
  });
});
