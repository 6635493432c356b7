import { DataSource } from 'typeorm';
import { expectEmailError } from './helpers/error-bodies';
import { BASE, COOLDOWN_S, MAX_ATTEMPTS, otherCode, EmailChallengeFixture } from './helpers/email-challenge';
import { createHuman, createOrg, HumanFixture } from './helpers/factories';
import { codeIn, startSmtpSink, SmtpSink } from './helpers/smtp-sink';
import { bearer, createTestApp, TestApp } from './helpers/test-app';

/**
 * Email challenge limits: wrong codes counted up to OTP_MAX_ATTEMPTS then locked, the resend cooldown,
 * parallel verifies and consumes with exactly one winner, parallel guesses within the budget; and the
 * answers while the SMTP relay is down.
 */
describe('email challenges (SMTP transport): attempt limits, resend cooldown and races', () => {
  const f = new EmailChallengeFixture();
  const { started, verify, consume, get, codesSeen } = f;
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

  it('never logs a code or a full email address', () => {
    f.expectNothingSecretLogged(3);
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
