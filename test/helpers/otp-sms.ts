import { createHuman, createOrg, grantOrgRoles, HumanFixture } from './factories';
import { FakeSmsProvider } from './fake-sms-provider';
import { settleLogs } from './logs';
import { bearer, createTestApp, TestApp } from './test-app';

export const NOW = Date.UTC(2030, 0, 15, 10, 0, 0);
export const SECRET = 'webhook-secret-0123456789abcdef';
export const DAILY_LIMIT = 3;
export const base = (userId: string) => `/resources/v3alpha/users/${userId}/otp_sms`;

/**
 * The OTP SMS (v3alpha) suites' app: the webhook SMS provider (a fake that records every message),
 * two organisations and an ORG_OWNER of the first, and the calls of the API as short functions. Every
 * code and number a suite sees is remembered, so the suite can prove at its end that none was logged.
 *
 * Each suite file makes one: `const f = new OtpSmsFixture(); beforeAll(() => f.start()); afterAll(() => f.stop());`
 */
export class OtpSmsFixture {
  t: TestApp;
  sms: FakeSmsProvider;
  orgId: string;
  otherOrgId: string;
  owner: HumanFixture;
  readonly seenCodes = new Set<string>();
  readonly seenNumbers = new Set<string>();
  private counter = 0;

  async start(): Promise<void> {
    this.sms = await new FakeSmsProvider().start();
    this.t = await createTestApp({
      now: NOW,
      env: {
        SMS_PROVIDER: 'webhook',
        SMS_WEBHOOK_URL: this.sms.url + '/sms',
        SMS_WEBHOOK_SECRET: SECRET,
        SMS_DAILY_LIMIT_PER_NUMBER: String(DAILY_LIMIT),
        SMS_RETRIES: '1',
        SMS_TIMEOUT_MS: '2000',
      },
    });
    this.orgId = await createOrg(this.t);
    this.otherOrgId = await createOrg(this.t);
    this.owner = await createHuman(this.t, this.orgId);
    await grantOrgRoles(this.t, this.orgId, this.owner.userId, ['ORG_OWNER']);
  }

  async stop(): Promise<void> {
    await this.t?.close();
    await this.sms?.stop();
  }

  /** A fresh valid Swiss mobile number per call, so per-number counters do not leak between tests. */
  newNumber = () => `+41791${String(++this.counter).padStart(6, '0')}`;

  add = (token: string, userId: string, body: unknown, query = '') =>
    this.t.http
      .post(base(userId) + query)
      .set(bearer(token))
      .send(body as object);
  postCode = (
    token: string,
    userId: string,
    id: string,
    action: '_verify' | '_check',
    code: unknown,
    query = '',
  ) =>
    this.t.http
      .post(`${base(userId)}/${id}/${action}${query}`)
      .set(bearer(token))
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(code));
  verify = (token: string, userId: string, id: string, code: unknown, query = '') =>
    this.postCode(token, userId, id, '_verify', code, query);
  resend = (token: string, userId: string, id: string, body: object = {}) =>
    this.t.http
      .post(`${base(userId)}/${id}/_resend`)
      .set(bearer(token))
      .send(body);
  challenge = (token: string, userId: string, id: string, body: object = {}) =>
    this.t.http
      .post(`${base(userId)}/${id}/_challenge`)
      .set(bearer(token))
      .send(body);
  remove = (token: string, userId: string, id: string, query = '') =>
    this.t.http.delete(`${base(userId)}/${id}${query}`).set(bearer(token));
  /** The code of the last SMS to the number (remembered as seen). */
  codeFor = (number: string) => {
    const code = this.sms.last(number).code;
    this.seenCodes.add(code);
    return code;
  };
  wrongCode = (code: string) => String((Number(code) + 1) % 100_000_000).padStart(8, '0');

  /** A user with a pending authenticator whose code arrived by SMS. */
  pending = async (user?: HumanFixture) => {
    const u = user ?? (await createHuman(this.t, this.orgId));
    const number = this.newNumber();
    this.seenNumbers.add(number);
    const res = await this.add(u.token, u.userId, { number });
    expect(res.status).toBe(200);
    return { user: u, number, id: res.body.otpSmsId as string, code: this.codeFor(number) };
  };

  /** A user with a ready authenticator. */
  ready = async () => {
    const p = await this.pending();
    expect((await this.verify(p.user.token, p.user.userId, p.id, p.code)).status).toBe(200);
    return p;
  };

  /**
   * No code and no full phone number the suite saw is in any log line (at least `min` of each seen,
   * so the check is not vacuous).
   */
  async expectNothingSecretLogged(min: { codes: number; numbers: number }): Promise<string> {
    await settleLogs(this.t);
    expect(this.seenCodes.size).toBeGreaterThan(min.codes);
    expect(this.seenNumbers.size).toBeGreaterThan(min.numbers);
    const logs = this.t.logs.join('\n');
    expect(logs.length).toBeGreaterThan(0);
    for (const code of this.seenCodes) expect(logs).not.toContain(code);
    for (const number of this.seenNumbers) {
      expect(logs).not.toContain(number);
      expect(logs).not.toContain(number.slice(3));
    }
    return logs;
  }
}
