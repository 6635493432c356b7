import type { Attributes } from '@opentelemetry/api';
import type { core, tracing } from '@opentelemetry/sdk-node';
import type { AppConfig } from './common/config/app-config';

/**
 * OpenTelemetry tracing, started by main.ts before anything it instruments is loaded (the
 * instrumentations patch `http`, Express, Fastify and `pg` as they are required), and only when an
 * OTLP endpoint is configured: without one, nothing here is loaded and no span is recorded.
 *
 * Spans go to the OTLP/HTTP endpoint as JSON in batches. The incoming W3C `traceparent` (and
 * `tracestate`) is honoured: the server span of a request continues the caller's trace. The exporter
 * and the batch processor read their own standard variables (OTEL_EXPORTER_OTLP_HEADERS,
 * OTEL_EXPORTER_OTLP_TIMEOUT, OTEL_BSP_*), the sampler OTEL_TRACES_SAMPLER(_ARG), the resource
 * OTEL_RESOURCE_ATTRIBUTES; everything else comes from AppConfig.
 */
export function startTracing(config: AppConfig): void {
  if (!config.tracing) return;
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded only when tracing is on */
  const { NodeSDK, core, resources } =
    require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { OTLPTraceExporter } =
    require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  const { HttpInstrumentation } =
    require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { PgInstrumentation } =
    require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
  const framework =
    config.httpAdapter === 'fastify'
      ? new (require('@fastify/otel') as typeof import('@fastify/otel')).FastifyOtelInstrumentation({
          registerOnInitialization: true,
        })
      : new (
          require('@opentelemetry/instrumentation-express') as typeof import('@opentelemetry/instrumentation-express')
        ).ExpressInstrumentation();
  /* eslint-enable @typescript-eslint/no-require-imports */

  const sdk = new NodeSDK({
    // The service and this instance; no host or process detectors (they would export the user the
    // process runs as and its command line).
    resource: resources.resourceFromAttributes({
      'service.name': config.tracing.serviceName,
      'service.instance.id': config.instance.id,
    }),
    resourceDetectors: [resources.envDetector],
    traceExporter: new RedactingExporter(new OTLPTraceExporter({ url: config.tracing.tracesUrl })),
    textMapPropagator: new core.W3CTraceContextPropagator(),
    // Traces only: no OTLP metrics or logs (metrics are Prometheus', logs go to stdout).
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        // Probes are polled every few seconds and say nothing about a request.
        ignoreIncomingRequestHook: (req) => req.url === '/healthz' || req.url === '/readyz',
      }),
      framework,
      new PgInstrumentation(),
    ],
  });
  sdk.start();
}

/**
 * Span attributes that are never exported. Paths carry user, authenticator and challenge ids (the
 * route template, `http.route`, is kept), query strings and full URLs may carry anything, and client
 * addresses and user agents are personal data. Request bodies, headers and SQL parameters are not
 * recorded by the instrumentations in the first place.
 */
export const REDACTED_ATTRIBUTES: ReadonlySet<string> = new Set([
  'http.target',
  'http.url',
  'url.full',
  'url.path',
  'url.query',
  'http.client_ip',
  'client.address',
  'client.port',
  'net.peer.ip',
  'net.peer.port',
  'net.sock.peer.addr',
  'net.sock.peer.port',
  'network.peer.address',
  'network.peer.port',
  'http.user_agent',
  'user_agent.original',
]);

/** Drops REDACTED_ATTRIBUTES from every span before the wrapped exporter sees it. */
export class RedactingExporter implements tracing.SpanExporter {
  constructor(private readonly inner: tracing.SpanExporter) {}

  export(spans: tracing.ReadableSpan[], resultCallback: (result: core.ExportResult) => void): void {
    this.inner.export(
      spans.map((span) => redact(span)),
      resultCallback,
    );
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

function redact(span: tracing.ReadableSpan): tracing.ReadableSpan {
  if (!Object.keys(span.attributes).some((k) => REDACTED_ATTRIBUTES.has(k))) return span;
  const attributes: Attributes = {};
  for (const [k, v] of Object.entries(span.attributes)) if (!REDACTED_ATTRIBUTES.has(k)) attributes[k] = v;
  // The span's own methods (spanContext) stay reachable through the prototype.
  return Object.create(span, { attributes: { value: attributes, enumerable: true } }) as tracing.ReadableSpan;
}
