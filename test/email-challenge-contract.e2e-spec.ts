import { Controller, Delete, Module, Param } from '@nestjs/common';
import { Caller, RequirePermission, userParam } from '../src/common/auth/decorators';
import { RequireStepUpForFactorRemoval } from '../src/common/auth/step-up';
import { Principal } from '../src/common/auth/principal';
import { VERIFY_EMAIL } from './fixtures/seeds';
import { emailCode, expectEmailError } from './helpers/error-bodies';
import { BASE, MAX_ATTEMPTS, EmailChallengeFixture } from './helpers/email-challenge';
import { HumanFixture } from './helpers/factories';
import { codeIn, SmtpSink } from './helpers/smtp-sink';
import { bearer, TestApp } from './helpers/test-app';

/** A route that demands step-up the way the TOTP / OTP SMS removal routes will (test only). */
@Controller('test/step-up')
class StepUpProbeController {
  @Delete('users/:userId/factor')
  @RequirePermission('user.write', { self: true, target: userParam('userId') })
  @RequireStepUpForFactorRemoval(userParam('userId'))
  RemoveProbeFactor(@Caller() caller: Principal, @Param('userId') userId: string) {
    return { removed: userId, by: caller.userId };
  }
}

@Module({ controllers: [StepUpProbeController] })
class StepUpProbeModule {}

/**
 * The email-challenge API contract: body validation with fieldErrors, malformed JSON and unknown routes
 * in the email format, the AIP-136 verbs, step-up for factor removal (through a probe route), and the
 * OpenAPI document against its reference page.
 */
describe('email challenges (SMTP transport): validation, routing, step-up and OpenAPI', () => {
  const f = new EmailChallengeFixture([StepUpProbeModule]);
  const { create, started, verify, consume, get, codesSeen } = f;
  let t: TestApp;
  let sink: SmtpSink;
  let alice: HumanFixture;
  let bob: HumanFixture;
  let issuer: { userId: string; token: string };

  beforeAll(async () => {
    await f.start();
    ({ t, sink, alice, bob, issuer } = f);
  });
  afterAll(async () => f.stop());

  it('validates bodies with fieldErrors: missing, empty, over-long and non-string totp, unknown fields', async () => {
    const { id } = await started(alice);
    const cases: Array<[unknown, string, RegExp]> = [
      [{}, 'totp', /between 1 and 20/],
      [{ totp: '' }, 'totp', /between 1 and 20/],
      [{ totp: '1'.repeat(21) }, 'totp', /between 1 and 20/],
      [{ totp: 123456 }, 'totp', /./],
      [{ totp: '123456', userId: alice.userId }, 'userId', /unknown field/],
    ];
    for (const [body, field, msg] of cases) {
      const res = await t.http
        .post(`${BASE}/${id}:verify`)
        .set(bearer(alice.token))
        .send(body as object);
      expectEmailError(res, 400, 'BAD_REQUEST');
      expect(res.body.fieldErrors).toContainEqual({
        field,
        code: emailCode('BAD_REQUEST'),
        message: expect.stringMatching(msg),
      });
    }
    // None of these counted as an attempt.
    expect((await get(alice.token, id)).body.attemptsRemaining).toBe(MAX_ATTEMPTS);
  });

  it('validates create: ttlSeconds 60–600, operation 1–100 characters, context a JSON object of at most 8 KiB', async () => {
    const base = { userId: alice.userId, operation: 'payment.approve' };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...base, ttlSeconds: 59 }, 'ttlSeconds'],
      [{ ...base, ttlSeconds: 601 }, 'ttlSeconds'],
      [{ ...base, ttlSeconds: '300' }, 'ttlSeconds'],
      [{ ...base, operation: '' }, 'operation'],
      [{ ...base, operation: 'x'.repeat(101) }, 'operation'],
      [{ ...base, context: ['a'] }, 'context'],
      [{ ...base, context: { blob: 'x'.repeat(8 * 1024) } }, 'context'],
      [{ operation: 'x' }, 'userId'],
      [{ ...base, colour: 'red' }, 'colour'],
    ];
    const sent = sink.messages.length;
    for (const [body, field] of cases) {
      const res = await create(issuer.token, body);
      expectEmailError(res, 400, 'BAD_REQUEST');
      expect(res.body.fieldErrors.map((f: { field: string }) => f.field)).toContain(field);
    }
    expect(sink.messages.length).toBe(sent);
    const edge = await create(issuer.token, { ...base, ttlSeconds: 600, operation: 'ä'.repeat(100) });
    expect(edge.status).toBe(201);
    codesSeen.push(codeIn(sink.lastTo(alice.email)));
  });

  it('renders malformed JSON, unknown routes and wrong methods on these paths in the email format', async () => {
    const bad = await t.http
      .post(`${BASE}/100000000000000001:verify`)
      .set(bearer(alice.token))
      .set('Content-Type', 'application/json')
      .send('{"totp":');
    expectEmailError(bad, 400, 'BAD_REQUEST', /not valid JSON/);
    const badCreate = await t.http
      .post(BASE)
      .set(bearer(issuer.token))
      .set('Content-Type', 'application/json')
      .send('{');
    expectEmailError(badCreate, 400, 'BAD_REQUEST', /not valid JSON/);
    const wrongMethod = await t.http.delete(`${BASE}/100000000000000001:verify`).set(bearer(alice.token));
    expectEmailError(wrongMethod, 405, 'RESOURCE_UNKNOWN');
    expect(wrongMethod.headers['allow']).toContain('POST');
    expectEmailError(
      await t.http.get('/internal/v1/mfa/nothing-here').set(bearer(alice.token)),
      404,
      'RESOURCE_UNKNOWN',
    );
  });

  it('routes the AIP-136 verbs to their handlers (Express 5)', async () => {
    const { id } = await started(alice);
    // `:resend` reaches resend (cooldown), `:consume` reaches consume (not verified), `:verify` reaches verify.
    expect((await t.http.post(`${BASE}/${id}:resend`).set(bearer(alice.token))).status).toBe(429);
    expect((await consume(issuer.token, id)).status).toBe(400);
    expect((await verify(alice.token, id, '000000')).body.code).toMatch(/INVALID_OTP|CHALLENGE_NOT_FOUND/);
    expectEmailError(
      await t.http.post(`${BASE}/${id}:frobnicate`).set(bearer(alice.token)),
      405,
      'RESOURCE_UNKNOWN',
    );
  });

  describe('step-up (STEP_UP_FOR_FACTOR_REMOVAL=true)', () => {
    const remove = (token: string, userId: string, challengeId?: string) => {
      const req = t.http.delete(`/test/step-up/users/${userId}/factor`).set(bearer(token));
      return challengeId ? req.set('X-Step-Up-Challenge', challengeId) : req;
    };
    async function verified(user: HumanFixture, operation: string): Promise<string> {
      const { id, code } = await started(user, { operation });
      expect((await verify(user.token, id, code)).status).toBe(200);
      return id;
    }

    it('refuses removing one’s own factor without a verified challenge (403, ZITADEL format)', async () => {
      const res = await remove(alice.token, alice.userId);
      expect(res.status).toBe(403);
      expect(res.body).toEqual({
        code: 7,
        message: expect.stringMatching(
          /^Step-up authentication required: send header X-Step-Up-Challenge .* mfa\.factor\.remove \(AUTH-StepUp1\)$/,
        ),
        details: [expect.objectContaining({ id: 'AUTH-StepUp1' })],
      });
      const pending = await started(alice, { operation: 'mfa.factor.remove' });
      expect((await remove(alice.token, alice.userId, pending.id)).body.message).toMatch(/not verified/);
      const otherOp = await verified(alice, 'payment.approve');
      expect((await remove(alice.token, alice.userId, otherOp)).body.message).toMatch(/another operation/);
      const bobs = await verified(bob, 'mfa.factor.remove');
      // another user's challenge and an unknown id answer alike: nothing tells which ids exist
      const foreign = (await remove(alice.token, alice.userId, bobs)).body.message;
      expect(foreign).toMatch(/has no challenge with this id/);
      expect((await remove(alice.token, alice.userId, '100000000000000001')).body.message).toBe(foreign);
      // None of the refused challenges was consumed.
      expect((await get(bob.token, bobs)).body.status).toBe('VERIFIED');
      expect((await get(alice.token, otherOp)).body.status).toBe('VERIFIED');
    });

    it('accepts a verified challenge of the caller for mfa.factor.remove once, consuming it', async () => {
      const id = await verified(alice, 'mfa.factor.remove');
      const ok = await remove(alice.token, alice.userId, id);
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual({ removed: alice.userId, by: alice.userId });
      expect((await get(alice.token, id)).body.status).toBe('CONSUMED');
      const again = await remove(alice.token, alice.userId, id);
      expect(again.status).toBe(403);
      expect(again.body.message).toMatch(/already been used/);
      expectEmailError(await consume(issuer.token, id), 410, 'CHALLENGE_NOT_FOUND', /consumed/);
    });

    it('does not ask an administrator removing another user’s factor', async () => {
      expect((await remove(t.adminToken, alice.userId)).status).toBe(200);
    });
  });

  it('documents verifyEmail in /openapi.json exactly as its reference page', async () => {
    const facts = VERIFY_EMAIL;
    const urns = [...facts.errorCodes];
    expect(urns).toHaveLength(10);

    const doc = (await t.http.get('/openapi.json')).body;
    const op = doc.paths[facts.path]?.[facts.method];
    expect(op).toBeDefined();
    expect(op.operationId).toBe(facts.operationId);
    expect(op.summary).toBe(facts.summary);
    expect(op.description).toBe(facts.description);
    expect(op.description).toContain('user’s mail address');
    expect(op.parameters).toEqual([expect.objectContaining({ ...facts.pathParameters[0], in: 'path' })]);
    const bodyRef: string = op.requestBody.content['application/json'].schema.$ref;
    const body = doc.components.schemas[bodyRef.split('/').pop()!];
    expect(Object.keys(body.properties)).toEqual(facts.body.properties);
    expect(body.required).toEqual(facts.body.required);
    expect(body.properties.totp).toMatchObject(facts.body.totp);
    for (const [status, text] of Object.entries(facts.responses)) {
      expect({ status, description: op.responses[status]?.description }).toEqual({
        status,
        description: text,
      });
      const ref: string = op.responses[status].content['application/json'].schema.$ref;
      const schema = doc.components.schemas[ref.split('/').pop()!];
      expect(Object.keys(schema.properties)).toHaveLength(facts.errorPropertyCount);
      expect(Object.keys(schema.properties).slice(0, 4)).toEqual(facts.errorProperties);
      const codeSchema = schema.properties.code.$ref
        ? doc.components.schemas[schema.properties.code.$ref.split('/').pop()]
        : schema.properties.code;
      expect(codeSchema.enum).toEqual(urns);
      expect(schema.properties.fieldErrors.type).toBe('array');
    }
    // The other routes carry the same error schema.
    for (const [p, method] of [
      [BASE, 'post'],
      [`${BASE}/{challengeId}`, 'get'],
      [`${BASE}/{challengeId}:resend`, 'post'],
      [`${BASE}/{challengeId}:consume`, 'post'],
    ]) {
      expect(doc.paths[p]?.[method]).toBeDefined();
      expect(doc.paths[p][method].responses['500'].content['application/json'].schema.$ref).toMatch(
        /EmailChallengeErrorDto$/,
      );
    }
  });

  it('never logs a code or a full email address', () => {
    f.expectNothingSecretLogged(5);
  });
});
