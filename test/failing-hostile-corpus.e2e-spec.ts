/**
 * A standing hostile-input corpus over every operation of the served OpenAPI document.
 *
 * For each operation, fast-check draws (from a fixed seed, so every run sends the same corpus) requests
 * whose path parameters, body, content type, content encoding and authorization header are hostile:
 * wrong JSON types, nulls, deep nesting, huge and unicode strings with NUL and lone surrogates, encoded
 * slashes and broken %-escapes, invalid JSON, missing and duplicated headers. Every request is sent raw
 * (node:http), and every answer must be
 * - below 500,
 * - carry an `X-Request-Id`,
 * - for an error, be in the route family's body format,
 * - and, for an error, leave every table as it was – except the answers to a well-formed wrong code,
 *   which record the failed attempt (that bookkeeping is how attempt limits work).
 */
import fc from 'fast-check';
import * as http from 'node:http';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { rawQuery } from '../src/common/database/db-dialect';
import { createHuman, createOrg } from './helpers/factories';
import { createTestApp, bearer, TestApp } from './helpers/test-app';
import { EMAIL_CODE_PREFIX, EMAIL_ERROR_KEYS, emailCode } from './helpers/error-bodies';
import { readyTotp } from './helpers/totp';

type Method = 'get' | 'post' | 'put' | 'delete' | 'patch';

interface Operation {
  method: Method;
  path: string;
  params: string[];
  hasBody: boolean;
}

interface HostileRequest {
  /** Per path parameter: a valid fixture id, or a hostile raw (already %-encoded) segment. */
  params: Record<string, { valid: true } | { valid: false; raw: string }>;
  body: { kind: 'none' } | { kind: 'raw'; text: string };
  contentType: string | undefined;
  contentEncoding: string | undefined;
  auth: 'admin' | 'none' | 'garbage' | 'duplicate' | 'basic';
  requestId: string | string[] | undefined;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

const EMAIL_PREFIX = '/internal/v1/mfa/';
/** Error ids (ZITADEL family) and codes (email family) of answers that record a failed code attempt. */
const ATTEMPT_RECORDING = /\((EVENT-8isk2|TOTP-4ttmp|CODE-woT0xc|OTPSMS-Att3mx)\)$/;

// ---- generators -------------------------------------------------------------------------------

const nasty = fc.constantFrom(
  'a\u0000b',
  '\u0000',
  '\ud800',
  'x\udfffy',
  '\u202e\u200b\ufeff',
  '💥'.repeat(60),
  ' ',
  '',
  '../..',
  'a/b',
  '%00',
  '0'.repeat(300),
  'x'.repeat(10_000),
);
const hostileString = fc.oneof(
  nasty,
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ maxLength: 300 }),
);

/** Text nested `depth` levels deep, well within the body limit. */
const nested = (depth: number, open: string, close: string, inner = '1') =>
  open.repeat(depth) + inner + close.repeat(depth);

const jsonValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    hostileString,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(
      fc.constantFrom(
        'code',
        'name',
        'userId',
        'number',
        'totp',
        'operation',
        'roles',
        '__proto__',
        'constructor',
        'x',
      ),
      tie('value'),
      { maxKeys: 4 },
    ),
  ),
})).value;

const rawBody = fc.oneof(
  jsonValue.map((v) => JSON.stringify(v) ?? 'null'),
  fc.constantFrom(
    nested(3_000, '[', ']'),
    nested(3_000, '{"a":', '}'),
    nested(200, '{"code":', '}', '"1"'),
    '{"code": "12',
    '{"code": "\\ud800"}',
    '{"code": "a\\u0000b", "totp": "\\u0000"}',
    '{"__proto__": {"isAdmin": true}}',
    '{"code":"1","code":"2"}',
    'not json',
    '',
    '\u0000',
    'x'.repeat(70_000),
  ),
);

const contentType = fc.constantFrom(
  'application/json',
  'application/json',
  'application/json; charset=utf-8',
  undefined,
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/grpc',
  'application/json; charset=latin1',
  '*/*',
  ';;;',
);
const contentEncoding = fc.constantFrom(
  undefined,
  undefined,
  undefined,
  'gzip',
  'deflate',
  'br',
  'identity',
  'x-garbage',
);
const auth = fc.constantFrom<HostileRequest['auth']>(
  'admin',
  'admin',
  'admin',
  'none',
  'garbage',
  'duplicate',
  'basic',
);
const requestId = fc.constantFrom<HostileRequest['requestId']>(
  undefined,
  undefined,
  'ok-request-id-1',
  '\u00e9\u00e9\u00e9',
  'x'.repeat(500),
  ['dup-one-1', 'dup-two-2'],
);

/** A hostile path segment, sent as is (some deliberately broken %-escapes, some encoded slashes). */
const hostileSegment = fc.oneof(
  hostileString.map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '?'))),
  fc.constantFrom(
    '%',
    '%E0%A4%A',
    '%zz',
    '%2F',
    '..%2F..',
    '%00',
    '%C0%80',
    '%ED%A0%80',
    '1'.repeat(201),
    'a'.repeat(5000),
    '-1',
    '1e9',
    'null',
  ),
);

function requestFor(op: Operation): fc.Arbitrary<HostileRequest> {
  const params = fc.record(
    Object.fromEntries(
      op.params.map((p) => [
        p,
        fc.oneof(
          fc.constant({ valid: true as const }),
          hostileSegment.map((raw) => ({ valid: false as const, raw })),
        ),
      ]),
    ),
  ) as fc.Arbitrary<HostileRequest['params']>;
  const body = op.hasBody
    ? rawBody.map((text) => ({ kind: 'raw' as const, text }))
    : fc.oneof(
        fc.constant({ kind: 'none' as const }),
        rawBody.map((text) => ({ kind: 'raw' as const, text })),
      );
  return fc
    .record({ params, body, contentType, contentEncoding, auth, requestId })
    .filter((r) => isHostile(op, r));
}

/**
 * Every request must be hostile somewhere; a bodiless operation with valid ids and a valid token
 * would simply succeed (and, say, delete the fixture user the rest of the corpus aims at).
 */
function isHostile(op: Operation, r: HostileRequest): boolean {
  const badParam = Object.values(r.params).some((p) => !p.valid);
  const badAuth = r.auth !== 'admin';
  if (!op.hasBody) return badParam || badAuth;
  return badParam || badAuth || r.body.kind === 'raw';
}

// ---- sending and checking -----------------------------------------------------------------------

function send(
  baseUrl: string,
  method: string,
  path: string,
  r: HostileRequest,
  token: string,
): Promise<Answer> {
  const url = new URL(baseUrl);
  const headers: Record<string, string | string[] | number> = {};
  const authorization = {
    admin: `Bearer ${token}`,
    none: undefined,
    garbage: 'Bearer \u00ff\u00fe not-a-token',
    duplicate: [`Bearer ${token}`, 'Bearer other'],
    basic: 'Basic YWRtaW46YWRtaW4=',
  }[r.auth];
  if (authorization !== undefined) headers.authorization = authorization;
  if (r.requestId !== undefined) headers['x-request-id'] = r.requestId;
  let payload: Buffer | undefined;
  if (r.body.kind === 'raw') {
    payload = Buffer.from(r.body.text, 'utf8');
    if (r.contentType !== undefined) headers['content-type'] = r.contentType;
    if (r.contentEncoding !== undefined) headers['content-encoding'] = r.contentEncoding;
    headers['content-length'] = payload.length;
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method: method.toUpperCase(), path, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** What is wrong with an answer (empty when nothing is). */
function problems(path: string, a: Answer): string[] {
  const out: string[] = [];
  if (a.status >= 500) out.push(`status ${a.status}`);
  if (!a.headers['x-request-id']) out.push('no X-Request-Id');
  if (a.status < 400) return out;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(a.text) as Record<string, unknown>;
  } catch {
    return [...out, `error body is not JSON: ${a.text.slice(0, 80)}`];
  }
  if (path.startsWith(EMAIL_PREFIX)) {
    const keys = Object.keys(body).sort();
    if (JSON.stringify(keys) !== JSON.stringify(EMAIL_ERROR_KEYS))
      out.push(`email error keys ${keys.join(',')}`);
    if (typeof body.code !== 'string' || !body.code.startsWith(EMAIL_CODE_PREFIX))
      out.push(`email error code ${String(body.code)}`);
    if (body.status !== a.status) out.push(`email error status ${String(body.status)} on HTTP ${a.status}`);
    if (body.requestId !== a.headers['x-request-id'])
      out.push('email error requestId differs from X-Request-Id');
  } else {
    if (!Number.isInteger(body.code)) out.push(`ZITADEL error code ${String(body.code)}`);
    if (typeof body.message !== 'string' || body.message === '') out.push('ZITADEL error without message');
    if (body.details !== undefined && !Array.isArray(body.details))
      out.push('ZITADEL error details not an array');
    const extra = Object.keys(body).filter((k) => !['code', 'message', 'details'].includes(k));
    if (extra.length) out.push(`ZITADEL error extra keys ${extra.join(',')}`);
  }
  return out;
}

function recordsAttempt(path: string, a: Answer): boolean {
  try {
    const body = JSON.parse(a.text) as { code?: unknown; message?: unknown };
    if (path.startsWith(EMAIL_PREFIX)) return body.code === emailCode('INVALID_OTP') || a.status === 410;
    return typeof body.message === 'string' && ATTEMPT_RECORDING.test(body.message);
  } catch {
    return false;
  }
}

/** A digest of every row of every table of the app's database. */
async function snapshot(ds: DataSource): Promise<string> {
  const tables =
    ds.options.type === 'postgres'
      ? (
          await rawQuery<{ name: string }>(
            ds,
            `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`,
          )
        ).rows
      : (
          await rawQuery<{ name: string }>(
            ds,
            `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1`,
          )
        ).rows;
  const hash = createHash('sha256');
  for (const { name } of tables) {
    const rows = (await rawQuery(ds, `SELECT * FROM "${name}"`)).rows.map((r) => JSON.stringify(r)).sort();
    hash.update(`${name}\n${rows.join('\n')}\n`);
  }
  return hash.digest('hex');
}

// ---- the suite --------------------------------------------------------------------------------

describe('hostile-input corpus over every served operation', () => {
  let t: TestApp;
  let ds: DataSource;
  const fixture: Record<string, string> = {};
  let operations: Operation[] = [];

  beforeAll(async () => {
    t = await createTestApp({ env: { SMS_PROVIDER: 'log', MAIL_TRANSPORT: 'log' } });
    ds = t.app.get(DataSource);
    const orgId = await createOrg(t);
    const user = await createHuman(t, orgId, { phone: '+41791234567' });
    await readyTotp(t, user.userId, user.token);
    const sms = await t.http
      .post(`/resources/v3alpha/users/${user.userId}/otp_sms`)
      .set(bearer(user.token))
      .send({ number: '+41791234567', returnCode: {} });
    const challenge = await t.http
      .post('/internal/v1/mfa/totp-email')
      .set(bearer(t.adminToken))
      .send({ userId: user.userId, operation: 'payment.approve' });
    const pat = await t.http.post(`/v2/users/${user.userId}/pats`).set(bearer(t.adminToken)).send({});
    Object.assign(fixture, {
      userId: user.userId,
      id: user.userId,
      orgId,
      otpSmsId: String(sms.body.otpSmsId ?? sms.body.details?.id ?? ''),
      challengeId: String(challenge.body.challengeId ?? ''),
      tokenId: String(pat.body.tokenId ?? ''),
    });
    for (const [k, v] of Object.entries(fixture)) if (!v) throw new Error(`fixture ${k} missing`);

    const doc = (await t.http.get('/openapi.json')).body as {
      paths: Record<
        string,
        Record<string, { parameters?: { in: string; name: string }[]; requestBody?: unknown }>
      >;
    };
    operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([m]) => ['get', 'post', 'put', 'delete', 'patch'].includes(m))
        .map(([method, op]) => ({
          method: method as Method,
          path,
          params: (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
          hasBody: op.requestBody !== undefined,
        })),
    );
  });

  afterAll(async () => {
    await t?.close();
  });

  it('serves a document with every operation the corpus drives', () => {
    expect(operations.length).toBeGreaterThanOrEqual(30);
    for (const op of operations) for (const p of op.params) expect(Object.keys(fixture)).toContain(p);
  });

  it('answers every hostile request below 500, in its family format, changing nothing', async () => {
    const failures: string[] = [];
    let sent = 0;
    for (const [i, op] of operations.entries()) {
      const cases = fc.sample(requestFor(op), { seed: 20261129 + i, numRuns: 24 });
      for (const r of cases) {
        const path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => {
          const p = r.params[name];
          return p.valid ? encodeURIComponent(fixture[name]) : p.raw;
        });
        const before = await snapshot(ds);
        const answer = await send(t.baseUrl, op.method, path, r, t.adminToken);
        sent++;
        const found = problems(op.path, answer);
        if (answer.status >= 400 && !recordsAttempt(op.path, answer) && (await snapshot(ds)) !== before)
          found.push('an error answer changed the database');
        if (found.length)
          failures.push(
            `${op.method.toUpperCase()} ${path.slice(0, 120)} [ct=${String(r.contentType)} ce=${String(r.contentEncoding)} auth=${r.auth} body=${
              r.body.kind === 'raw' ? JSON.stringify(r.body.text.slice(0, 60)) : '-'
            }] → ${answer.status}: ${found.join('; ')}`,
          );
      }
    }
    expect(sent).toBeGreaterThan(operations.length * 20);
    expect(failures).toEqual([]);
  });
});
