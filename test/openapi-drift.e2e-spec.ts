import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { parse } from 'yaml';
import { OpenAPIObject } from '@nestjs/swagger';
import { serialiseOpenApi } from '../src/common/openapi/openapi';
import { createTestApp, TestApp } from './helpers/test-app';

const COMMITTED = path.resolve(__dirname, '..', 'openapi.json');

/** The first JSON path where two values differ, for a readable failure. */
function firstDifference(a: unknown, b: unknown, at = '$'): string | undefined {
  if (JSON.stringify(a) === JSON.stringify(b)) return undefined;
  if (a && b && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      const d = firstDifference(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        `${at}.${k}`,
      );
      if (d) return d;
    }
  }
  return at;
}

describe('OpenAPI document and Swagger UI', () => {
  let t: TestApp;
  let served: OpenAPIObject;
  beforeAll(async () => {
    t = await createTestApp();
    served = (await t.http.get('/openapi.json').expect(200)).body as OpenAPIObject;
  });
  afterAll(async () => t.close());

  it('matches the committed openapi.json (run `npm run openapi:sync` after changing the API)', () => {
    expect(fs.existsSync(COMMITTED)).toBe(true);
    const committedText = fs.readFileSync(COMMITTED, 'utf8');
    const servedText = serialiseOpenApi(served);
    if (servedText !== committedText) {
      const at = firstDifference(served, JSON.parse(committedText));
      throw new Error(
        `The served OpenAPI document differs from the committed openapi.json (first difference at ${at}).\n` +
          'Run `npm run openapi:sync` and commit openapi.json.',
      );
    }
  });

  it('is deterministic: nothing about this instance (host, port, paths on disk) is in it', async () => {
    const text = JSON.stringify(served);
    const port = new URL(t.baseUrl).port;
    expect(text).not.toContain(`127.0.0.1:${port}`);
    expect(text).not.toContain(t.config.dataDir);
    // one relative server: the API is where the document is
    expect(served.servers).toEqual([{ url: '/', description: 'This service' }]);
    // A second app with other settings serves the identical document.
    const other = await createTestApp({ env: { TOKEN_CACHE_SECONDS: '0', EXTERNAL_DOMAIN: 'example.org' } });
    try {
      const again = (await other.http.get('/openapi.json').expect(200)).body as OpenAPIObject;
      expect(serialiseOpenApi(again)).toBe(serialiseOpenApi(served));
    } finally {
      await other.close();
    }
  });

  it('has unique operation ids on every operation and a bearer security scheme', () => {
    const ids: string[] = [];
    for (const item of Object.values(served.paths)) {
      for (const [method, op] of Object.entries(item as Record<string, { operationId?: string }>)) {
        if (!['get', 'put', 'post', 'delete', 'patch', 'options', 'head'].includes(method)) continue;
        expect(op.operationId).toMatch(/^[A-Za-z][A-Za-z0-9_]*$/);
        ids.push(op.operationId!);
      }
    }
    expect(ids.length).toBeGreaterThan(0);
    expect(new Set(ids).size).toBe(ids.length);
    expect(served.components?.securitySchemes?.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('keeps the declared order of media types, schema properties and example keys (served and committed)', async () => {
    const committed = JSON.parse(fs.readFileSync(COMMITTED, 'utf8')) as OpenAPIObject;
    const yaml = parse((await t.http.get('/openapi.yaml').expect(200)).text) as OpenAPIObject;
    const init = (await t.http.get('/docs/swagger-ui-init.js').expect(200)).text;
    // the options object the init script hands to Swagger UI, evaluated as the page would
    const options = vm.runInNewContext(`(${/let options = (\{[\s\S]*?\});\n/.exec(init)![1]})`) as {
      swaggerDoc: OpenAPIObject;
    };
    const swaggerUi = options.swaggerDoc;
    const media = ['application/json', 'application/grpc', 'application/grpc-web+proto'];
    const keysAt = (doc: unknown, ...path: string[]) =>
      Object.keys(path.reduce((v, k) => (v as Record<string, unknown>)[k], doc) as object);
    const verify = ['paths', '/v2/users/{userId}/totp/verify', 'post'];
    for (const [name, doc] of Object.entries({ served, committed, yaml, swaggerUi })) {
      // Swagger UI sends the first request media type: it must be JSON.
      expect({ name, body: keysAt(doc, ...verify, 'requestBody', 'content') }).toEqual({ name, body: media });
      expect({ name, ok: keysAt(doc, ...verify, 'responses', '200', 'content') }).toEqual({
        name,
        ok: media,
      });
      expect({
        name,
        example: keysAt(
          doc,
          ...verify,
          'responses',
          '200',
          'content',
          'application/json',
          'example',
          'details',
        ),
      }).toEqual({
        name,
        example: ['sequence', 'changeDate', 'resourceOwner', 'creationDate'],
      });
      const schemas = doc.components!.schemas!;
      expect({ name, props: keysAt(schemas, 'RpcStatusDto', 'properties') }).toEqual({
        name,
        props: ['code', 'message', 'details'],
      });
      expect({ name, props: keysAt(schemas, 'SetPhoneDto', 'properties') }).toEqual({
        name,
        props: ['number', 'sendCode', 'returnCode', 'isVerified'],
      });
      // only paths and component names are sorted
      expect(Object.keys(doc.paths)).toEqual(Object.keys(doc.paths).sort());
      expect(Object.keys(schemas)).toEqual(Object.keys(schemas).sort());
    }
  });

  it('names every referenced schema (empty proto messages too)', () => {
    const refs = [...JSON.stringify(served).matchAll(/"\$ref":"([^"]*)"/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs)
      expect(served.components!.schemas![ref.replace('#/components/schemas/', '')]).toBeDefined();
    expect(refs).not.toContain('#/components/schemas/');
    const setPhone = served.components!.schemas!.SetPhoneDto as { properties: Record<string, unknown> };
    expect(setPhone.properties.returnCode).toEqual({
      description: 'Get the code back to provide it to the user in your preferred mechanism.',
      allOf: [{ $ref: '#/components/schemas/ReturnPhoneVerificationCodeDto' }],
    });
  });

  it('serves the same document as YAML', async () => {
    const res = await t.http.get('/openapi.yaml').expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/yaml/);
    expect(parse(res.text)).toEqual(served);
  });

  it('serves Swagger UI at /docs from local assets only', async () => {
    const res = await t.http.get('/docs').redirects(1).expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    const refs = [...res.text.matchAll(/(?:src|href)\s*=\s*["']([^"']+)["']/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThanOrEqual(3);
    for (const ref of refs) expect(ref).not.toMatch(/^(https?:)?\/\//i);
    const scripts = refs.filter((r) => r.endsWith('.js'));
    expect(scripts.some((s) => s.endsWith('swagger-ui-bundle.js'))).toBe(true);
    const docsUrl = new URL('/docs', t.baseUrl);
    for (const ref of refs) {
      const url = new URL(ref, docsUrl);
      const asset = await t.http.get(url.pathname);
      expect({ ref, status: asset.status }).toEqual({ ref, status: 200 });
    }
    // The init script carries the document itself, so the page needs nothing else from the network.
    const init = await t.http.get(
      new URL(
        scripts.find((s) => s.endsWith('swagger-ui-init.js'))!,
        docsUrl,
      ).pathname,
    );
    expect(init.text).toContain('"swaggerDoc"');
    expect(init.text).toContain(served.info.title);
    expect(init.text).toMatch(/"validatorUrl":\s*null/);
  });
});
