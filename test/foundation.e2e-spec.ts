import { DataSource } from 'typeorm';
import { createHuman, createOrg } from './helpers/factories';
import { settleLogs } from './helpers/logs';
import { bearer, createTestApp, TestApp } from './helpers/test-app';

interface LogLine {
  msg: string;
  requestId?: string;
  level: number;
  req?: unknown;
  err?: { stack?: string };
  [key: string]: unknown;
}

/** Log lines written since `from`, once the access log line of the request has arrived. */
async function linesOfRequest(t: TestApp, from: number, requestId: string): Promise<LogLine[]> {
  const parsed = () => t.logs.slice(from).map((l) => JSON.parse(l) as LogLine);
  // pino-http writes the access line on the response's 'finish'; give it a moment to land.
  for (let i = 0; i < 100 && !parsed().some((l) => l.requestId === requestId && l.req); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  return parsed();
}

describe('foundation: errors, request ids, health', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('serves liveness and readiness', async () => {
    await t.http.get('/healthz').expect(200, { status: 'ok' });
    await t.http.get('/readyz').expect(200, { status: 'ok', database: 'up' });
  });

  it('renders malformed JSON in the ZITADEL format, with the request id', async () => {
    const res = await t.http
      .post('/v2/organizations')
      .set(bearer(t.adminToken))
      .set('X-Request-Id', 'malformed-json-0001')
      .set('Content-Type', 'application/json')
      .send('{"name":');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ code: 3, message: 'request body is not valid JSON' });
    expect(res.headers['x-request-id']).toBe('malformed-json-0001');
  });

  it('refuses a body that is not JSON with a 4xx in the ZITADEL format, creating nothing', async () => {
    const count = async () =>
      Number(
        (
          (await t.app.get(DataSource).query('SELECT COUNT(*) AS n FROM organizations')) as {
            n: number | string;
          }[]
        )[0].n,
      );
    const before = await count();
    const res = await t.http
      .post('/v2/organizations')
      .set(bearer(t.adminToken))
      .set('Content-Type', 'text/plain')
      .send(JSON.stringify({ name: 'Plain Text Org' }));
    // Both adapters refuse it alike (test/body-media-type.e2e-spec.ts has the other media types).
    expect(res.status).toBe(415);
    expect(res.body).toEqual({ code: 3, message: expect.stringContaining('Content-Type: application/json') });
    expect(await count()).toBe(before);
  });

  it('reads an empty JSON body as {} and ignores a trailing slash, on either adapter', async () => {
    const user = await createHuman(t, await createOrg(t));
    // A client that always sends Content-Type: application/json, also without a body (Fastify alone would refuse it).
    const res = await t.http
      .post(`/v2/users/${user.userId}/totp/`)
      .set(bearer(user.token))
      .set('Content-Type', 'application/json');
    expect(res.status).toBe(200);
    expect(res.body.uri).toMatch(/^otpauth:\/\/totp\//);
  });

  it('answers unknown routes with 404 and wrong methods with 405', async () => {
    const nf = await t.http.get('/v2/nothing-here').set(bearer(t.adminToken));
    expect(nf.status).toBe(404);
    expect(nf.body).toEqual({ code: 5, message: 'Not Found' });
    const na = await t.http.patch('/v2/organizations').set(bearer(t.adminToken));
    expect(na.status).toBe(405);
    expect(na.body).toEqual({ code: 12, message: 'Method Not Allowed' });
    expect(na.headers['allow']).toBe('POST');
  });

  it('rejects oversize bodies with 413 (limit 64 KiB)', async () => {
    const res = await t.http
      .post('/v2/organizations')
      .set(bearer(t.adminToken))
      .set('X-Request-Id', 'oversize-body-0001')
      .send({ name: 'x'.repeat(70 * 1024) });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ code: 8, message: 'request body too large' });
    expect(res.headers['x-request-id']).toBe('oversize-body-0001');
    // Just under the limit is parsed (and then refused by validation, not by size).
    const fits = await t.http
      .post('/v2/organizations')
      .set(bearer(t.adminToken))
      .send({ name: 'x'.repeat(60 * 1024) });
    expect(fits.status).toBe(400);
    expect(fits.body.code).toBe(3);
    expect(fits.body.message).toMatch(/^invalid /);
  });

  it('neither hashes answers into an ETag nor advertises the framework', async () => {
    const res = await t.http.get('/v2/users/1').set(bearer(t.adminToken));
    expect(res.status).toBe(404);
    expect(res.headers['etag']).toBeUndefined();
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('echoes a sane X-Request-Id and replaces an insane one', async () => {
    const ok = await t.http.get('/healthz').set('X-Request-Id', 'abc-12345678');
    expect(ok.headers['x-request-id']).toBe('abc-12345678');
    const bad = await t.http.get('/healthz').set('X-Request-Id', 'x y');
    expect(bad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const none = await t.http.get('/healthz');
    expect(none.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(none.headers['x-request-id']).not.toBe(bad.headers['x-request-id']);
  });

  it('puts the request id on every log line of a request, and no body, header or token', async () => {
    const from = t.logs.length;
    const res = await t.http
      .post('/v2/organizations?debug=query-marker-5521')
      .set(bearer(t.adminToken))
      .set('X-Request-Id', 'trace-foundation-0001')
      .send({ name: 'Body Marker 7731' });
    expect(res.status).toBe(200);
    const lines = await linesOfRequest(t, from, 'trace-foundation-0001');
    const access = lines.find((l) => l.req);
    expect(access).toMatchObject({
      requestId: 'trace-foundation-0001',
      req: { method: 'POST', path: '/v2/organizations' },
      res: { statusCode: 200 },
    });
    for (const line of lines) expect(line.requestId).toBe('trace-foundation-0001');
    const text = t.logs.slice(from).join('\n');
    expect(text).not.toContain('Body Marker 7731');
    expect(text).not.toContain('query-marker-5521');
    expect(text).not.toContain(t.adminToken);
    expect(text.toLowerCase()).not.toContain('authorization');
  });

  it('logs requests the body parser rejects, with their request id', async () => {
    const from = t.logs.length;
    await t.http
      .post('/v2/organizations')
      .set('X-Request-Id', 'rejected-body-0001')
      .set('Content-Type', 'application/json')
      .send('{"name": "Parse Marker 4410"')
      .expect(400);
    await settleLogs(t);
    const lines = t.logs
      .slice(from)
      .map((l) => JSON.parse(l) as LogLine)
      .filter((l) => l.requestId === 'rejected-body-0001');
    // Express parses bodies before the logging middleware runs, so the filter logs the rejection;
    // Fastify parses after it, so the ordinary access log line records it. One line either way.
    const rejected = expect.objectContaining({
      msg: 'request rejected',
      method: 'POST',
      path: '/v2/organizations',
      statusCode: 400,
    });
    const completed = expect.objectContaining({
      msg: 'request completed',
      req: { method: 'POST', path: '/v2/organizations' },
      res: { statusCode: 400 },
    });
    expect(lines).toEqual([t.config.httpAdapter === 'fastify' ? completed : rejected]);
    expect(t.logs.slice(from).join('\n')).not.toContain('Parse Marker');
  });
});

describe('foundation: when the database is gone', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('fails readiness with 503, keeps liveness, and answers API calls with a generic 500', async () => {
    // Authenticate once while the database is up (the token is cached), so the call reaches the service.
    await t.http.post('/v2/organizations').set(bearer(t.adminToken)).send({ name: 'Before' }).expect(200);
    await t.http.get('/readyz').expect(200);

    await t.app.get(DataSource).destroy();

    const ready = await t.http.get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toEqual({ code: 14, message: 'database unavailable' });
    await t.http.get('/healthz').expect(200, { status: 'ok' });

    const from = t.logs.length;
    const res = await t.http
      .post('/v2/organizations')
      .set(bearer(t.adminToken))
      .set('X-Request-Id', 'db-gone-request-0001')
      .send({ name: 'After' });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ code: 13, message: 'An internal error occurred' });
    expect(res.text).not.toMatch(/sqlite|postgres|connection|typeorm|driver/i);
    const lines = await linesOfRequest(t, from, 'db-gone-request-0001');
    const error = lines.find((l) => l.msg === 'unexpected error');
    expect(error).toBeDefined();
    expect(error!.requestId).toBe('db-gone-request-0001');
    expect(error!.err!.stack).toMatch(/\n\s+at /);
    for (const line of lines) expect(line.requestId).toBe('db-gone-request-0001');
  });
});
