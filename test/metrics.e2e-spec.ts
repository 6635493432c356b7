import { createHuman, createOrg, HumanFixture } from './helpers/factories';
import { FakeSmsProvider } from './helpers/fake-sms-provider';
import { allLabelValues, MetricFamily, parsePrometheusText, sampleValue } from './helpers/prometheus';
import { bearer, createTestApp, TestApp } from './helpers/test-app';
import { codeAt, readyTotp } from './helpers/totp';
import { settleLogs } from './helpers/logs';

const MAX_ATTEMPTS = 3;
const EMAIL_BASE = '/internal/v1/mfa/totp-email';
const smsBase = (userId: string) => `/resources/v3alpha/users/${userId}/otp_sms`;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const VERSION = (require('../package.json') as { version: string }).version;

/** A six-digit code that is not `code`. */
const otherCode = (code: string) => String((Number(code) + 500_000) % 1_000_000).padStart(6, '0');

describe('Prometheus metrics on the management port', () => {
  let t: TestApp;
  let sms: FakeSmsProvider;
  let orgId: string;
  /** Everything personal or secret the tests sent or saw: none may appear in a label. */
  const secrets = new Set<string>();

  beforeAll(async () => {
    sms = await new FakeSmsProvider().start();
    t = await createTestApp({
      metrics: true,
      env: {
        OTP_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
        SMS_PROVIDER: 'webhook',
        SMS_WEBHOOK_URL: sms.url + '/sms',
        SMS_RETRIES: '0',
        SMS_TIMEOUT_MS: '2000',
        MAIL_LOG_CODES: 'true',
      },
    });
    orgId = await createOrg(t);
    secrets.add(orgId);
  });
  afterAll(async () => {
    await t?.close();
    await sms?.stop();
  });

  async function scrape(): Promise<Map<string, MetricFamily>> {
    const res = await fetch(t.metricsUrl!);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    return parsePrometheusText(await res.text());
  }

  async function human(opts: { phone?: string } = {}): Promise<HumanFixture> {
    const user = await createHuman(t, orgId, opts);
    for (const v of [user.userId, user.email, user.username, user.token]) secrets.add(v);
    return user;
  }

  const verifyCount = (m: Map<string, MetricFamily>, factor: string, result: string) =>
    sampleValue(m, 'mfa_verify_attempts_total', { factor, result });
  const lockouts = (m: Map<string, MetricFamily>, factor: string) =>
    sampleValue(m, 'mfa_lockouts_total', { factor });

  /** How each verify counter of `factor` moved between two scrapes (only those that moved). */
  function moved(
    before: Map<string, MetricFamily>,
    after: Map<string, MetricFamily>,
    factor: string,
  ): Record<string, number> {
    const out: Record<string, number> = {};
    for (const result of ['success', 'invalid', 'replayed', 'locked', 'expired', 'not_found']) {
      const d = verifyCount(after, factor, result) - verifyCount(before, factor, result);
      if (d !== 0) out[result] = d;
    }
    const l = lockouts(after, factor) - lockouts(before, factor);
    if (l !== 0) out.lockoutsStarted = l;
    return out;
  }

  it('serves process, event-loop, build and (PostgreSQL) pool metrics in the text format; only GET /metrics', async () => {
    const m = await scrape();
    expect(m.get('process_cpu_user_seconds_total')?.type).toBe('counter');
    expect(m.get('process_resident_memory_bytes')?.type).toBe('gauge');
    expect(m.get('nodejs_eventloop_lag_seconds')?.type).toBe('gauge');
    expect(sampleValue(m, 'mfa_build_info', { version: VERSION, node: process.version })).toBe(1);
    // Every verify series exists before the first attempt.
    for (const factor of ['totp', 'otp_sms', 'email_challenge']) {
      for (const result of ['success', 'invalid', 'replayed', 'locked', 'expired', 'not_found']) {
        expect(Number.isFinite(verifyCount(m, factor, result))).toBe(true);
      }
    }
    if (t.db === 'postgres') {
      expect(sampleValue(m, 'mfa_db_pool_connections_in_use')).toBeGreaterThanOrEqual(0);
      expect(sampleValue(m, 'mfa_db_pool_requests_waiting')).toBe(0);
      expect(sampleValue(m, 'mfa_db_pool_size')).toBe(5);
    } else {
      expect(m.has('mfa_db_pool_connections_in_use')).toBe(false);
    }
    const other = await fetch(t.metricsUrl!.replace('/metrics', '/v2/users/x'));
    expect(other.status).toBe(404);
    await other.text();
  });

  it('counts TOTP successes, wrong codes, replays, the lockout and locked attempts', async () => {
    const user = await human();
    const secret = await readyTotp(t, user.userId, user.token); // one registration verify: success
    const before = await scrape();
    const check = (code: string) =>
      t.http.post(`/v2/users/${user.userId}/totp/_check`).set(bearer(user.token)).send({ code });
    const good = codeAt(t, secret);
    secrets.add(good);
    expect((await check(good)).status).toBe(200);
    expect((await check(good)).status).toBe(400); // the same code again: a replay
    for (let i = 0; i < MAX_ATTEMPTS; i++)
      expect((await check(otherCode(codeAt(t, secret)))).status).toBe(400);
    expect((await check(codeAt(t, secret, 1))).status).toBe(429); // locked, even with a good code
    const after = await scrape();
    expect(moved(before, after, 'totp')).toEqual({
      success: 1,
      replayed: 1,
      invalid: MAX_ATTEMPTS,
      locked: 1,
      lockoutsStarted: 1,
    });
    // the registration verify before the first scrape counted too
    expect(verifyCount(before, 'totp', 'success')).toBeGreaterThanOrEqual(1);

    // A TOTP that does not exist.
    const none = await human();
    expect(
      (
        await t.http
          .post(`/v2/users/${none.userId}/totp/_check`)
          .set(bearer(none.token))
          .send({ code: '123456' })
      ).status,
    ).toBe(404);
    expect(moved(after, await scrape(), 'totp')).toEqual({ not_found: 1 });
  });

  it('counts OTP SMS sends (sent and failed, by provider) and verify outcomes', async () => {
    const number = '+41791230001';
    secrets.add(number);
    const user = await human();
    const before = await scrape();
    const add = await t.http.post(smsBase(user.userId)).set(bearer(user.token)).send({ number });
    expect(add.status).toBe(200);
    const id = add.body.otpSmsId as string;
    secrets.add(id);
    const code = sms.last(number).code;
    secrets.add(code);
    const verify = (c: string) =>
      t.http
        .post(`${smsBase(user.userId)}/${id}/_verify`)
        .set(bearer(user.token))
        .set('Content-Type', 'application/json')
        .send(JSON.stringify(c));
    expect((await verify(String((Number(code) + 1) % 100_000_000).padStart(8, '0'))).status).toBe(400);
    expect((await verify(code)).status).toBe(200);
    t.clock.advance(31_000); // past the resend cooldown
    sms.failWith = 500;
    try {
      const again = await t.http
        .post(`${smsBase(user.userId)}/${id}/_challenge`)
        .set(bearer(user.token))
        .send({});
      expect(again.status).toBe(503);
    } finally {
      sms.failWith = undefined;
    }
    const after = await scrape();
    expect(moved(before, after, 'otp_sms')).toEqual({ invalid: 1, success: 1 });
    const sends = (m: Map<string, MetricFamily>, result: string) =>
      sampleValue(m, 'mfa_sms_sends_total', { provider: 'webhook', result });
    expect(sends(after, 'sent') - sends(before, 'sent')).toBe(1);
    expect(sends(after, 'failed') - sends(before, 'failed')).toBe(1);
  });

  it('counts email challenge outcomes and mail sends', async () => {
    const user = await human();
    const before = await scrape();
    const created = await t.http
      .post(EMAIL_BASE)
      .set(bearer(t.adminToken))
      .send({ userId: user.userId, operation: 'payment.approve' });
    expect(created.status).toBe(201);
    const id = created.body.challengeId as string;
    secrets.add(id);
    await settleLogs(t);
    const line = t.logs.find((l) => l.includes('"devCode"') && l.includes(id));
    const code = (JSON.parse(line!) as { devCode: string }).devCode;
    secrets.add(code);
    const verify = (totp: string) =>
      t.http.post(`${EMAIL_BASE}/${id}:verify`).set(bearer(user.token)).send({ totp });
    expect((await verify(otherCode(code))).status).toBe(400);
    expect((await verify(code)).status).toBe(200);
    expect((await verify(code)).status).toBe(410); // already verified
    const unknown = await t.http
      .post(`${EMAIL_BASE}/nope0000:verify`)
      .set(bearer(t.adminToken))
      .send({ totp: '123456' });
    expect(unknown.status).toBe(404);
    const after = await scrape();
    expect(moved(before, after, 'email_challenge')).toEqual({
      invalid: 1,
      success: 1,
      replayed: 1,
      not_found: 1,
    });
    const mails = (m: Map<string, MetricFamily>) =>
      sampleValue(m, 'mfa_mail_sends_total', { provider: 'log', result: 'sent' });
    expect(mails(after) - mails(before)).toBe(1);
  });

  it('times requests by route template, method and status, pre-routing errors and unknown paths included', async () => {
    const user = await human();
    const check = `/v2/users/${user.userId}/totp/_check`;
    const before = await scrape();
    const count = (m: Map<string, MetricFamily>, route: string, method: string, status: string) => {
      try {
        return sampleValue(m, 'mfa_http_request_duration_seconds_count', { route, method, status });
      } catch {
        return 0;
      }
    };
    // Malformed JSON: refused by the body parser, before any Nest handler or interceptor runs.
    const malformed = await t.http
      .post(check)
      .set(bearer(user.token))
      .set('Content-Type', 'application/json')
      .send('{"code":');
    expect(malformed.status).toBe(400);
    expect((await t.http.get(`/v2/no-such-route/${user.userId}`).set(bearer(user.token))).status).toBe(404);
    expect((await t.http.get(`/v2/users/${user.userId}`).set(bearer(user.token))).status).toBe(200);
    expect((await t.http.get('/healthz')).status).toBe(200);
    const after = await scrape();
    expect(
      count(after, '/v2/users/:userId/totp/_check', 'POST', '400') -
        count(before, '/v2/users/:userId/totp/_check', 'POST', '400'),
    ).toBe(1);
    expect(count(after, 'unmatched', 'GET', '404') - count(before, 'unmatched', 'GET', '404')).toBe(1);
    expect(
      count(after, '/v2/users/:userId', 'GET', '200') - count(before, '/v2/users/:userId', 'GET', '200'),
    ).toBe(1);
    expect(count(after, '/healthz', 'GET', '200') - count(before, '/healthz', 'GET', '200')).toBe(1);
    const family = after.get('mfa_http_request_duration_seconds')!;
    expect(family.type).toBe('histogram');
    const routes = new Set(family.samples.map((s) => s.labels.route));
    for (const route of routes) expect(route === 'unmatched' || /^\/[\w/:.-]*$/.test(route)).toBe(true);
    expect([...routes].some((r) => r.includes(user.userId))).toBe(false);
  });

  it('holds no id, code, phone number or email address in any label', async () => {
    const values = allLabelValues(await scrape());
    expect(values.length).toBeGreaterThan(50);
    expect(secrets.size).toBeGreaterThan(10);
    const leaks = values.filter(
      (v) => /@|\+\d{6,}|\d{6,}/.test(v) || [...secrets].some((s) => v.includes(s)),
    );
    expect(leaks).toEqual([]);
  });
});

describe('the management server', () => {
  it('closes with the app', async () => {
    const t = await createTestApp({ metrics: true });
    const url = t.metricsUrl!;
    const res = await fetch(url);
    expect(res.status).toBe(200);
    await res.text();
    await t.close();
    await expect(fetch(url)).rejects.toThrow();
  });

  it('is off with METRICS_PORT=0: no server, nothing measured', async () => {
    const t = await createTestApp();
    try {
      expect(t.config.metrics).toBeUndefined();
      expect(t.metricsUrl).toBeUndefined();
    } finally {
      await t.close();
    }
  });
});
