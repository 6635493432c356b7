import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { tracing } from '@opentelemetry/sdk-node';
import { ConfigError, loadConfig } from './common/config/app-config';
import { RedactingExporter, startTracing } from './tracing';

// Tracing off must not even load the SDK.
const sdkLoaded = jest.fn();
jest.mock('@opentelemetry/sdk-node', () => {
  sdkLoaded();
  return jest.requireActual('@opentelemetry/sdk-node');
});

describe('tracing configuration', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mfa-tracing-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const load = (env: Record<string, string>) =>
    loadConfig({ DATA_DIR: dir, MASTER_KEY: randomBytes(32).toString('base64'), ...env }).config;

  it('is off without an OTLP endpoint (other OTEL_* variables alone do not turn it on), and then loads nothing', () => {
    const config = load({ OTEL_SERVICE_NAME: 'mfa', OTEL_BSP_SCHEDULE_DELAY: '10' });
    expect(config.tracing).toBeUndefined();
    startTracing(config);
    expect(sdkLoaded).not.toHaveBeenCalled();
  });

  it('sends to <endpoint>/v1/traces, or to the traces endpoint as given', () => {
    expect(load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing).toEqual({
      tracesUrl: 'http://collector:4318/v1/traces',
      serviceName: 'mfa-service',
    });
    expect(
      load({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example.com/otlp',
        OTEL_SERVICE_NAME: 'mfa-eu',
      }).tracing,
    ).toEqual({ tracesUrl: 'https://traces.example.com/otlp', serviceName: 'mfa-eu' });
  });

  it('refuses an endpoint that is no http(s) URL, naming the variable', () => {
    expect(() => load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(ConfigError);
    expect(() => load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://collector' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT/,
    );
  });
});

describe('RedactingExporter', () => {
  it('drops paths, full URLs, client addresses and user agents, keeps the rest and the span itself', () => {
    const seen: tracing.ReadableSpan[] = [];
    const inner = {
      export: (spans: tracing.ReadableSpan[]) => seen.push(...spans),
      shutdown: () => Promise.resolve(),
    };
    const ctx = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 };
    const span = {
      name: 'POST /v2/users/:userId/totp/verify',
      attributes: {
        'http.route': '/v2/users/:userId/totp/verify',
        'http.target': '/v2/users/123/totp/verify',
        'url.full': 'http://x/v2/users/123/totp/verify?code=1',
        'client.address': '203.0.113.9',
        'user_agent.original': 'curl',
        'http.status_code': 200,
      },
      spanContext: () => ctx,
    } as unknown as tracing.ReadableSpan;
    new RedactingExporter(inner).export([span], () => undefined);
    expect(seen[0].attributes).toEqual({
      'http.route': '/v2/users/:userId/totp/verify',
      'http.status_code': 200,
    });
    expect(seen[0].spanContext()).toBe(ctx);
    expect(seen[0].name).toBe(span.name);
    // The recorded span is not changed.
    expect(span.attributes['http.target']).toBe('/v2/users/123/totp/verify');
  });
});
