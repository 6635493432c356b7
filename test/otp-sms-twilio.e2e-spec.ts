import { createHuman, createOrg } from './helpers/factories';
import { FakeSmsProvider } from './helpers/fake-sms-provider';
import { settleLogs } from './helpers/logs';
import { bearer, createTestApp, TestApp } from './helpers/test-app';

const base = (userId: string) => `/resources/v3alpha/users/${userId}/otp_sms`;

async function addAndVerify(t: TestApp, number: string, readCode: () => Promise<string>) {
  const org = await createOrg(t);
  const user = await createHuman(t, org);
  const added = await t.http.post(base(user.userId)).set(bearer(user.token)).send({ number });
  expect(added.status).toBe(200);
  const code = await readCode();
  expect(code).toMatch(/^\d{8}$/);
  const verified = await t.http
    .post(`${base(user.userId)}/${added.body.otpSmsId}/_verify`)
    .set(bearer(user.token))
    .set('Content-Type', 'application/json')
    .send(JSON.stringify(code));
  expect(verified.status).toBe(200);
  return { user, id: added.body.otpSmsId as string, code };
}

describe('OTP SMS through the Twilio Messages API', () => {
  let t: TestApp;
  let twilio: FakeSmsProvider;

  beforeAll(async () => {
    twilio = await new FakeSmsProvider().start();
    t = await createTestApp({
      env: {
        SMS_PROVIDER: 'twilio',
        TWILIO_BASE_URL: twilio.url,
        TWILIO_ACCOUNT_SID: 'AC0123456789abcdef',
        TWILIO_AUTH_TOKEN: 'twilio-token',
        TWILIO_FROM: '+15005550006',
        SMS_TEMPLATE: 'Code {{code}} ({{minutes}} min)',
        SMS_CODE_TTL_SECONDS: '120',
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await twilio?.stop();
  });

  it('sends the code as a Twilio message and verifies with it', async () => {
    const number = '+41791230001';
    const { code } = await addAndVerify(t, number, () => Promise.resolve(twilio.last(number).code));
    const msg = twilio.last(number);
    expect(msg.path).toBe('/2010-04-01/Accounts/AC0123456789abcdef/Messages.json');
    expect(msg.headers.authorization).toBe(
      'Basic ' + Buffer.from('AC0123456789abcdef:twilio-token').toString('base64'),
    );
    expect(msg.form?.get('From')).toBe('+15005550006');
    expect(msg.form?.get('To')).toBe(number);
    expect(msg.text).toBe(`Code ${code} (2 min)`);
    await settleLogs(t);
    const logs = t.logs.join('\n');
    expect(logs).not.toContain(code);
    expect(logs).not.toContain(number);
    expect(logs).not.toContain('twilio-token');
  });

  it('answers 503 when Twilio refuses the request', async () => {
    twilio.failWith = 401;
    try {
      const org = await createOrg(t);
      const user = await createHuman(t, org);
      const res = await t.http
        .post(base(user.userId))
        .set(bearer(user.token))
        .send({ number: '+41791230002' });
      expect(res.status).toBe(503);
      expect(res.body.code).toBe(14);
    } finally {
      twilio.failWith = undefined;
    }
  });
});
