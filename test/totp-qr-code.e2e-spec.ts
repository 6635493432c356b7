import { createHuman, createOrg } from './helpers/factories';
import { decodeSvgQr } from './helpers/qr';
import { bearer, createTestApp, TestApp } from './helpers/test-app';

describe('TOTP enrolment QR code (v2 RegisterTOTP, v1 AddMyAuthFactorOTP)', () => {
  let t: TestApp;
  let orgId: string;

  beforeAll(async () => {
    t = await createTestApp({ env: { TOTP_ISSUER: 'ACME Login' } });
    orgId = await createOrg(t);
  });
  afterAll(async () => t.close());

  it('v2: qrCode follows uri and secret and decodes back to the otpauth URI', async () => {
    const u = await createHuman(t, orgId);
    const res = await t.http.post(`/v2/users/${u.userId}/totp`).set(bearer(u.token)).send({});
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['details', 'uri', 'secret', 'qrCode']);
    expect(res.body.qrCode).toMatch(/^data:image\/svg\+xml;base64,[A-Za-z0-9+/]+=*$/);
    expect(decodeSvgQr(res.body.qrCode)).toBe(res.body.uri);
  });

  it('v1: qrCode follows url, secret and details and decodes back to the otpauth URL', async () => {
    const u = await createHuman(t, orgId);
    const res = await t.http.post('/auth/v1/users/me/auth_factors/otp').set(bearer(u.token)).send({});
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['url', 'secret', 'details', 'qrCode']);
    expect(decodeSvgQr(res.body.qrCode)).toBe(res.body.url);
    expect(res.body.url).toContain(`secret=${res.body.secret}`);
  });

  it('the decoder is no rubber stamp: a QR code of another URI decodes to that URI', async () => {
    const u = await createHuman(t, orgId);
    const a = await t.http.post(`/v2/users/${u.userId}/totp`).set(bearer(u.token)).send({});
    const b = await t.http.post(`/v2/users/${u.userId}/totp`).set(bearer(u.token)).send({});
    expect(a.body.secret).not.toBe(b.body.secret);
    expect(decodeSvgQr(a.body.qrCode)).not.toBe(b.body.uri);
    expect(decodeSvgQr(b.body.qrCode)).toBe(b.body.uri);
  });
});
