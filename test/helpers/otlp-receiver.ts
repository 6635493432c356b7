import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** An OTLP/JSON attribute value (only the kinds the service's spans use are read). */
interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
}
interface KeyValue {
  key: string;
  value: AnyValue;
}

/** A span as received, flattened: its attributes as plain values, with its scope and resource. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, unknown>;
  scope: string;
  resource: Record<string, unknown>;
  /** Attributes of the span's events, flattened as `attributes`. */
  eventAttributes: Record<string, unknown>[];
}

export interface OtlpReceiver {
  /** Base URL for OTEL_EXPORTER_OTLP_ENDPOINT. */
  url: string;
  spans: ReceivedSpan[];
  /** Export requests that were not POST /v1/traces as JSON. */
  unexpected: string[];
  /** Resolves once the spans received so far satisfy `done` (checked after every export). */
  waitFor(done: (spans: ReceivedSpan[]) => boolean): Promise<void>;
  close(): Promise<void>;
}

const plain = (v: AnyValue): unknown =>
  v.stringValue ??
  (v.intValue !== undefined ? Number(v.intValue) : undefined) ??
  v.boolValue ??
  v.doubleValue ??
  v.arrayValue?.values?.map(plain);
const flatten = (kvs: KeyValue[] | undefined) =>
  Object.fromEntries((kvs ?? []).map((kv) => [kv.key, plain(kv.value)]));

/** A local OTLP/HTTP trace receiver (JSON encoding), as a collector would listen on :4318. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const unexpected: string[] = [];
  const waiters: { done: (spans: ReceivedSpan[]) => boolean; resolve: () => void }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      if (
        req.method !== 'POST' ||
        req.url !== '/v1/traces' ||
        !/^application\/json/.test(req.headers['content-type'] ?? '')
      ) {
        unexpected.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
      } else {
        const doc = JSON.parse(body) as {
          resourceSpans?: {
            resource?: { attributes?: KeyValue[] };
            scopeSpans?: {
              scope?: { name: string };
              spans?: (Omit<ReceivedSpan, 'attributes' | 'scope' | 'resource' | 'eventAttributes'> & {
                attributes?: KeyValue[];
                events?: { attributes?: KeyValue[] }[];
              })[];
            }[];
          }[];
        };
        for (const rs of doc.resourceSpans ?? []) {
          const resource = flatten(rs.resource?.attributes);
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              spans.push({
                traceId: s.traceId,
                spanId: s.spanId,
                parentSpanId: s.parentSpanId || undefined,
                name: s.name,
                kind: s.kind,
                attributes: flatten(s.attributes),
                scope: ss.scope?.name ?? '',
                resource,
                eventAttributes: (s.events ?? []).map((e) => flatten(e.attributes)),
              });
            }
          }
        }
      }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      for (const w of [...waiters]) {
        if (w.done(spans)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    unexpected,
    waitFor: (done) =>
      done(spans) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ done, resolve })),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
