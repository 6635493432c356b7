import { Type } from '@nestjs/common';
import { createHuman, createMachine, createOrg, grantInstanceRoles, HumanFixture } from './factories';
import { codeIn, startSmtpSink, SmtpSink } from './smtp-sink';
import { bearer, createTestApp, TestApp } from './test-app';

export const BASE = '/internal/v1/mfa/totp-email';
export const MAX_ATTEMPTS = 3;
export const COOLDOWN_S = 30;
export const RETENTION_H = 24;

/** Another six-digit code than `code` (its last digit changed). */
export function otherCode(code: string): string {
  return code.slice(0, 5) + String((Number(code[5]) + 1) % 10);
}

/**
 * The email-challenge suites' app on the SMTP transport (a sink that keeps every mail), with two
 * users (alice, bob), an issuer holding MFA_CHALLENGE_ISSUER and a machine user without it, and the
 * calls of the API as short functions. Every code a suite reads from a mail is remembered, so the
 * suite can prove at its end that none was logged.
 *
 * Each suite file makes one: `const f = new EmailChallengeFixture(); beforeAll(() => f.start()); afterAll(() => f.stop());`
 */
export class EmailChallengeFixture {
  t: TestApp;
  sink: SmtpSink;
  alice: HumanFixture;
  bob: HumanFixture;
  issuer: { userId: string; token: string };
  stranger: { userId: string; token: string };
  readonly codesSeen: string[] = [];

  /** `extraModules`: test-only modules compiled into the app (e.g. a probe route). */
  constructor(private readonly extraModules: Type[] = []) {}

  async start(): Promise<void> {
    this.sink = await startSmtpSink();
    this.t = await createTestApp({
      env: {
        MAIL_TRANSPORT: 'smtp',
        SMTP_URL: this.sink.url,
        MAIL_FROM: 'MFA <mfa@example.org>',
        MAIL_SUBJECT: 'Your step-up code',
        OTP_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
        EMAIL_RESEND_COOLDOWN_SECONDS: String(COOLDOWN_S),
        CHALLENGE_RETENTION_HOURS: String(RETENTION_H),
        STEP_UP_FOR_FACTOR_REMOVAL: 'true',
      },
      extraModules: this.extraModules,
    });
    const org = await createOrg(this.t);
    this.alice = await createHuman(this.t, org);
    this.bob = await createHuman(this.t, org);
    this.issuer = await createMachine(this.t, org);
    await grantInstanceRoles(this.t, this.issuer.userId, ['MFA_CHALLENGE_ISSUER']);
    this.stranger = await createMachine(this.t, org);
  }

  async stop(): Promise<void> {
    await this.t?.close();
    await this.sink?.close();
  }

  create = (token: string, body: Record<string, unknown>) =>
    this.t.http.post(BASE).set(bearer(token)).send(body);

  /** Creates a challenge for `user` (as the issuer) and returns its id and the code from the received mail. */
  started = async (
    user: HumanFixture,
    body: Record<string, unknown> = {},
  ): Promise<{ id: string; code: string }> => {
    const res = await this.create(this.issuer.token, {
      userId: user.userId,
      operation: 'payment.approve',
      ...body,
    });
    expect(res.status).toBe(201);
    const code = codeIn(this.sink.lastTo(user.email));
    this.codesSeen.push(code);
    return { id: res.body.challengeId as string, code };
  };

  verify = (token: string, id: string, totp: unknown) =>
    this.t.http.post(`${BASE}/${id}:verify`).set(bearer(token)).send({ totp });
  consume = (token: string, id: string) => this.t.http.post(`${BASE}/${id}:consume`).set(bearer(token));
  get = (token: string, id: string) => this.t.http.get(`${BASE}/${id}`).set(bearer(token));

  /**
   * No code the suite saw (more than `minCodes` of them, so the check is not vacuous) and neither
   * user's email address is in any log line; the masked address is.
   */
  expectNothingSecretLogged(minCodes: number): void {
    expect(this.codesSeen.length).toBeGreaterThan(minCodes);
    const text = this.t.logs.join('\n');
    expect(text).toMatch(/challenge mail sent/);
    for (const code of this.codesSeen)
      expect(text).not.toMatch(new RegExp(`(?<![0-9A-Za-z])${code}(?![0-9A-Za-z])`));
    for (const email of [this.alice.email, this.bob.email]) expect(text).not.toContain(email);
    expect(text).toContain(`${this.alice.email[0]}***`);
  }
}
