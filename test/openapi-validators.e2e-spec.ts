import type { OpenAPIObject } from '@nestjs/swagger';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { createHuman, createOrg, HumanFixture } from './helpers/factories';
import { bearer, createTestApp, TestApp } from './helpers/test-app';

/**
 * The OpenAPI document as standard tools see it: @apidevtools/swagger-parser validates it, and
 * Redocly's recommended ruleset (with the exceptions redocly.yaml names and explains) finds nothing,
 * both for the committed openapi.json and for the document the running app serves. Then every
 * operation is called the ways a client typically gets it wrong, and each answer's status must be
 * one the document lists for that operation.
 */
const ROOT = path.resolve(__dirname, '..');
const COMMITTED = path.join(ROOT, 'openapi.json');
const REDOCLY_CONFIG = path.join(ROOT, 'redocly.yaml');
const REDOCLY = path.join(path.dirname(require.resolve('@redocly/cli/package.json')), 'bin', 'cli.js');

interface LintProblem {
  ruleId: string;
  severity: 'error' | 'warn';
  message: string;
  location: { pointer: string }[];
}
interface LintReport {
  totals: { errors: number; warnings: number; ignored: number };
  problems: LintProblem[];
}

/** `redocly lint --format=json`, offline: no telemetry, no update or announcement checks. */
async function redoclyLint(file: string, config = REDOCLY_CONFIG): Promise<LintReport> {
  const run = promisify(execFile);
  const env = {
    ...process.env,
    REDOCLY_TELEMETRY: 'off',
    REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true',
    REDOCLY_SUPPRESS_NOTIFICATIONS: 'true',
    NODE_ENV: 'test',
  };
  const args = [REDOCLY, 'lint', file, '--config', config, '--format=json', '--max-problems', '1000'];
  // exit code 1 when something is found: the report is still on stdout
  const { stdout } = await run(process.execPath, args, { env, cwd: ROOT, maxBuffer: 64 << 20 }).catch(
    (e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }),
  );
  return JSON.parse(stdout) as LintReport;
}

/**
 * `SwaggerParser.validate(file)` in a child Node process (the parser's dependencies are ES modules,
 * which Node loads natively and Jest's CommonJS transform does not). Resolves to the error, or ''.
 */
async function swaggerParserValidate(file: string): Promise<string> {
  const script =
    "require('@apidevtools/swagger-parser').validate(process.argv[1])" +
    ".then(() => process.stdout.write('valid'), (e) => process.stdout.write(String(e && e.message)))";
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script, file], {
    cwd: ROOT,
    maxBuffer: 16 << 20,
  });
  return stdout === 'valid' ? '' : stdout;
}

const summary = (r: LintReport) =>
  r.problems.map((p) => `${p.severity} ${p.ruleId} ${p.location[0]?.pointer}: ${p.message}`);

describe('OpenAPI document validity', () => {
  let t: TestApp;
  let served: OpenAPIObject;
  let tmp: string;
  let servedFile: string;
  beforeAll(async () => {
    t = await createTestApp();
    served = (await t.http.get('/openapi.json').expect(200)).body as OpenAPIObject;
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mfa-openapi-lint-'));
    servedFile = path.join(tmp, 'served.json');
    fs.writeFileSync(servedFile, JSON.stringify(served));
  });
  afterAll(async () => {
    await t?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('passes @apidevtools/swagger-parser validation (committed and served)', async () => {
    for (const file of [COMMITTED, servedFile])
      expect({ file, error: await swaggerParserValidate(file) }).toEqual({ file, error: '' });
  });

  it('has 0 errors and 0 warnings under redocly lint with redocly.yaml (committed and served)', async () => {
    for (const file of [COMMITTED, servedFile]) {
      const report = await redoclyLint(file);
      expect({ file, problems: summary(report) }).toEqual({ file, problems: [] });
      expect(report.totals).toEqual({ errors: 0, warnings: 0, ignored: 0 });
    }
  });

  it('switches off only what the reference texts force: the example rules find just "2023-05-12" under date-time', async () => {
    const strict = path.join(tmp, 'redocly-strict.yaml');
    fs.writeFileSync(
      strict,
      'extends:\n  - recommended\ntelemetry: off\nrules:\n  info-license-strict: off\n',
    );
    const report = await redoclyLint(servedFile, strict);
    expect(report.problems.length).toBeGreaterThan(0);
    for (const p of report.problems) {
      expect({ rule: p.ruleId, message: p.message, at: p.location[0]?.pointer }).toEqual({
        rule: expect.stringMatching(/^no-invalid-(media-type|schema)-examples$/),
        message: expect.stringMatching(/must match format "date-time"/),
        at: expect.stringMatching(/(creationDate|changeDate)(\/example)?$/),
      });
    }
    // and those are the v1 auth API's details (the only place the reference shows a bare date)
    const v1 = (
      served.components!.schemas!.V1ObjectDetailsDto as { properties: Record<string, { example?: string }> }
    ).properties;
    expect([v1.creationDate.example, v1.changeDate.example]).toEqual(['2023-05-12', '2023-05-12']);
  });

  it('no test or source file reads outside the repository', () => {
    const files = (dir: string): string[] =>
      fs
        .readdirSync(dir, { withFileTypes: true })
        .flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
    const offenders = [...files(path.join(ROOT, 'test')), ...files(path.join(ROOT, 'src'))]
      .filter((f) => f.endsWith('.ts') && f !== __filename)
      .filter((f) => /\.\.\/\.\.\/shared|shared\/seeds/.test(fs.readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });
});

type Operation = { responses: Record<string, unknown>; requestBody?: unknown; security?: unknown[] };
const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

describe('OpenAPI: every status an operation answers is documented', () => {
  let t: TestApp;
  let doc: OpenAPIObject;
  let stranger: HumanFixture;
  let victim: HumanFixture;
  beforeAll(async () => {
    t = await createTestApp();
    doc = (await t.http.get('/openapi.json').expect(200)).body as OpenAPIObject;
    stranger = await createHuman(t, await createOrg(t));
    victim = await createHuman(t, await createOrg(t));
  });
  afterAll(async () => t?.close());

  const operations = () =>
    Object.entries(doc.paths).flatMap(([p, item]) =>
      METHODS.filter((m) => (item as Record<string, Operation | undefined>)[m]).map((m) => ({
        method: m,
        path: p,
        op: (item as Record<string, Operation>)[m],
      })),
    );

  /** The documented response for a status: its own entry, or `default` for 5xx. */
  const documented = (op: Operation, status: number) =>
    String(status) in op.responses || (status >= 500 && 'default' in op.responses);

  async function call(
    method: string,
    p: string,
    opts: { token?: string; body?: string; ids?: string; contentType?: string; encoding?: string } = {},
  ) {
    const url = p.replace(/\{(\w+)\}/g, (_m, name: string) =>
      name === 'userId' || name === 'id' ? (opts.ids ?? '999999999999999999') : '999999999999999999',
    );
    let req = t.http[method as (typeof METHODS)[number]](url);
    if (opts.token) req = req.set(bearer(opts.token));
    if (opts.encoding) req = req.set('Content-Encoding', opts.encoding);
    if (opts.body !== undefined)
      req = req.set('Content-Type', opts.contentType ?? 'application/json').send(opts.body);
    return (await req).status;
  }

  it('lists the answers to: no token, a stranger, unknown ids, a malformed body, refused input', async () => {
    const ops = operations().filter(({ op }) => op.security?.length);
    expect(ops.length).toBeGreaterThan(20);
    const missing: string[] = [];
    for (const { method, path: p, op } of ops) {
      const body = op.requestBody ? '{}' : undefined;
      const tries: Record<string, number> = {
        'no token': await call(method, p, { body }),
        'a stranger acting on another user': await call(method, p, {
          token: stranger.token,
          body,
          ids: victim.userId,
        }),
        'unknown ids (admin)': await call(method, p, { token: t.adminToken, body }),
        'a malformed body (admin)': op.requestBody
          ? await call(method, p, {
              token: t.adminToken,
              body: '{"code":5,"totp":5,"name":5}',
              ids: victim.userId,
            })
          : 0,
        'a text/plain body (admin)':
          method !== 'get'
            ? await call(method, p, { token: t.adminToken, body: 'x', contentType: 'text/plain' })
            : 0,
        'a gzip-encoded body (admin)':
          method !== 'get' ? await call(method, p, { token: t.adminToken, body: '{}', encoding: 'gzip' }) : 0,
        'a body over the limit (admin)':
          method !== 'get'
            ? await call(method, p, { token: t.adminToken, body: JSON.stringify({ x: 'x'.repeat(70_000) }) })
            : 0,
        'a NUL in the path (admin)': p.includes('{')
          ? await call(method, p, { token: t.adminToken, body, ids: 'a%00b' })
          : 0,
      };
      for (const [what, status] of Object.entries(tries)) {
        if (status && !documented(op, status))
          missing.push(`${method.toUpperCase()} ${p}: ${what} → ${status}`);
      }
    }
    expect(missing).toEqual([]);
  });
});

type Schema = {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  $ref?: string;
  allOf?: Schema[];
  enum?: unknown[];
};

describe('OpenAPI: error schemas and examples match the wire', () => {
  let t: TestApp;
  let doc: OpenAPIObject;
  beforeAll(async () => {
    t = await createTestApp();
    doc = (await t.http.get('/openapi.json').expect(200)).body as OpenAPIObject;
  });
  afterAll(async () => t?.close());

  const schemas = () => doc.components!.schemas as Record<string, Schema>;
  const deref = (s: Schema): Schema =>
    s.$ref ? schemas()[s.$ref.split('/').pop()!] : s.allOf?.length === 1 ? deref(s.allOf[0]) : s;

  /** Where `value` breaks `schema`: a missing required property, an undeclared one, a wrong type or enum value. */
  function violations(value: unknown, schema: Schema, at = '$'): string[] {
    const s = deref(schema);
    if (s.enum && !s.enum.includes(value)) return [`${at}: ${JSON.stringify(value)} not in enum`];
    if (s.type === 'array') {
      if (!Array.isArray(value)) return [`${at}: not an array`];
      return value.flatMap((v, i) => violations(v, s.items!, `${at}[${i}]`));
    }
    if (s.type === 'object' || s.properties) {
      if (!value || typeof value !== 'object') return [`${at}: not an object`];
      const v = value as Record<string, unknown>;
      return [
        ...(s.required ?? []).filter((k) => !(k in v)).map((k) => `${at}.${k}: required, missing`),
        ...Object.keys(v)
          .filter((k) => !(k in (s.properties ?? {})))
          .map((k) => `${at}.${k}: not declared`),
        ...Object.entries(v).flatMap(([k, x]) =>
          s.properties?.[k] ? violations(x, s.properties[k], `${at}.${k}`) : [],
        ),
      ];
    }
    if (s.type === 'integer') return Number.isInteger(value) ? [] : [`${at}: not an integer`];
    if (s.type && typeof value !== s.type) return [`${at}: not a ${s.type}`];
    return [];
  }

  it('rpcStatus: details optional, detail items declare id and message; real ZITADEL errors conform', async () => {
    expect(schemas().RpcStatusDto.required).toEqual(['code', 'message']);
    expect(Object.keys(schemas().ProtobufAnyDto.properties!)).toEqual(['@type', 'id', 'message']);
    expect(schemas().ProtobufAnyDto.required).toEqual(['@type']);
    const rpc = { $ref: '#/components/schemas/RpcStatusDto' };
    const org = await createOrg(t);
    const alice = await createHuman(t, org);
    const bodies = {
      'no Authorization header (401)': (await t.http.post(`/v2/users/${alice.userId}/totp`)).body,
      'a bad token (401, with details)': (
        await t.http.post(`/v2/users/${alice.userId}/totp`).set(bearer('nope'))
      ).body,
      'a validation error (400)': (
        await t.http.post(`/v2/users/${alice.userId}/totp/verify`).set(bearer(alice.token)).send({ code: 5 })
      ).body,
      'an unknown route (404)': (await t.http.get('/v2/nothing-here').set(bearer(alice.token))).body,
      'a domain error (404, with details)': (
        await t.http
          .post('/auth/v1/users/me/auth_factors/otp/_verify')
          .set(bearer(alice.token))
          .send({ code: '123456' })
      ).body,
    };
    expect(Object.values(bodies).filter((b: { details?: unknown }) => b.details)).toHaveLength(2);
    for (const [what, body] of Object.entries(bodies))
      expect({ what, body, violations: violations(body, rpc) }).toEqual({ what, body, violations: [] });
  });

  it('every example of an error response conforms to its schema and shows its own status', () => {
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(
        item as Record<
          string,
          { responses?: Record<string, { content?: Record<string, { schema: Schema; example?: unknown }> }> }
        >,
      )) {
        for (const [status, response] of Object.entries(op.responses ?? {})) {
          for (const [media, content] of Object.entries(response.content ?? {})) {
            if (content.example === undefined || status.startsWith('2')) continue;
            const at = `${method} ${p} ${status} ${media}`;
            expect({ at, violations: violations(content.example, content.schema) }).toEqual({
              at,
              violations: [],
            });
            const example = content.example as { status?: number };
            if ('status' in example)
              expect({ at, status: example.status }).toEqual({ at, status: Number(status) });
          }
        }
      }
    }
  });

  it('verifyEmail: the reference statuses and texts, then 401/403/404/413/415/503; its 410 and 500 examples show 410 and 500', () => {
    const op = (
      doc.paths['/internal/v1/mfa/totp-email/{challengeId}:verify'] as Record<
        string,
        {
          responses: Record<
            string,
            { description: string; content: Record<string, { example: { status: number; code: string } }> }
          >;
        }
      >
    ).post;
    expect(Object.keys(op.responses)).toEqual([
      '200',
      '400',
      '401',
      '403',
      '404',
      '410',
      '413',
      '415',
      '500',
      '503',
    ]);
    expect([
      op.responses['400'].description,
      op.responses['410'].description,
      op.responses['500'].description,
    ]).toEqual(['Bad Request', '', 'Internal Server Error']);
    const example = (s: string) => op.responses[s].content['application/json'].example;
    expect(example('410')).toMatchObject({ status: 410, code: 'urn:plmr:mfa-totp:api:CHALLENGE_NOT_FOUND' });
    expect(example('500')).toMatchObject({
      status: 500,
      code: 'urn:plmr:mfa-totp:api:INTERNAL_SERVER_ERROR',
    });
    expect(example('401')).toMatchObject({ status: 401, code: 'urn:plmr:mfa-totp:api:UNAUTHORIZED' });
  });

  it('the OTP SMS code bodies: JSON first, with a JSON string of 8 digits as example', () => {
    for (const verb of ['_verify', '_check']) {
      const content = (
        doc.paths[`/resources/v3alpha/users/{id}/otp_sms/{otpSmsId}/${verb}`] as Record<
          string,
          {
            requestBody: {
              content: Record<string, { schema: { type: string; example?: unknown }; example?: unknown }>;
            };
          }
        >
      ).post.requestBody.content;
      expect(Object.keys(content)[0]).toBe('application/json');
      const json = content['application/json'];
      const example = json.example ?? json.schema.example;
      expect({ verb, type: json.schema.type, example }).toEqual({
        verb,
        type: 'string',
        example: '12345678',
      });
      expect(JSON.stringify(example)).toBe('"12345678"');
    }
  });
});
