import { VERIFY_MY_AUTH_FACTOR_OTP, VERIFY_TOTP_REGISTRATION } from './fixtures/seeds';
import { createTestApp, TestApp } from './helpers/test-app';

/**
 * The served OpenAPI document against the facts the two TOTP reference pages show (test/fixtures/seeds.ts):
 * summary, description, path parameters, request body, responses with their descriptions, media types,
 * schema field texts and examples.
 */
type Facts = typeof VERIFY_TOTP_REGISTRATION | typeof VERIFY_MY_AUTH_FACTOR_OTP;

type Json = Record<string, unknown>;

describe('OpenAPI of the TOTP seed operations', () => {
  let t: TestApp;
  let doc: Json;
  beforeAll(async () => {
    t = await createTestApp();
    doc = (await t.http.get('/openapi.json').expect(200)).body as Json;
  });
  afterAll(async () => t.close());

  const paths = () => doc.paths as Record<string, Record<string, Json>>;
  const schemas = () => (doc.components as Json).schemas as Record<string, Json>;
  const deref = (s: Json): Json => (s.$ref ? schemas()[(s.$ref as string).split('/').pop()!] : s);
  const byId = (operationId: string) => {
    for (const [p, methods] of Object.entries(paths())) {
      for (const [m, op] of Object.entries(methods))
        if (op.operationId === operationId) return { path: p, method: m, op };
    }
    throw new Error(`no operation ${operationId}`);
  };
  const bySummary = (summary: string) => {
    const found = Object.entries(paths()).flatMap(([p, methods]) =>
      Object.entries(methods)
        .filter(([, op]) => op.summary === summary)
        .map(([m, op]) => ({ path: p, method: m, op })),
    );
    expect(found).toHaveLength(1);
    return found[0];
  };

  function checkCommon(facts: Facts, op: Json) {
    expect(op.operationId).toBe(facts.operationId);
    expect(op.summary).toBe(facts.summary);
    expect(op.description).toBe(facts.description);
    const body = op.requestBody as Json;
    expect(body.required).toBe(true);
    expect(Object.keys(body.content as Json)).toEqual([...facts.mediaTypes]);
    const responses = op.responses as Record<string, Json>;
    // every response the page shows, with its text, in every media type of the page, in its order
    for (const [status, text] of Object.entries(facts.responses)) {
      expect({ status, description: responses[status]?.description }).toEqual({ status, description: text });
      expect(Object.keys(responses[status].content as Json)).toEqual([...facts.mediaTypes]);
    }
    // error responses: the rpcStatus schema and example shown on the page
    for (const status of Object.keys(facts.responses).filter((s) => s !== '200')) {
      const json = (responses[status].content as Json)['application/json'] as Json;
      expect(json.example).toEqual(facts.errorExample);
      const rpc = deref(json.schema as Json);
      expect((rpc.properties as Json).code).toMatchObject({ type: 'integer', format: 'int32' });
      expect((rpc.properties as Json).message).toMatchObject({ type: 'string' });
      expect((rpc.properties as Json).details).toMatchObject({ type: 'array' });
      const item = deref(((rpc.properties as Json).details as Json).items as Json);
      expect(((item.properties as Json)['@type'] as Json).type).toBe('string');
    }
    // the 200 example is the page's, keys in its order, and its `details` schema documents every field shown
    const ok = (responses['200'].content as Json)['application/json'] as Json;
    expect(JSON.stringify(ok.example)).toBe(JSON.stringify(facts.okExample));
    const details = deref((deref(ok.schema as Json).properties as Json).details as Json);
    const props = details.properties as Record<string, Json>;
    expect(Object.keys(props).sort()).toEqual(Object.keys(facts.okExample.details).sort());
    return { body, props };
  }

  it('VerifyTOTPRegistration: POST /v2/users/{userId}/totp/verify as the reference page shows it', () => {
    const facts = VERIFY_TOTP_REGISTRATION;
    expect(facts.route.replace(/:(\w+)/g, '{$1}')).toBe(facts.path);
    const { path: p, method, op } = bySummary(facts.summary);
    expect({ path: p, method }).toEqual({ path: facts.path, method: facts.method });
    const { body, props } = checkCommon(facts, op);
    const params = op.parameters as Json[];
    expect(params.filter((x) => x.in === 'path').map((x) => x.name)).toEqual([...facts.pathParameters]);
    expect(params.find((x) => x.name === 'userId')).toMatchObject({
      required: true,
      schema: { type: 'string' },
    });
    // body: `code`, described as on the page
    const bodySchema = deref((body.content as Record<string, Json>)['application/json'].schema as Json);
    const code = (bodySchema.properties as Record<string, Json>)[facts.body.field];
    expect(code.description).toBe(facts.body.description);
    expect(bodySchema.required).toEqual([facts.body.field]);
    // the details field texts the page lists, in its order: sequence, then changeDate
    const shown = [props.sequence, props.changeDate].flatMap((x) => (x.description as string).split('\n'));
    expect(shown).toEqual([...facts.detailsFieldTexts]);
  });

  it('VerifyMyAuthFactorOTP: POST /auth/v1/users/me/auth_factors/otp/_verify as the reference page shows it', () => {
    const facts = VERIFY_MY_AUTH_FACTOR_OTP;
    const { path: p, method, op } = bySummary(facts.summary);
    expect({ path: p, method }).toEqual({ path: facts.path, method: facts.method });
    expect((op.parameters as Json[] | undefined)?.filter((x) => x.in === 'path') ?? []).toEqual([]);
    const { body, props } = checkCommon(facts, op);
    // "Request Body required - code string required"
    const bodySchema = deref((body.content as Record<string, Json>)['application/json'].schema as Json);
    const code = (bodySchema.properties as Record<string, Json>).code;
    expect(`- code ${code.type as string} required`).toBe(facts.bodyLine);
    expect(bodySchema.required).toEqual(['code']);
    // "- details objectsequence uint64- on read: ... - on manipulation: ..." – the schema rendered as the page does
    const rendered = Object.entries(props)
      .map(([name, prop]) => {
        const lines = (prop.description as string).split('\n');
        return prop.format
          ? `${name} ${prop.format as string}- ${lines.join(' - ')}`
          : `${name} ${lines.join(' - ')}`;
      })
      .join(' ');
    expect(`- details object${rendered}`).toBe(facts.okSchemaLine);
    // "- code int32 - message string - details object[]Array [@type string]"
    const rpc = deref(
      ((op.responses as Record<string, Json>).default.content as Record<string, Json>)['application/json']
        .schema as Json,
    );
    const rp = rpc.properties as Record<string, Json>;
    const item = deref(rp.details.items as Json);
    expect([
      `- code ${rp.code.format as string}`,
      `- message ${rp.message.type as string}`,
      `- details ${(rp.details.items as Json).$ref ? 'object' : ''}[]Array [${Object.keys(item.properties as Json)[0]} ${(item.properties as Record<string, Json>)['@type'].type as string}]`,
    ]).toEqual([...facts.errorSchemaLines]);
  });

  it('documents the siblings with the upstream summaries, v2 and v1 error responses', () => {
    expect(byId('RegisterTOTP')).toMatchObject({ path: '/v2/users/{userId}/totp', method: 'post' });
    expect(byId('RegisterTOTP').op.summary).toBe('Start the registration of a TOTP generator for a user');
    expect(byId('RemoveTOTP')).toMatchObject({ path: '/v2/users/{userId}/totp', method: 'delete' });
    expect(byId('RemoveTOTP').op.summary).toBe('Remove TOTP generator from a user');
    expect(byId('CheckTOTP')).toMatchObject({ path: '/v2/users/{userId}/totp/_check', method: 'post' });
    expect(byId('AddMyAuthFactorOTP').op.summary).toBe('Add One-Time-Password (OTP)');
    expect(byId('RemoveMyAuthFactorOTP').op.summary).toBe('Remove One-Time-Password (OTP)');
    const statuses = (id: string) => Object.keys(byId(id).op.responses as Json);
    // the v2 global responses, plus 400/401, what the route itself adds, and what the HTTP layer can
    // answer to any request that may carry a body (413, 415) or to any request (503)
    const TRANSPORT = ['413', '415', '503'];
    // routes that take a code also answer 429 while the factor is locked
    const CODE_ROUTE = ['200', '400', '401', '403', '404', '413', '415', '429', '503', 'default'];
    expect(statuses('RegisterTOTP')).toEqual([
      '200',
      '400',
      '401',
      '403',
      '404',
      '409',
      ...TRANSPORT,
      'default',
    ]);
    expect(statuses('VerifyTOTPRegistration')).toEqual(CODE_ROUTE);
    expect(statuses('RemoveTOTP')).toEqual(['200', '400', '401', '403', '404', ...TRANSPORT, 'default']);
    expect(statuses('CheckTOTP')).toEqual(CODE_ROUTE);
    // v1 declares only default upstream; the statuses these routes answer are added
    expect(statuses('AddMyAuthFactorOTP')).toEqual(['200', '400', '401', '409', ...TRANSPORT, 'default']);
    expect(statuses('VerifyMyAuthFactorOTP')).toEqual([
      '200',
      '400',
      '401',
      '404',
      '413',
      '415',
      '429',
      '503',
      'default',
    ]);
    expect(statuses('RemoveMyAuthFactorOTP')).toEqual([
      '200',
      '400',
      '401',
      '403',
      '404',
      ...TRANSPORT,
      'default',
    ]);
    const add = deref(
      (
        (byId('AddMyAuthFactorOTP').op.responses as Record<string, Json>)['200'].content as Record<
          string,
          Json
        >
      )['application/json'].schema as Json,
    );
    expect(Object.keys(add.properties as Json)).toEqual(['url', 'secret', 'details', 'qrCode']);
  });
});
