import { createHuman, createOrg } from './helpers/factories';
import { settleLogs, waitForLog } from './helpers/logs';
import { bearer, createTestApp, TestApp } from './helpers/test-app';

// One app per file: nestjs-pino keeps one log destination per process (the first app's).
describe('OTP SMS with the log provider (the default)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t?.close());

  it('logs a masked number and no code (SMS_LOG_CODES is off by default)', async () => {
    expect(t.config.sms.provider).toBe('log');
    expect(t.config.sms.logCodes).toBe(false);
    const org = await createOrg(t);
    const user = await createHuman(t, org);
    const number = '+41791230003';
    const res = await t.http
      .post(`/resources/v3alpha/users/${user.userId}/otp_sms`)
      .set(bearer(user.token))
      .send({ number });
    expect(res.status).toBe(200);
    const line = await waitForLog(t, (l) => l.includes('SMS to +41…03: code sent'));
    expect(JSON.parse(line).requestId).toEqual(expect.any(String));
    await settleLogs(t);
    const logs = t.logs.join('\n');
    expect(logs).not.toContain(number);
    expect(logs).not.toContain(number.slice(3));
    // A standalone 8-digit number would be a code; request ids are UUIDs, whose first group can
    // be 8 decimal digits, so digits joined to a hyphen or other word characters do not count.
    expect(logs).not.toMatch(/(?<![\w-])\d{8}(?![\w-])/);
  });
});
