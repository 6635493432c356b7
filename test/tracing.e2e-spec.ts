import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { REDACTED_ATTRIBUTES } from '../src/tracing';
import { totpCode } from '../src/totp/totp-algorithm';
import { OtlpReceiver, ReceivedSpan, startOtlpReceiver } from './helpers/otlp-receiver';
import { listeningPort, ServerProcess, spawnServer } from './helpers/server-process';
import { E2E_DB, PG_URL } from './helpers/test-app';

/**
 * Tracing, on the service as it runs (a process: the instrumentations patch modules as they are
 * loaded, which a Jest test file cannot undo), against a local OTLP/HTTP receiver.
 */

const SERVER_KIND = 2;

interface Answer {
  status: number;
  body: Record<string, unknown>;
  requestId: string;
}

function post(
  port: number,
  urlPath: string,
  token: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: urlPath,
        agent: false,
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(text),
          Authorization: `Bearer ${token}`,
          ...headers,
        },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8').on('data', (c: string) => (data += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(data) as Record<string, unknown>,
            requestId: String(res.headers['x-request-id']),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** A caller's trace context: a known trace id and the caller's (client) span id. */
function callerContext(): { traceId: string; spanId: string; traceparent: string } {
  const traceId = hex(16);
  const spanId = hex(8);
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

interface LogLine {
  msg?: string;
  requestId?: string;
  trace_id?: string;
  span_id?: string;
}
/** The access log line of a request, its last line. */
const completedLine = (requestId: string) =>
  new RegExp(`"requestId":"${requestId}".*"msg":"request completed"`);
const logLines = (server: ServerProcess): LogLine[] =>
  server.stdout.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);

/** Every string an exported span carries: its name, its attributes, its events' and its resource's. */
function exportedStrings(spans: ReceivedSpan[]): string[] {
  const out: string[] = [];
  const add = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(add);
    else if (v !== undefined && v !== null) out.push(String(v));
  };
  for (const s of spans) {
    add(s.name);
    for (const [k, v] of Object.entries(s.attributes)) add([k, v]);
    for (const e of s.eventAttributes) for (const [k, v] of Object.entries(e)) add([k, v]);
    for (const [k, v] of Object.entries(s.resource)) add([k, v]);
  }
  return out;
}

async function pg(sql: string): Promise<void> {
  const client = new Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

describe(`tracing (${E2E_DB}, ${process.env.E2E_HTTP_ADAPTER ?? 'express'})`, () => {
  let dir: string;
  let receiver: OtlpReceiver;
  let server: ServerProcess | undefined;
  // A schema per test: each start creates its own admin and PAT.
  const schemas: string[] = [];
  let schema: string;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mfa-trace-'));
    schema = `tr_${process.pid}_${randomBytes(4).toString('hex')}`;
    schemas.push(schema);
    receiver = await startOtlpReceiver();
  });
  afterEach(async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
    server = undefined;
    await receiver.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  afterAll(async () => {
    if (E2E_DB === 'postgres')
      for (const name of schemas) await pg(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
  });

  const baseEnv = (): Record<string, string> => ({
    DATA_DIR: dir,
    ...(E2E_DB === 'postgres'
      ? { DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema, DATABASE_POOL_SIZE: '2' }
      : { DATABASE_URL: `sqlite:${path.join(dir, 'mfa.sqlite')}` }),
    MASTER_KEY: randomBytes(32).toString('base64'),
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
  });

  /** Starts the service and registers a TOTP for a new user (as the bootstrap admin, whose PAT this returns). */
  async function start(
    env: Record<string, string>,
  ): Promise<{ port: number; token: string; secret: string; verify: string; userId: string }> {
    server = spawnServer({ ...baseEnv(), ...env });
    const port = await listeningPort(server);
    const token = fs.readFileSync(path.join(dir, 'admin.pat'), 'utf8').trim();
    const org = await post(port, '/v2/organizations', token, { name: 'Traced Org' });
    expect(org.status).toBe(200);
    const user = await post(port, '/v2/users/human', token, {
      organization: { orgId: org.body.organizationId },
      username: 'traced-user',
      profile: { givenName: 'Traced', familyName: 'User' },
      email: { email: 'traced-user@example.com', isVerified: true },
    });
    expect(user.status).toBe(200);
    const userId = user.body.userId as string;
    const added = await post(port, `/v2/users/${userId}/totp`, token, {});
    expect(added.status).toBe(200);
    return {
      port,
      token,
      secret: added.body.secret as string,
      verify: `/v2/users/${userId}/totp/verify`,
      userId,
    };
  }

  /** Says what the server said when an assertion fails: the assertion alone rarely explains it here. */
  async function explained(run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (e) {
      const tail = server?.stdout.slice(-15).join('\n');
      throw new Error(
        `${(e as Error).message}\n--- server stdout (tail) ---\n${tail}\n--- stderr ---\n${server?.stderr()}`,
        {
          cause: e,
        },
      );
    }
  }

  it('exports one trace per verify request, continuing the caller’s traceparent, with the factor and result and no code or secret', () =>
    explained(async () => {
      const { port, token, secret, verify, userId } = await start({
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_BSP_SCHEDULE_DELAY: '20',
      });
      const code = totpCode(secret, Date.now());
      const wrong = String((Number(code) + 500_000) % 1_000_000).padStart(6, '0');
      const bad = callerContext();
      const good = callerContext();
      const refused = await post(port, verify, token, { code: wrong }, { traceparent: bad.traceparent });
      expect(refused.status).toBe(400);
      const verified = await post(port, verify, token, { code }, { traceparent: good.traceparent });
      expect(verified.status).toBe(200);

      const verifySpan = (traceId: string) => (spans: ReceivedSpan[]) =>
        spans.find((s) => s.traceId === traceId && s.name === 'verify totp');
      // Every span of both requests has been exported once the verify span of a third request, begun after
      // both had ended, has: a request's spans have ended when its access line is logged, and spans are
      // exported in the order they end. (Counted, not found by its trace id: that would wait forever if the
      // traceparent were ignored.)
      for (const a of [verified, refused]) await server!.waitForLine(completedLine(a.requestId));
      const marker = callerContext();
      await post(port, verify, token, { code: wrong }, { traceparent: marker.traceparent });
      await receiver.waitFor((spans) => spans.filter((s) => s.name === 'verify totp').length === 3);
      const spans = receiver.spans.filter((s) => s.traceId !== marker.traceId);

      for (const [caller, result] of [
        [good, 'success'],
        [bad, 'invalid'],
      ] as const) {
        const trace = spans.filter((s) => s.traceId === caller.traceId);
        // One server span, a child of the caller's span: the incoming traceparent is honoured.
        const servers = trace.filter((s) => s.kind === SERVER_KIND);
        expect(servers).toHaveLength(1);
        expect(servers[0].parentSpanId).toBe(caller.spanId);
        // Every other span of the trace descends from it, the verify span included.
        const byId = new Map(trace.map((s) => [s.spanId, s]));
        for (const s of trace) {
          let at: ReceivedSpan | undefined = s;
          while (at && at !== servers[0]) at = at.parentSpanId ? byId.get(at.parentSpanId) : undefined;
          expect([s.name, at?.spanId]).toEqual([s.name, servers[0].spanId]);
        }
        const v = verifySpan(caller.traceId)(spans)!;
        expect(v.attributes).toMatchObject({ 'mfa.factor': 'totp', 'mfa.result': result });
        // The framework's own spans: the instrumentation was in place before the framework was loaded.
        expect(trace.some((s) => /express|fastify/.test(s.scope))).toBe(true);
        if (E2E_DB === 'postgres') {
          // The verify's queries, in the verify span.
          const queries = trace.filter(
            (s) =>
              s.attributes['db.system'] === 'postgresql' || s.attributes['db.system.name'] === 'postgresql',
          );
          expect(queries.length).toBeGreaterThan(0);
          expect(
            queries.some(
              (q) => q.parentSpanId === v.spanId || byId.get(q.parentSpanId ?? '')?.parentSpanId === v.spanId,
            ),
          ).toBe(true);
        }
      }
      // No span of either request landed in another trace, and each set-up request had a trace of its own.
      const traceIds = new Set(spans.filter((s) => s.kind === SERVER_KIND).map((s) => s.traceId));
      expect(traceIds.size).toBe(5);

      // No code, secret or token anywhere in what was exported; no raw path, client address or user agent.
      const strings = exportedStrings(spans);
      const codeToken = (c: string) => new RegExp(`(^|\\D)${c}(\\D|$)`);
      for (const s of strings) {
        expect(s).not.toMatch(codeToken(code));
        expect(s).not.toMatch(codeToken(wrong));
        expect(s).not.toContain(secret);
        expect(s).not.toContain(token);
        expect(s).not.toContain(userId);
      }
      for (const s of spans)
        for (const k of Object.keys(s.attributes)) expect(REDACTED_ATTRIBUTES.has(k)).toBe(false);
      expect(receiver.unexpected).toEqual([]);

      // Every log line of a traced request carries its trace id and the id of one of its spans.
      const lines = logLines(server!);
      for (const [caller, answer] of [
        [good, verified],
        [bad, refused],
      ] as const) {
        const ofRequest = lines.filter((l) => l.requestId === answer.requestId);
        expect(ofRequest.length).toBeGreaterThan(0);
        const spanIds = new Set(spans.filter((s) => s.traceId === caller.traceId).map((s) => s.spanId));
        for (const l of ofRequest) {
          expect(l.trace_id).toBe(caller.traceId);
          expect(spanIds.has(l.span_id!)).toBe(true);
        }
      }
    }));

  it('starts nothing without an OTLP endpoint: no spans, no trace ids in the logs', () =>
    explained(async () => {
      // The batch delay alone does not turn tracing on.
      const { port, token, secret, verify } = await start({ OTEL_BSP_SCHEDULE_DELAY: '20' });
      const caller = callerContext();
      const verified = await post(
        port,
        verify,
        token,
        { code: totpCode(secret, Date.now()) },
        {
          traceparent: caller.traceparent,
        },
      );
      expect(verified.status).toBe(200);
      await server!.waitForLine(completedLine(verified.requestId));
      const lines = logLines(server!);
      expect(lines.filter((l) => l.requestId === verified.requestId).length).toBeGreaterThan(0);
      expect(lines.filter((l) => l.trace_id !== undefined || l.span_id !== undefined)).toEqual([]);
      expect(server!.stdout.join('\n')).not.toContain(caller.traceId);
    }));
});
