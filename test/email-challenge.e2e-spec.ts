import { Controller, Delete, Module, Param } from '@nestjs/common';
import { Response } from 'supertest';
import { DataSource } from 'typeorm';
import { Caller, RequirePermission, userParam } from '../src/common/auth/decorators';
import { RequireStepUpForFactorRemoval } from '../src/common/auth/step-up';
import { Principal } from '../src/common/auth/principal';
import { EmailChallengeSweeper } from '../src/email-challenge/email-challenge.sweeper';
import { VERIFY_EMAIL } from './fixtures/seeds';
import { createHuman, createMachine, createOrg, grantInstanceRoles, HumanFixture } from './helpers/factories';
import { codeIn, startSmtpSink, SmtpSink } from './helpers/smtp-sink';
import { bearer, createTestApp, TestApp } from './helpers/test-app';

const BASE = '/internal/v1/mfa/totp-email';
const URN = 'urn:plmr:mfa-totp:api:';
const MAX_ATTEMPTS = 3;
const COOLDOWN_S = 30;
const RETENTION_H = 24;

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

/** Every email-challenge error body: exactly the 7 properties, request id echoed, status and path filled in. */
function expectEmailError(res: Response, status: number, code: string, message?: RegExp): void {
  expect(res.status).toBe(status);
  expect(Object.keys(res.body).sort()).toEqual([
    'code',
    'fieldErrors',
    'message',
    'path',
    'requestId',
    'status',
    'timestamp',
  ]);
  expect(res.body.code).toBe(URN + code);
  expect(res.body.status).toBe(status);
  expect(res.body.requestId).toBe(res.headers['x-request-id']);
  expect(res.body.requestId).toMatch(/\S{8,}/);
  expect(res.body.path).toBe((res as unknown as { req: { path: string } }).req.path.split('?')[0]);
  expect(new Date(res.body.timestamp).toISOString()).toBe(res.body.timestamp);
  expect(Array.isArray(res.body.fieldErrors)).toBe(true);
  if (message) expect(res.body.message).toMatch(message);
}

function otherCode(code: string): string {
  return code.slice(0, 5) + String((Number(code[5]) + 1) % 10);
}

describe('email challenges (SMTP transport)', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let alice: HumanFixture;
  let bob: HumanFixture;
  let issuer: { userId: string; token: string };
  let stranger: { userId: string; token: string };
  const codesSeen: string[] = [];

  beforeAll(async () => {
    sink = await startSmtpSink();
    t = await createTestApp({
      env: {
        MAIL_TRANSPORT: 'smtp',
        SMTP_URL: sink.url,
        MAIL_FROM: 'MFA <mfa@example.org>',
        MAIL_SUBJECT: 'Your step-up code',
        OTP_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
        EMAIL_RESEND_COOLDOWN_SECONDS: String(COOLDOWN_S),
        CHALLENGE_RETENTION_HOURS: String(RETENTION_H),
        STEP_UP_FOR_FACTOR_REMOVAL: 'true',
      },
      extraModules: [StepUpProbeModule],
    });
    const org = await createOrg(t);
    alice = await createHuman(t, org);
    bob = await createHuman(t, org);
    issuer = await createMachine(t, org);
    await grantInstanceRoles(t, issuer.userId, ['MFA_CHALLENGE_ISSUER']);
    stranger = await createMachine(t, org);
  });

  afterAll(async () => {
    await t?.close();
    await sink?.close();
  });

  async function create(token: string, body: Record<string, unknown>): Promise<Response> {
    return t.http.post(BASE).set(bearer(token)).send(body);
  }

  /** Creates a challenge for `user` (as the issuer) and returns its id and the code from the received mail. */
  async function started(
    user: HumanFixture,
    body: Record<string, unknown> = {},
  ): Promise<{ id: string; code: string }> {
    const res = await create(issuer.token, { userId: user.userId, operation: 'payment.approve', ...body });
    expect(res.status).toBe(201);
    const code = codeIn(sink.lastTo(user.email));
    codesSeen.push(code);
    return { id: res.body.challengeId as string, code };
  }

  const verify = (token: string, id: string, totp: unknown) =>
    t.http.post(`${BASE}/${id}:verify`).set(bearer(token)).send({ totp });
  const consume = (token: string, id: string) => t.http.post(`${BASE}/${id}:consume`).set(bearer(token));
  const get = (token: string, id: string) => t.http.get(`${BASE}/${id}`).set(bearer(token));

  it('create → mail received over SMTP → verify with the mailed code → consume exactly once', async () => {
    const before = sink.messages.length;
    const res = await create(issuer.token, {
      userId: alice.userId,
      operation: 'payment.approve',
      context: { paymentId: 'p-1', amount: '100.00 EUR' },
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      challengeId: expect.stringMatching(/^[A-Za-z0-9_-]{20}$/),
      status: 'PENDING',
      expiresAt: new Date(t.clock.now() + 300_000).toISOString(),
      maskedEmail: `${alice.email[0]}***${alice.email.split('@')[0].slice(-1)}@example.com`,
    });
    const id = res.body.challengeId as string;

    expect(sink.messages.length).toBe(before + 1);
    const mail = sink.lastTo(alice.email);
    expect(mail.from).toBe('mfa@example.org');
    expect(mail.raw).toMatch(/^Subject: Your step-up code\r?$/m);
    expect(mail.raw).toMatch(/Content-Type: multipart\/alternative/);
    expect(mail.raw).toMatch(/Content-Type: text\/plain/);
    expect(mail.raw).toMatch(/Content-Type: text\/html/);
    expect(mail.raw).toContain('payment.approve');
    expect(mail.raw).toContain('expires in 5 minutes');
    expect(mail.raw).toContain('Not you?');
    const code = codeIn(mail);
    codesSeen.push(code);

    const pending = await get(alice.token, id);
    expect(pending.status).toBe(200);
    expect(pending.body).toEqual({
      challengeId: id,
      userId: alice.userId,
      operation: 'payment.approve',
      status: 'PENDING',
      expiresAt: res.body.expiresAt,
      attemptsRemaining: MAX_ATTEMPTS,
    });

    const ok = await verify(alice.token, id, code);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({
      challengeId: id,
      status: 'VERIFIED',
      verifiedAt: new Date(t.clock.now()).toISOString(),
    });

    expectEmailError(
      await verify(alice.token, id, code),
      410,
      'CHALLENGE_NOT_FOUND',
      /already been verified/,
    );

    const claimed = await consume(issuer.token, id);
    expect(claimed.status).toBe(200);
    expect(claimed.body).toEqual({
      challengeId: id,
      userId: alice.userId,
      operation: 'payment.approve',
      context: { paymentId: 'p-1', amount: '100.00 EUR' },
    });
    expectEmailError(await consume(issuer.token, id), 410, 'CHALLENGE_NOT_FOUND', /already been consumed/);
    expect((await get(issuer.token, id)).body.status).toBe('CONSUMED');
  });

  it('lets the subject start its own challenge, and nobody else without mfa.challenge.write', async () => {
    const own = await create(alice.token, { userId: alice.userId, operation: 'address.change' });
    expect(own.status).toBe(201);
    expect(own.body.status).toBe('PENDING');
    codesSeen.push(codeIn(sink.lastTo(alice.email)));
    expectEmailError(
      await create(alice.token, { userId: bob.userId, operation: 'address.change' }),
      403,
      'FORBIDDEN',
    );
    expectEmailError(
      await create(stranger.token, { userId: alice.userId, operation: 'x' }),
      403,
      'FORBIDDEN',
    );
    // Without the permission, an unknown user is 403 too (no probing); holders learn USER_NOT_FOUND.
    expectEmailError(
      await create(stranger.token, { userId: '123456789012345678', operation: 'x' }),
      403,
      'FORBIDDEN',
    );
    expectEmailError(
      await create(issuer.token, { userId: '123456789012345678', operation: 'x' }),
      404,
      'USER_NOT_FOUND',
    );
    expectEmailError(
      await create(issuer.token, { userId: stranger.userId, operation: 'x' }),
      404,
      'USER_NOT_FOUND',
    );
  });

  it('answers a request without a valid token with 401 in the email format', async () => {
    expectEmailError(await t.http.post(`${BASE}/1:verify`).send({ totp: '123456' }), 401, 'UNAUTHORIZED');
    expectEmailError(await t.http.get(`${BASE}/1`).set(bearer('nope')), 401, 'UNAUTHORIZED');
    expectEmailError(
      await t.http.post(BASE).send({ userId: alice.userId, operation: 'x' }),
      401,
      'UNAUTHORIZED',
    );
  });

  it('counts wrong codes, says how many attempts remain, and locks after OTP_MAX_ATTEMPTS (then 410)', async () => {
    const { id, code } = await started(alice);
    const wrong = otherCode(code);
    expectEmailError(await verify(alice.token, id, wrong), 400, 'INVALID_OTP', /2 attempts remaining/);
    expect((await get(alice.token, id)).body.attemptsRemaining).toBe(2);
    expectEmailError(await verify(alice.token, id, wrong), 400, 'INVALID_OTP', /1 attempt remaining/);
    expectEmailError(await verify(alice.token, id, wrong), 400, 'INVALID_OTP', /no attempts remain/);
    expectEmailError(await verify(alice.token, id, code), 410, 'CHALLENGE_NOT_FOUND', /locked/);
    const read = await get(alice.token, id);
    expect(read.body).toMatchObject({ status: 'LOCKED', attemptsRemaining: 0 });
    expectEmailError(await consume(issuer.token, id), 410, 'CHALLENGE_NOT_FOUND', /locked/);
    expectEmailError(
      await t.http.post(`${BASE}/${id}:resend`).set(bearer(alice.token)),
      410,
      'CHALLENGE_NOT_FOUND',
      /locked/,
    );
  });

  it('expires by the clock (410), without any sweeper', async () => {
    const { id, code } = await started(alice, { ttlSeconds: 60 });
    t.clock.advance(60_001);
    expectEmailError(await verify(alice.token, id, code), 410, 'CHALLENGE_NOT_FOUND', /expired/);
    expect((await get(alice.token, id)).body.status).toBe('EXPIRED');
    expectEmailError(await consume(issuer.token, id), 410, 'CHALLENGE_NOT_FOUND', /expired/);
  });

  it('lets only the subject verify: others get 403 USER_ID_DOES_NOT_MATCH_WITH_CHALLENGE_SUBJECT_USER_ID, and no attempt is counted', async () => {
    const { id, code } = await started(alice);
    expectEmailError(
      await verify(bob.token, id, code),
      403,
      'USER_ID_DOES_NOT_MATCH_WITH_CHALLENGE_SUBJECT_USER_ID',
    );
    expectEmailError(
      await verify(t.adminToken, id, code),
      403,
      'USER_ID_DOES_NOT_MATCH_WITH_CHALLENGE_SUBJECT_USER_ID',
    );
    expect((await get(alice.token, id)).body).toMatchObject({
      status: 'PENDING',
      attemptsRemaining: MAX_ATTEMPTS,
    });
    // Reading and consuming: subject or mfa.challenge.write; consume needs the permission.
    expectEmailError(await get(bob.token, id), 403, 'FORBIDDEN');
    expect((await get(issuer.token, id)).status).toBe(200);
    expectEmailError(await consume(alice.token, id), 403, 'FORBIDDEN');
    expectEmailError(await consume(issuer.token, id), 400, 'BAD_REQUEST', /not verified/);
  });

  it('answers unknown challenge ids with 404 CHALLENGE_NOT_FOUND to instance-wide issuers, like foreign ones to others', async () => {
    const unknown = '100000000000000001';
    expectEmailError(await verify(t.adminToken, unknown, '123456'), 404, 'CHALLENGE_NOT_FOUND');
    expectEmailError(await verify(issuer.token, 'not-an-id!', '123456'), 404, 'CHALLENGE_NOT_FOUND');
    // :verify by a caller who cannot create challenges: unknown ids answer as other users' challenges do
    const bobs = await started(bob);
    const foreign = await verify(alice.token, bobs.id, '123456');
    expectEmailError(foreign, 403, 'USER_ID_DOES_NOT_MATCH_WITH_CHALLENGE_SUBJECT_USER_ID');
    for (const id of [unknown, 'not-an-id', 'q3Zr0VbXh1Jm-8cT2pLw']) {
      const res = await verify(alice.token, id, '123456');
      expectEmailError(res, 403, 'USER_ID_DOES_NOT_MATCH_WITH_CHALLENGE_SUBJECT_USER_ID');
      expect(res.body.message).toBe(foreign.body.message);
    }
    expectEmailError(await get(issuer.token, unknown), 404, 'CHALLENGE_NOT_FOUND');
    expectEmailError(await consume(issuer.token, unknown), 404, 'CHALLENGE_NOT_FOUND');
    expectEmailError(
      await t.http.post(`${BASE}/${unknown}:resend`).set(bearer(t.adminToken)),
      404,
      'CHALLENGE_NOT_FOUND',
    );
    // Callers without mfa.challenge.write cannot probe ids on GET/resend.
    expectEmailError(await get(bob.token, unknown), 403, 'FORBIDDEN');
  });

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
        code: URN + 'BAD_REQUEST',
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

  it('resends a new code after the cooldown (429 with Retry-After before), killing the old one', async () => {
    const { id, code: first } = await started(alice);
    const resend = () => t.http.post(`${BASE}/${id}:resend`).set(bearer(alice.token));
    const early = await resend();
    expectEmailError(early, 429, 'FORBIDDEN', /retry in 30 seconds/);
    expect(early.headers['retry-after']).toBe(String(COOLDOWN_S));
    t.clock.advance(10_000);
    const later = await resend();
    expectEmailError(later, 429, 'FORBIDDEN');
    expect(later.headers['retry-after']).toBe('20');

    t.clock.advance(20_000);
    const sent = sink.messages.length;
    const ok = await resend();
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ challengeId: id, expiresAt: new Date(t.clock.now() + 300_000).toISOString() });
    expect(sink.messages.length).toBe(sent + 1);
    const second = codeIn(sink.lastTo(alice.email));
    codesSeen.push(second);
    // The issuer may resend too, but the cooldown restarted.
    expectEmailError(await t.http.post(`${BASE}/${id}:resend`).set(bearer(issuer.token)), 429, 'FORBIDDEN');
    expectEmailError(await t.http.post(`${BASE}/${id}:resend`).set(bearer(bob.token)), 403, 'FORBIDDEN');

    if (first !== second) {
      expectEmailError(await verify(alice.token, id, first), 400, 'INVALID_OTP');
    }
    expect((await verify(alice.token, id, second)).status).toBe(200);
    expectEmailError(
      await t.http.post(`${BASE}/${id}:resend`).set(bearer(alice.token)),
      410,
      'CHALLENGE_NOT_FOUND',
      /verified/,
    );
  });

  it('20 parallel verifies with the right code: exactly one 200, the rest 410; 10 parallel consumes: exactly one 200', async () => {
    const { id, code } = await started(alice);
    const results = await Promise.all(Array.from({ length: 20 }, () => verify(alice.token, id, code)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 410)).toHaveLength(19);
    for (const r of results.filter((x) => x.status === 410))
      expectEmailError(r, 410, 'CHALLENGE_NOT_FOUND', /already been verified/);

    const claims = await Promise.all(Array.from({ length: 10 }, () => consume(issuer.token, id)));
    expect(claims.filter((r) => r.status === 200)).toHaveLength(1);
    expect(claims.filter((r) => r.status === 410)).toHaveLength(9);
  });

  it('parallel wrong codes never count more than the attempt budget', async () => {
    const { id, code } = await started(alice);
    const wrong = otherCode(code);
    const results = await Promise.all(Array.from({ length: 10 }, () => verify(alice.token, id, wrong)));
    expect(results.filter((r) => r.status === 400)).toHaveLength(MAX_ATTEMPTS);
    expect(results.filter((r) => r.status === 410)).toHaveLength(10 - MAX_ATTEMPTS);
    expect((await get(alice.token, id)).body).toMatchObject({ status: 'LOCKED', attemptsRemaining: 0 });
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

  it('sweeper: contexts purged after CHALLENGE_RETENTION_HOURS (consume → 404 STEP_UP_REQUEST_CONTEXT_NOT_FOUND), rows after twice that', async () => {
    const sweeper = t.app.get(EmailChallengeSweeper);
    const old = await started(alice, { context: { step: 'old' } });
    expect((await verify(alice.token, old.id, old.code)).status).toBe(200);
    t.clock.advance(RETENTION_H * 3_600_000 + 1);
    const fresh = await started(alice, { context: { step: 'fresh' } });
    expect((await verify(alice.token, fresh.id, fresh.code)).status).toBe(200);

    const first = await sweeper.sweep();
    expect(first.contexts).toBeGreaterThanOrEqual(1);
    expectEmailError(await consume(issuer.token, old.id), 404, 'STEP_UP_REQUEST_CONTEXT_NOT_FOUND');
    expect((await get(issuer.token, old.id)).body.status).toBe('VERIFIED');
    const claimed = await consume(issuer.token, fresh.id);
    expect(claimed.status).toBe(200);
    expect(claimed.body.context).toEqual({ step: 'fresh' });

    t.clock.advance(RETENTION_H * 3_600_000);
    const second = await sweeper.sweep();
    expect(second.challenges).toBeGreaterThanOrEqual(1);
    expectEmailError(await get(issuer.token, old.id), 404, 'CHALLENGE_NOT_FOUND');
    expectEmailError(await consume(issuer.token, old.id), 404, 'CHALLENGE_NOT_FOUND');
    expect((await get(issuer.token, fresh.id)).status).toBe(200);
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
    expect(codesSeen.length).toBeGreaterThan(10);
    const text = t.logs.join('\n');
    expect(text).toMatch(/challenge mail sent/);
    for (const code of codesSeen)
      expect(text).not.toMatch(new RegExp(`(?<![0-9A-Za-z])${code}(?![0-9A-Za-z])`));
    for (const email of [alice.email, bob.email]) expect(text).not.toContain(email);
    expect(text).toContain(`${alice.email[0]}***`);
  });
});

describe('email challenges with SMTP down', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let alice: HumanFixture;

  beforeAll(async () => {
    sink = await startSmtpSink();
    t = await createTestApp({
      env: { MAIL_TRANSPORT: 'smtp', SMTP_URL: sink.url, EMAIL_RESEND_COOLDOWN_SECONDS: '30' },
    });
    alice = await createHuman(t, await createOrg(t));
  });
  afterAll(async () => {
    await t?.close();
    await sink?.close();
  });

  const challengeRows = async () =>
    Number((await t.app.get(DataSource).query('SELECT COUNT(*) AS n FROM email_challenges'))[0].n);

  it('create: 503 INTERNAL_SERVER_ERROR and no challenge left behind; resend: 503, then retry at once when SMTP is back', async () => {
    const started = await t.http
      .post(BASE)
      .set(bearer(t.adminToken))
      .send({ userId: alice.userId, operation: 'payment.approve' });
    expect(started.status).toBe(201);
    const id = started.body.challengeId as string;
    const firstCode = codeIn(sink.lastTo(alice.email));
    const port = sink.port;
    await sink.close();

    const res = await t.http
      .post(BASE)
      .set(bearer(t.adminToken))
      .send({ userId: alice.userId, operation: 'payment.approve' });
    expectEmailError(res, 503, 'INTERNAL_SERVER_ERROR', /could not be sent/);
    expect(await challengeRows()).toBe(1);

    t.clock.advance(31_000);
    const resend = () => t.http.post(`${BASE}/${id}:resend`).set(bearer(alice.token));
    expectEmailError(await resend(), 503, 'INTERNAL_SERVER_ERROR', /could not be sent/);

    sink = await startSmtpSink(port);
    const again = await resend();
    expect(again.status).toBe(200);
    const code = codeIn(sink.lastTo(alice.email));
    if (code !== firstCode)
      expectEmailError(
        await t.http.post(`${BASE}/${id}:verify`).set(bearer(alice.token)).send({ totp: firstCode }),
        400,
        'INVALID_OTP',
      );
    expect(
      (await t.http.post(`${BASE}/${id}:verify`).set(bearer(alice.token)).send({ totp: code })).status,
    ).toBe(200);
    const text = t.logs.join('\n');
    expect(text).toMatch(/challenge mail could not be sent/);
    expect(text).not.toContain(alice.email);
    for (const c of [firstCode, code])
      expect(text).not.toMatch(new RegExp(`(?<![0-9A-Za-z])${c}(?![0-9A-Za-z])`));
  });
});

describe('email challenges with the log transport (embedded default)', () => {
  let t: TestApp;
  let alice: HumanFixture;

  beforeAll(async () => {
    t = await createTestApp();
    alice = await createHuman(t, await createOrg(t));
  });
  afterAll(async () => t?.close());

  it('logs that a mail went to the masked address, without the code or the address', async () => {
    const res = await t.http
      .post(BASE)
      .set(bearer(alice.token))
      .send({ userId: alice.userId, operation: 'payment.approve' });
    expect(res.status).toBe(201);
    const line = t.logs.find((l) => l.includes('challenge mail sent (log transport)'));
    expect(line).toBeDefined();
    const entry = JSON.parse(line!);
    expect(entry.to).toBe(res.body.maskedEmail);
    expect(entry.challengeId).toBe(res.body.challengeId);
    expect(entry.devCode).toBeUndefined();
    expect(t.logs.join('\n')).not.toContain(alice.email);
  });
});
