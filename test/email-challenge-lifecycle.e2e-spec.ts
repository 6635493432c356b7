import { EmailChallengeSweeper } from '../src/email-challenge/email-challenge.sweeper';
import { expectEmailError } from './helpers/error-bodies';
import { BASE, MAX_ATTEMPTS, RETENTION_H, EmailChallengeFixture } from './helpers/email-challenge';
import { createHuman, createOrg, HumanFixture } from './helpers/factories';
import { codeIn, SmtpSink } from './helpers/smtp-sink';
import { bearer, createTestApp, TestApp } from './helpers/test-app';

/**
 * The email step-up challenge life cycle: create → mail over SMTP → verify → consume once, who may
 * start, read and verify, expiry by the clock, unknown ids, the sweeper, and what reaches the logs.
 * Attempt limits, the resend cooldown, races and SMTP failures are in email-challenge-limits; validation,
 * routing, step-up and the OpenAPI document in email-challenge-contract.
 */
describe('email challenges (SMTP transport): life cycle', () => {
  const f = new EmailChallengeFixture();
  const { create, started, verify, consume, get, codesSeen } = f;
  let t: TestApp;
  let sink: SmtpSink;
  let alice: HumanFixture;
  let bob: HumanFixture;
  let issuer: { userId: string; token: string };
  let stranger: { userId: string; token: string };

  beforeAll(async () => {
    await f.start();
    ({ t, sink, alice, bob, issuer, stranger } = f);
  });
  afterAll(async () => f.stop());

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

  it('never logs a code or a full email address', () => {
    f.expectNothingSecretLogged(5);
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
