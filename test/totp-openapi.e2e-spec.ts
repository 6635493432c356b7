import * as fs from 'node:fs';
import * as path from 'node:path';
import { createTestApp, TestApp } from './helpers/test-app';

/**
 * The served OpenAPI document against the facts the two TOTP seeds show: summary, description, path
 * parameters, request body, responses with their descriptions, media types, schema field texts and
 * examples. The facts are read from the seed files, not copied into this test.
 */
const SEEDS = path.resolve(__dirname, '../../shared/seeds');

function seed(prefix: string): string {
  const file = fs.readdirSync(SEEDS).find((f) => f.startsWith(prefix) && f.endsWith('.txt'));
  if (!file) throw new Error(`no seed ${prefix}_*.txt in ${SEEDS}`);
  return fs.readFileSync(path.join(SEEDS, file), 'utf8');
}

interface SeedFacts {
  summary: string;
  description: string;
  /** `POST /v2/users/{userId}/totp/verify` when the seed shows it. */
  route?: { method: string; path: string };
  pathParams: boolean;
  media: string[];
  responses: string[];
  /** Every JSON example block, parsed. */
  examples: unknown[];
  text: string;
}

function parseSeed(text: string): SeedFacts {
  const lines = text.split('\n').map((l) => l.trim());
  const routeLine = /^(GET|POST|PUT|PATCH|DELETE)(\/\S+)$/.exec(lines[1]);
  const route = routeLine ? { method: routeLine[1].toLowerCase(), path: routeLine[2].replace(/:(\w+)/g, '{$1}') } : undefined;
  const media = [...new Set(lines.filter((l) => /^- application\/\S+$/.test(l)).map((l) => l.slice(2)))];
  const responses = [...new Set(lines.filter((l) => /^- (\d{3}|default)$/.test(l)).map((l) => l.slice(2)))];
  const examples: unknown[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '{') continue;
    let depth = 0;
    for (let j = i; j < lines.length; j++) {
      depth += (lines[j].match(/[{[]/g) ?? []).length - (lines[j].match(/[}\]]/g) ?? []).length;
      if (depth === 0) {
        const parsed: unknown = JSON.parse(lines.slice(i, j + 1).join('\n'));
        if (!examples.some((e) => JSON.stringify(e) === JSON.stringify(parsed))) examples.push(parsed);
        i = j;
        break;
      }
    }
  }
  return {
    summary: lines[0],
    description: route ? lines[2] : lines[1],
    route,
    pathParams: lines.includes('Path Parameters'),
    media,
    responses,
    examples,
    text,
  };
}

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
      for (const [m, op] of Object.entries(methods)) if (op.operationId === operationId) return { path: p, method: m, op };
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

  function checkCommon(facts: SeedFacts, op: Json) {
    expect(op.summary).toBe(facts.summary);
    expect(op.description).toBe(facts.description);
    const body = op.requestBody as Json;
    expect(body.required).toBe(true);
    expect(Object.keys(body.content as Json).sort()).toEqual([...facts.media].sort());
    const responses = op.responses as Record<string, Json>;
    expect(Object.keys(responses).sort()).toEqual([...facts.responses].sort());
    for (const [status, r] of Object.entries(responses)) {
      // each response's description is a line of the seed, and it is served in every media type of the seed
      expect({ status, found: facts.text.split('\n').includes(r.description as string) }).toEqual({ status, found: true });
      expect(Object.keys(r.content as Json).sort()).toEqual([...facts.media].sort());
    }
    // error responses: the rpcStatus schema and example shown in the seed
    const errorExample = facts.examples.find((e) => (e as Json).message === 'string');
    for (const status of facts.responses.filter((s) => s !== '200')) {
      const json = (responses[status].content as Json)['application/json'] as Json;
      expect(json.example).toEqual(errorExample);
      const rpc = deref(json.schema as Json);
      expect((rpc.properties as Json).code).toMatchObject({ type: 'integer', format: 'int32' });
      expect((rpc.properties as Json).message).toMatchObject({ type: 'string' });
      const item = deref(((rpc.properties as Json).details as Json).items as Json);
      expect(((item.properties as Json)['@type'] as Json).type).toBe('string');
    }
    // the 200 example is the seed's, and its `details` schema documents every field the seed shows
    const ok = (responses['200'].content as Json)['application/json'] as Json;
    const okExample = facts.examples.find((e) => (e as Json).details && !Array.isArray((e as Json).details)) as Json;
    expect(ok.example).toEqual(okExample);
    const details = deref((deref(ok.schema as Json).properties as Json).details as Json);
    const props = details.properties as Record<string, Json>;
    expect(Object.keys(props).sort()).toEqual(Object.keys(okExample.details as Json).sort());
    return { body, props };
  }

  it('seed 000: POST /v2/users/{userId}/totp/verify (VerifyTOTPRegistration)', () => {
    const facts = parseSeed(seed('000'));
    expect(facts.route).toEqual({ method: 'post', path: '/v2/users/{userId}/totp/verify' });
    const { path: p, method, op } = bySummary(facts.summary);
    expect({ path: p, method, operationId: op.operationId }).toEqual({ ...facts.route, operationId: 'VerifyTOTPRegistration' });
    const { body, props } = checkCommon(facts, op);
    expect(facts.pathParams).toBe(true);
    const params = op.parameters as Json[];
    expect(params.filter((x) => x.in === 'path').map((x) => x.name)).toEqual(['userId']);
    expect(params.find((x) => x.name === 'userId')).toMatchObject({ required: true, schema: { type: 'string' } });
    // body: `code`, described as in the seed
    const bodySchema = deref((body.content as Record<string, Json>)['application/json'].schema as Json);
    const code = (bodySchema.properties as Record<string, Json>).code;
    expect(facts.text).toContain(`Body\nrequired\n${code.description as string}\n`);
    expect(code.description).toBe('Code generated by TOTP app or device');
    expect(bodySchema.required).toEqual(['code']);
    // the details field texts the seed lists, in its order: sequence, then changeDate
    const shown = [props.sequence, props.changeDate].flatMap((x) => (x.description as string).split('\n'));
    expect(facts.text).toContain(shown.join('\n'));
  });

  it('seed 001: POST /auth/v1/users/me/auth_factors/otp/_verify (VerifyMyAuthFactorOTP)', () => {
    const facts = parseSeed(seed('001'));
    const { path: p, method, op } = bySummary(facts.summary);
    expect({ path: p, method, operationId: op.operationId }).toEqual({
      path: '/auth/v1/users/me/auth_factors/otp/_verify',
      method: 'post',
      operationId: 'VerifyMyAuthFactorOTP',
    });
    expect(facts.pathParams).toBe(false);
    expect((op.parameters as Json[] | undefined)?.filter((x) => x.in === 'path') ?? []).toEqual([]);
    const { body, props } = checkCommon(facts, op);
    // "Request Body required - code string required"
    const bodySchema = deref((body.content as Record<string, Json>)['application/json'].schema as Json);
    const code = (bodySchema.properties as Record<string, Json>).code;
    expect(facts.text).toContain(`Request Body required\n- code ${code.type as string} required`);
    expect(bodySchema.required).toEqual(['code']);
    // "sequence uint64- on read: ... - on manipulation: ..." – each field with its format and description lines
    for (const [name, prop] of Object.entries(props)) {
      const lines = (prop.description as string).split('\n');
      const rendered = prop.format ? `${name} ${prop.format as string}- ${lines.join(' - ')}` : `${name} ${lines.join(' - ')}`;
      expect({ name, shown: facts.text.includes(rendered) }).toEqual({ name, shown: true });
    }
  });

  it('documents the siblings with the upstream summaries, v2 and v1 error responses', () => {
    expect(byId('RegisterTOTP')).toMatchObject({ path: '/v2/users/{userId}/totp', method: 'post' });
    expect(byId('RegisterTOTP').op.summary).toBe('Start the registration of a TOTP generator for a user');
    expect(byId('RemoveTOTP')).toMatchObject({ path: '/v2/users/{userId}/totp', method: 'delete' });
    expect(byId('RemoveTOTP').op.summary).toBe('Remove TOTP generator from a user');
    expect(byId('CheckTOTP')).toMatchObject({ path: '/v2/users/{userId}/totp/_check', method: 'post' });
    expect(byId('AddMyAuthFactorOTP').op.summary).toBe('Add One-Time-Password (OTP)');
    expect(byId('RemoveMyAuthFactorOTP').op.summary).toBe('Remove One-Time-Password (OTP)');
    for (const id of ['RegisterTOTP', 'RemoveTOTP', 'CheckTOTP']) {
      expect(Object.keys(byId(id).op.responses as Json).sort()).toEqual(['200', '403', '404', 'default']);
    }
    for (const id of ['AddMyAuthFactorOTP', 'RemoveMyAuthFactorOTP']) {
      expect(Object.keys(byId(id).op.responses as Json).sort()).toEqual(['200', 'default']);
    }
    const add = deref(((byId('AddMyAuthFactorOTP').op.responses as Record<string, Json>)['200'].content as Record<string, Json>)['application/json'].schema as Json);
    expect(Object.keys(add.properties as Json).sort()).toEqual(['details', 'secret', 'url']);
  });
});
