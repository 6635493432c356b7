import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { InjectDataSource } from '@nestjs/typeorm';
import * as fs from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import * as path from 'node:path';
import type { Pool } from 'pg';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { RouteRegistry } from '../errors/route-registry';
import { SendOutcomes } from './send-outcome';
import { VERIFY_FACTORS, VERIFY_RESULTS, VerifyOutcome, VerifyOutcomes } from './verify-outcome';

/** Route label of a request no route matched (unknown paths, wrong methods, refused before routing). */
export const UNMATCHED_ROUTE = 'unmatched';

/** Paths served outside the controllers (bootstrap.ts: OpenAPI documents, Swagger UI and its assets). */
const DOC_ROUTES: [RegExp, string][] = [
  [/^\/openapi\.(json|yaml)$/, '/openapi.$1'],
  [/^\/docs(\/.*)?$/, '/docs'],
];

/** Methods a label may name; anything else Node's parser lets through counts as OTHER. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * The Prometheus metrics of one app instance, in a registry of its own (never prom-client's global
 * one: several apps may live in one process, as in the tests). Labels are route templates, methods,
 * statuses, factors, results and provider names: never a user id, code, phone number or address.
 * Created only when metrics are on; with them off nothing is measured.
 */
@Injectable()
export class Metrics implements OnApplicationBootstrap {
  readonly registry = new Registry();
  private readonly requestDuration = new Histogram({
    name: 'mfa_http_request_duration_seconds',
    help: 'HTTP requests by route template, method and status: time from arrival to the last byte of the answer.',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly verifications = new Counter({
    name: 'mfa_verify_attempts_total',
    help: 'Code verifications and checks by factor and result.',
    labelNames: ['factor', 'result'] as const,
    registers: [this.registry],
  });
  private readonly lockouts = new Counter({
    name: 'mfa_lockouts_total',
    help: 'Lockouts started: wrong codes that locked a factor, used up a code or locked a challenge.',
    labelNames: ['factor'] as const,
    registers: [this.registry],
  });
  private readonly smsSends = new Counter({
    name: 'mfa_sms_sends_total',
    help: 'SMS sends by provider and result (every retry of one send included in one result).',
    labelNames: ['provider', 'result'] as const,
    registers: [this.registry],
  });
  private readonly mailSends = new Counter({
    name: 'mfa_mail_sends_total',
    help: 'Challenge mail sends by transport and result (unconfirmed: transmitted, no answer within the deadline).',
    labelNames: ['provider', 'result'] as const,
    registers: [this.registry],
  });

  constructor(
    private readonly config: AppConfig,
    private readonly routes: RouteRegistry,
    private readonly adapterHost: HttpAdapterHost,
    outcomes: VerifyOutcomes,
    sends: SendOutcomes,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'mfa_build_info',
      help: 'Always 1; the labels name the running build.',
      labelNames: ['version', 'node'] as const,
      registers: [this.registry],
    }).set({ version: packageVersion(), node: process.version }, 1);
    // Every series exists from the start (at 0), so rates and alerts see the first event.
    for (const factor of VERIFY_FACTORS) {
      this.lockouts.inc({ factor }, 0);
      for (const result of VERIFY_RESULTS) this.verifications.inc({ factor, result }, 0);
    }
    for (const result of ['sent', 'failed'] as const) {
      this.smsSends.inc({ provider: config.sms.provider, result }, 0);
      this.mailSends.inc({ provider: config.mail.transport, result }, 0);
    }
    outcomes.observe((o) => this.countOutcome(o));
    sends.observe((o) =>
      (o.channel === 'sms' ? this.smsSends : this.mailSends).inc({ provider: o.provider, result: o.result }),
    );
  }

  onApplicationBootstrap(): void {
    this.timeRequests(this.adapterHost.httpAdapter.getHttpServer() as Server);
    this.watchPool();
  }

  private countOutcome(o: VerifyOutcome): void {
    this.verifications.inc({ factor: o.factor, result: o.result });
    if (o.lockoutStarted) this.lockouts.inc({ factor: o.factor });
  }

  /**
   * Timed at the HTTP server, not in a Nest interceptor: requests refused before routing (malformed
   * JSON, oversize bodies, unknown paths, overload) and answers the exception filter renders count
   * too, on both adapters. The route is the template of the route the path matches, never the path.
   */
  private timeRequests(server: Server): void {
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      const start = process.hrtime.bigint();
      res.once('finish', () => {
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        const method = METHODS.has(req.method ?? '') ? req.method! : 'OTHER';
        this.requestDuration.observe(
          { route: this.routeOf(method, req.url ?? '/'), method, status: res.statusCode },
          seconds,
        );
      });
    });
  }

  private routeOf(method: string, url: string): string {
    const template = this.routes.templateOf(method === 'HEAD' ? 'GET' : method, url);
    if (template) return template;
    const pathOnly = url.split('?')[0];
    for (const [pattern, name] of DOC_ROUTES)
      if (pattern.test(pathOnly)) return pathOnly.replace(pattern, name);
    return UNMATCHED_ROUTE;
  }

  /** PostgreSQL: connections of the pool in use, and requests waiting for one (read at each scrape). */
  private watchPool(): void {
    if (this.config.database.type !== 'postgres') return;
    const pool = () => (this.dataSource.driver as unknown as { master?: Pool }).master;
    new Gauge({
      name: 'mfa_db_pool_connections_in_use',
      help: 'PostgreSQL pool connections checked out.',
      registers: [this.registry],
      collect() {
        const p = pool();
        this.set(p ? p.totalCount - p.idleCount : 0);
      },
    });
    new Gauge({
      name: 'mfa_db_pool_requests_waiting',
      help: 'Requests waiting for a PostgreSQL pool connection.',
      registers: [this.registry],
      collect() {
        this.set(pool()?.waitingCount ?? 0);
      },
    });
    new Gauge({
      name: 'mfa_db_pool_size',
      help: 'Largest number of PostgreSQL connections the pool opens (DATABASE_POOL_SIZE).',
      registers: [this.registry],
    }).set(this.config.database.poolSize);
  }
}

/** The service's version, from the package.json above this file (in the sources and in dist/ alike). */
function packageVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file))
      return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
    if (path.dirname(dir) === dir) return 'unknown';
  }
}
