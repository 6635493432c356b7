import * as http from 'node:http';
import { DataSource } from 'typeorm';
import { emailCode, zitadelInvalid } from './helpers/error-bodies';
import { createHuman, createOrg } from './helpers/factories';
import { createTestApp, TestApp } from './helpers/test-app';

const MESSAGE =
  'unsupported media type: the request body must be JSON sent as Content-Type: application/json (UTF-8)';

interface RawAnswer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * One request with exactly these headers (supertest adds a Content-Type of its own to string bodies).
 * `chunked` sends the body with Transfer-Encoding instead of Content-Length.
 */
function raw(
  t: TestApp,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
  chunked = false,
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${t.baseUrl}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
        });
      });
    });
    req.on('error', reject);
    if (body !== undefined && !chunked) req.setHeader('Content-Length', String(Buffer.byteLength(body)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

describe('request bodies that are not application/json (both adapters alike)', () => {
  let t: TestApp;
  let auth: Record<string, string>;
  const orgCount = async () =>
    Number(
      (
        (await t.app.get(DataSource).query('SELECT COUNT(*) AS n FROM organizations')) as {
          n: number | string;
        }[]
      )[0].n,
    );

  beforeAll(async () => {
    t = await createTestApp();
    auth = { Authorization: `Bearer ${t.adminToken}` };
  });
  afterAll(async () => t.close());

  const orgBody = (name: string) => JSON.stringify({ name });

  it.each([
    ['text/plain', { 'Content-Type': 'text/plain' }],
    ['text/plain; charset=utf-8', { 'Content-Type': 'text/plain; charset=utf-8' }],
    ['no Content-Type', {}],
    ['application/x-www-form-urlencoded', { 'Content-Type': 'application/x-www-form-urlencoded' }],
    ['application/grpc', { 'Content-Type': 'application/grpc' }],
    ['a +json type', { 'Content-Type': 'application/merge-patch+json' }],
    ['application/json in another charset', { 'Content-Type': 'application/json; charset=iso-8859-1' }],
    ['a Content-Type that does not parse', { 'Content-Type': '/' }],
  ])('refuses a body sent with %s: 415 naming application/json, nothing created', async (_name, headers) => {
    const before = await orgCount();
    const res = await raw(t, 'POST', '/v2/organizations', { ...auth, ...headers }, orgBody(`Media ${_name}`));
    expect(res).toEqual({ status: 415, body: zitadelInvalid(MESSAGE) });
    expect(await orgCount()).toBe(before);
  });

  it('judges a chunked body like any other', async () => {
    const before = await orgCount();
    const res = await raw(
      t,
      'POST',
      '/v2/organizations',
      { ...auth, 'Content-Type': 'text/plain' },
      orgBody('Chunked'),
      true,
    );
    expect(res).toEqual({ status: 415, body: zitadelInvalid(MESSAGE) });
    expect(await orgCount()).toBe(before);
    const json = await raw(
      t,
      'POST',
      '/v2/organizations',
      { ...auth, 'Content-Type': 'application/json' },
      orgBody('Chunked JSON'),
      true,
    );
    expect(json.status).toBe(200);
  });

  it.each([
    ['application/json', 'application/json'],
    ['with charset=utf-8', 'application/json; charset=utf-8'],
    ['in other letter case', 'Application/JSON; Charset="UTF-8"'],
  ])('accepts application/json %s', async (_name, type) => {
    const res = await raw(
      t,
      'POST',
      '/v2/organizations',
      { ...auth, 'Content-Type': type },
      orgBody(`Accepted ${_name}`),
    );
    expect(res.status).toBe(200);
    expect(res.body.organizationId).toEqual(expect.any(String));
  });

  it('reads a bodiless POST as {} whatever its Content-Type says', async () => {
    const orgId = await createOrg(t);
    for (const headers of <Record<string, string>[]>[
      {},
      { 'Content-Type': 'text/plain' },
      { 'Content-Type': 'application/x-www-form-urlencoded' },
    ]) {
      const user = await createHuman(t, orgId);
      const mine = { Authorization: `Bearer ${user.token}` };
      // Register TOTP takes an empty body: once without any body, once with an empty one.
      const none = await raw(t, 'POST', `/v2/users/${user.userId}/totp`, { ...mine, ...headers });
      expect(none.status).toBe(200);
      expect(none.body.uri).toMatch(/^otpauth:\/\/totp\//);
      const empty = await raw(t, 'POST', `/v2/users/${user.userId}/totp`, { ...mine, ...headers }, '');
      expect(empty.status).toBe(200);
    }
  });

  it('answers in the email-challenge format on its routes: its code, status 415', async () => {
    const res = await raw(
      t,
      'POST',
      '/internal/v1/mfa/totp-email',
      { ...auth, 'Content-Type': 'text/plain', 'X-Request-Id': 'media-type-0001' },
      JSON.stringify({ userId: '1', operation: 'x' }),
    );
    expect(res.status).toBe(415);
    expect(res.body).toEqual({
      code: emailCode('BAD_REQUEST'),
      message: MESSAGE,
      requestId: 'media-type-0001',
      fieldErrors: [],
      status: 415,
      timestamp: expect.any(String),
      path: '/internal/v1/mfa/totp-email',
    });
  });

  it('refuses the bare-string code body of OTP SMS _verify as text/plain too', async () => {
    const res = await raw(
      t,
      'POST',
      '/resources/v3alpha/users/1/otp_sms/2/_verify',
      { ...auth, 'Content-Type': 'text/plain' },
      '"12345678"',
    );
    expect(res).toEqual({ status: 415, body: zitadelInvalid(MESSAGE) });
  });
});
