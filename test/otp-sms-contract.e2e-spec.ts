import { createHuman, createMachine, grantOrgRoles, HumanFixture } from './helpers/factories';
import { UsersReader } from '../src/identity/users-reader';
import { VERIFY_OTP_SMS_REGISTRATION } from './fixtures/seeds';
import { zitadelError, zitadelInvalid } from './helpers/error-bodies';
import { OtpSmsFixture, base } from './helpers/otp-sms';
import { bearer, TestApp } from './helpers/test-app';

/**
 * The OTP SMS API contract: who may call each route, the v3alpha instance and organisation query
 * parameters, validation in the ZITADEL format, and the OpenAPI document against its reference page.
 */
describe('OTP SMS (v3alpha) permissions, query parameters, validation and OpenAPI', () => {
  const f = new OtpSmsFixture();
  const { add, postCode, verify, resend, challenge, remove, pending, newNumber, seenCodes } = f;
  let t: TestApp;
  let orgId: string;
  let otherOrgId: string;
  let owner: HumanFixture;

  beforeAll(async () => {
    await f.start();
    ({ t, orgId, otherOrgId, owner } = f);
  });
  afterAll(async () => f.stop());

  describe('permissions', () => {
    it('lets the user itself and an ORG_OWNER of its organisation act', async () => {
      const user = await createHuman(t, orgId);
      const res = await add(owner.token, user.userId, { number: newNumber(), returnCode: {} });
      expect(res.status).toBe(200);
      seenCodes.add(res.body.verificationCode);
      expect(
        (await verify(owner.token, user.userId, res.body.otpSmsId, res.body.verificationCode)).status,
      ).toBe(200);
      expect((await remove(owner.token, user.userId, res.body.otpSmsId)).status).toBe(200);
    });

    it('refuses an ORG_OWNER of another organisation and a plain other user with 403', async () => {
      const p = await pending();
      const foreignOwner = await createHuman(t, otherOrgId);
      await grantOrgRoles(t, otherOrgId, foreignOwner.userId, ['ORG_OWNER']);
      const stranger = await createHuman(t, orgId);
      for (const token of [foreignOwner.token, stranger.token]) {
        const calls = [
          add(token, p.user.userId, { number: newNumber() }),
          verify(token, p.user.userId, p.id, p.code),
          resend(token, p.user.userId, p.id),
          challenge(token, p.user.userId, p.id),
          postCode(token, p.user.userId, p.id, '_check', p.code),
          remove(token, p.user.userId, p.id),
        ];
        for (const res of await Promise.all(calls)) {
          expect(res.status).toBe(403);
          expect(res.body).toEqual(zitadelError(7, 'AUTH-AWfge', 'No matching permissions found'));
        }
      }
      // an ORG_OWNER of another organisation gets 403 for unknown users too (no probing)
      expect((await add(foreignOwner.token, '999999999999999999', { number: newNumber() })).status).toBe(403);
      expect((await verify(p.user.token, p.user.userId, p.id, p.code)).status).toBe(200);
    });

    it('lets an ORG_USER_MANAGER remove (user.write) but not add (user.credential.write)', async () => {
      const manager = await createHuman(t, orgId);
      await grantOrgRoles(t, orgId, manager.userId, ['ORG_USER_MANAGER']);
      const p = await pending();
      expect((await add(manager.token, p.user.userId, { number: newNumber() })).status).toBe(403);
      expect((await verify(manager.token, p.user.userId, p.id, p.code)).status).toBe(403);
      expect((await remove(manager.token, p.user.userId, p.id)).status).toBe(200);
    });

    it('answers 404 to an IAM_OWNER for unknown users and machine users', async () => {
      const unknown = await add(t.adminToken, '999999999999999999', { number: newNumber() });
      expect(unknown.status).toBe(404);
      expect(unknown.body).toEqual(zitadelError(5, 'COMMAND-bx2OLtgGNS', 'User could not be found'));
      expect((await verify(t.adminToken, '999999999999999999', '1', '12345678')).status).toBe(404);
      expect((await remove(t.adminToken, '999999999999999999', '1')).status).toBe(404);
      const machine = await createMachine(t, orgId);
      expect((await add(t.adminToken, machine.userId, { number: newNumber() })).status).toBe(404);
    });

    it('answers 401 without a token', async () => {
      const res = await t.http.post(base('1')).send({ number: newNumber() });
      expect(res.status).toBe(401);
    });
  });

  describe('v3alpha query parameters', () => {
    it('accepts matching instance and organisation, 404 otherwise', async () => {
      const p = await pending();
      const reader = t.app.get(UsersReader);
      const domain = (await reader.findUser(p.user.userId))!.orgDomain;
      const otherDomain = (await reader.findUser((await createHuman(t, otherOrgId)).userId))!.orgDomain;
      const mismatches = [
        '?instance.id=other-instance',
        `?instance.domain=elsewhere.example.com`,
        `?organization.orgId=${otherOrgId}`,
        `?organization.org_id=${otherOrgId}`,
        `?organization.orgDomain=${otherDomain}`,
        '?organization.orgDomain=unknown.example.com',
      ];
      for (const q of mismatches) {
        const v = await verify(p.user.token, p.user.userId, p.id, p.code, q);
        expect([q, v.status]).toEqual([q, 404]);
        expect((await add(p.user.token, p.user.userId, { number: newNumber() }, q)).status).toBe(404);
        expect((await remove(p.user.token, p.user.userId, p.id, q)).status).toBe(404);
      }
      const inst = await verify(p.user.token, p.user.userId, p.id, p.code, '?instance.id=other-instance');
      expect(inst.body.message).toBe('Instance not found (QUERY-n0wng)');
      const match = `?instance.id=${t.config.instance.id}&instance.domain=${t.config.instance.domain}&organization.orgId=${orgId}&organization.orgDomain=${domain}`;
      expect((await verify(p.user.token, p.user.userId, p.id, p.code, match)).status).toBe(200);
      expect((await remove(p.user.token, p.user.userId, p.id, match)).status).toBe(200);
    });
  });

  describe('validation', () => {
    it('validates the phone number', async () => {
      const user = await createHuman(t, orgId);
      const invalid = await add(user.token, user.userId, { number: '+41123' });
      expect(invalid.status).toBe(400);
      expect(invalid.body.message).toBe('Phone is invalid (PHONE-so0wa)');
      expect((await add(user.token, user.userId, { number: '0791234567' })).body.message).toBe(
        'Phone is invalid (PHONE-so0wa)',
      );
      const long = await add(user.token, user.userId, { number: '+41 79 123 45 67 0000' });
      expect(long.body).toEqual(
        zitadelInvalid('invalid SetPhone.Number: value length must be between 1 and 20 runes, inclusive'),
      );
      expect((await add(user.token, user.userId, {})).body.message).toBe(
        'invalid SetPhone.Number: value length must be between 1 and 20 runes, inclusive',
      );
      const both = await add(user.token, user.userId, { number: newNumber(), sendCode: {}, returnCode: {} });
      expect(both.status).toBe(400);
      const notTrue = await add(user.token, user.userId, { number: newNumber(), isVerified: false });
      expect(notTrue.body).toEqual(zitadelInvalid('invalid SetPhone.IsVerified: value must equal true'));
      // unknown fields are ignored, as by ZITADEL's gateway
      const extra = await add(user.token, user.userId, { number: newNumber(), returnCode: {}, foo: 'bar' });
      expect(extra.status).toBe(200);
      seenCodes.add(extra.body.verificationCode);
    });

    it('requires the code body to be a JSON string of 1..200 characters', async () => {
      const p = await pending();
      const message =
        'invalid VerifyOTPSMSRegistrationRequest.Code: value length must be between 1 and 200 runes, inclusive';
      for (const body of ['', 'x'.repeat(201)]) {
        const res = await verify(p.user.token, p.user.userId, p.id, body);
        expect(res.status).toBe(400);
        expect(res.body).toEqual(zitadelInvalid(message));
      }
      // Not a string at all: the message says what the body is.
      const notString =
        'invalid VerifyOTPSMSRegistrationRequest.Code: the body must be the code as a JSON string, e.g. "12345678"';
      for (const body of [{ code: p.code }, Number(p.code), null]) {
        const res = await verify(p.user.token, p.user.userId, p.id, body);
        expect(res.status).toBe(400);
        expect(res.body).toEqual(zitadelInvalid(notString));
      }
      const empty = await t.http.post(`${base(p.user.userId)}/${p.id}/_verify`).set(bearer(p.user.token));
      expect(empty.body).toEqual(zitadelInvalid(notString));
      const check = await postCode(p.user.token, p.user.userId, p.id, '_check', '');
      expect(check.body.message).toBe(
        'invalid CheckOTPSMSCodeRequest.Code: value length must be between 1 and 200 runes, inclusive',
      );
      expect(
        (await postCode(p.user.token, p.user.userId, p.id, '_check', { code: p.code })).body.message,
      ).toBe(
        'invalid CheckOTPSMSCodeRequest.Code: the body must be the code as a JSON string, e.g. "12345678"',
      );
      // none of these spent an attempt
      expect((await verify(p.user.token, p.user.userId, p.id, p.code)).status).toBe(200);
    });
  });

  describe('OpenAPI', () => {
    it('documents VerifyOTPSMSRegistration as its reference page does', async () => {
      const facts = VERIFY_OTP_SMS_REGISTRATION;
      const doc = (await t.http.get('/openapi.json')).body;
      expect(facts.route.replace(/:(\w+)/g, '{$1}')).toBe(facts.path);
      const op = doc.paths[facts.path][facts.method];
      expect(op.summary).toBe(facts.summary);
      expect(op.description).toBe(facts.description);
      expect(op.operationId).toBe(facts.operationId);

      const params = op.parameters as {
        name: string;
        in: string;
        description?: string;
        required?: boolean;
      }[];
      const pathParams = params.filter((p) => p.in === 'path');
      expect(pathParams.map((p) => ({ name: p.name, description: p.description }))).toEqual(
        facts.pathParameters,
      );
      for (const p of pathParams) expect(p.required).toBe(true);
      expect(facts.queryParameters).toBe(true);
      expect(
        params
          .filter((p) => p.in === 'query')
          .map((p) => p.name)
          .sort(),
      ).toEqual(['instance.domain', 'instance.id', 'organization.orgDomain', 'organization.orgId'].sort());

      const contentTypes = [...facts.mediaTypes];
      expect(op.requestBody.required).toBe(facts.body.required);
      expect(Object.keys(op.requestBody.content)).toEqual(contentTypes);
      for (const ct of contentTypes) {
        expect(op.requestBody.content[ct].schema).toMatchObject({
          type: facts.body.type,
          description: facts.body.description,
          minLength: facts.body.minLength,
          maxLength: facts.body.maxLength,
        });
      }

      for (const [status, text] of Object.entries(facts.responses)) {
        expect({ status, description: op.responses[status]?.description }).toEqual({
          status,
          description: text,
        });
        expect(Object.keys(op.responses[status].content)).toEqual(contentTypes);
        if (status === '200') continue;
        expect(op.responses[status].content['application/json'].schema.$ref).toBe(
          '#/components/schemas/RpcStatusDto',
        );
        expect(op.responses[status].content['application/json'].example).toEqual(facts.errorExample);
      }

      const schemas = doc.components.schemas;
      const resolve = (ref: string) => schemas[ref.replace('#/components/schemas/', '')];
      const okSchema = resolve(op.responses['200'].content['application/json'].schema.$ref);
      const details = resolve(
        okSchema.properties.details.$ref ?? okSchema.properties.details.allOf?.[0]?.$ref,
      );
      expect(Object.keys(details.properties)).toEqual(facts.details.fields);
      expect(details.properties.created.description).toBe(facts.details.created);
      expect(details.properties.changed.description).toBe(facts.details.changed);
      const ownerProp = details.properties.owner;
      expect(ownerProp.description).toBe(facts.details.owner);
      const owner = resolve(ownerProp.$ref ?? ownerProp.allOf[0].$ref);
      const typeProp = owner.properties.type;
      const typeRef = typeProp.$ref ?? typeProp.allOf?.[0]?.$ref;
      const ownerType = typeRef ? resolve(typeRef) : typeProp;
      expect(ownerType.enum).toEqual(facts.details.ownerType.enum);
      expect(typeProp.default ?? ownerType.default).toBe(facts.details.ownerType.default);
    });

    it('documents the siblings with the upstream texts', async () => {
      const doc = (await t.http.get('/openapi.json')).body;
      const add = doc.paths['/resources/v3alpha/users/{id}/otp_sms'].post;
      expect(add.summary).toBe('Add a OTP SMS authenticator');
      expect(add.operationId).toBe('AddOTPSMSAuthenticator');
      expect(add.responses['200'].description).toBe('OTP SMS authenticator successfully added');
      const del = doc.paths['/resources/v3alpha/users/{id}/otp_sms/{otpSmsId}'].delete;
      expect(del.summary).toBe('Remove a OTP SMS authenticator');
      expect(del.responses['200'].description).toBe('OTP SMS authenticator successfully removed');
    });
  });

  it('never logs a code or a full phone number', async () => {
    await f.expectNothingSecretLogged({ codes: 3, numbers: 2 });
  });
});
