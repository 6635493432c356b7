import { INestApplication, Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Logger } from 'nestjs-pino';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { Client } from 'pg';
import request from 'supertest';
import { AppModule } from '../../src/app.module';
import { configureApp, createHttpAdapter } from '../../src/bootstrap';
import { AppConfig, loadConfig } from '../../src/common/config/app-config';
import { MetricsServer } from '../../src/common/observability/metrics-server';
import { Clock } from '../../src/common/time/clock';
import { RpcServer } from '../../src/rpc/rpc.server';
import { FakeClock } from './fake-clock';

export type Db = 'sqlite' | 'postgres';

export const E2E_DB: Db = process.env.E2E_DB === 'postgres' ? 'postgres' : 'sqlite';
export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestApp {
  app: INestApplication;
  config: AppConfig;
  /** `http://127.0.0.1:<port>` of the listening app. */
  baseUrl: string;
  /** supertest agent bound to the app. */
  http: ReturnType<typeof request>;
  /** The bootstrap admin's PAT (IAM_OWNER). */
  adminToken: string;
  clock: FakeClock;
  /** Every log line the app wrote, as raw JSON text. */
  logs: string[];
  db: Db;
  /** `http://127.0.0.1:<port>/metrics` when started with `metrics: true`. */
  metricsUrl?: string;
  /** `http://127.0.0.1:<port>` of the app's gRPC (HTTP/2 cleartext) server. */
  grpcUrl: string;
  /** The database settings, so a second process can share this test's database. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Extra environment variables (e.g. SMTP_URL, OTP_MAX_ATTEMPTS). */
  env?: Record<string, string>;
  /** Start the fake clock here (epoch ms). Defaults to now. */
  now?: number;
  /** Reuse the database of an earlier test app (same file or schema). */
  shareDbWith?: TestApp;
  /** Test-only modules (e.g. a probe controller) imported next to AppModule. */
  extraModules?: Type[];
  /** Serve Prometheus metrics on a free port of 127.0.0.1 (`metricsUrl`); off otherwise. */
  metrics?: boolean;
  /** Extra controllers compiled into the app next to AppModule (test-only routes, e.g. guard probes). */
  controllers?: Type<unknown>[];
}

/**
 * nestjs-pino builds its pino-http instance once per process: the first app's log stream and level
 * win for every later app in the same test file. So every test app logs into this one sink, which
 * hands each line to the `logs` of every test app open at that moment (with two apps open, each sees
 * the lines of both – never fewer than its own).
 */
const openLogs = new Set<string[]>();
const sharedLogStream = new Writable({
  write(chunk: Buffer, _enc, cb) {
    for (const line of chunk.toString('utf8').split('\n'))
      if (line) for (const logs of openLogs) logs.push(line);
    cb();
  },
});

/** Temporary folder per test app, removed on close. */
function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'mfa-e2e-'));
}

/**
 * Boots the real AppModule over HTTP on an ephemeral port: SQLite in a temporary file, or a fresh
 * PostgreSQL schema when the e2e-postgres project runs. The clock is a FakeClock the test moves.
 */
export async function createTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const dir = tempDir();
  const schema = `t_${process.pid}_${randomBytes(4).toString('hex')}`;
  const dbEnv: Record<string, string> = opts.shareDbWith
    ? opts.shareDbWith.env
    : E2E_DB === 'postgres'
      ? { DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema, DATABASE_POOL_SIZE: '5' }
      : { DATABASE_URL: `sqlite:${path.join(dir, 'mfa.sqlite')}` };
  const env: Record<string, string> = {
    MASTER_KEY: opts.shareDbWith?.env.MASTER_KEY ?? randomBytes(32).toString('base64'),
    DATA_DIR: dir,
    LOG_LEVEL: 'debug',
    TOKEN_CACHE_SECONDS: '10',
    // Several test apps run at once: none binds the default metrics port (see `metrics`).
    METRICS_PORT: '0',
    // Nor the default gRPC port: each app's gRPC server takes a free one (`grpcUrl`).
    GRPC_PORT: '0',
    // Security notification mails only in the suites that ask for them: others read a user's last mail as
    // their challenge mail, and a notification arriving in between would take its place.
    NOTIFY_EVENTS: 'none',
    // The e2e-fastify project runs every suite again on the Fastify adapter.
    ...(process.env.E2E_HTTP_ADAPTER ? { HTTP_ADAPTER: process.env.E2E_HTTP_ADAPTER } : {}),
    ...dbEnv,
    ...(opts.env ?? {}),
  };
  const { config } = loadConfig(env);
  const logs: string[] = [];
  openLogs.add(logs);
  config.logStream = sharedLogStream;
  if (opts.metrics) config.metrics = { port: 0, host: '127.0.0.1' };
  const clock = new FakeClock(opts.now ?? Date.now());
  const moduleRef = await Test.createTestingModule({
    imports: [AppModule.forRoot(config), ...(opts.extraModules ?? [])],
    controllers: opts.controllers ?? [],
  })
    .overrideProvider(Clock)
    .useValue(clock)
    .compile();
  const app = moduleRef.createNestApplication(createHttpAdapter(config), {
    bodyParser: false,
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  configureApp(app, config);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const baseUrl = `http://127.0.0.1:${address.port}`;
  const patFile = config.auth.bootstrapPatPath;
  const adminToken = opts.shareDbWith ? opts.shareDbWith.adminToken : fs.readFileSync(patFile, 'utf8').trim();
  const sharedEnv = { ...dbEnv, MASTER_KEY: env.MASTER_KEY };
  return {
    app,
    config,
    baseUrl,
    http: request(app.getHttpServer()),
    adminToken,
    clock,
    logs,
    db: E2E_DB,
    metricsUrl: opts.metrics ? app.get(MetricsServer).url() : undefined,
    grpcUrl: `http://127.0.0.1:${app.get(RpcServer).grpcPort()}`,
    env: sharedEnv,
    close: async () => {
      await app.close();
      openLogs.delete(logs);
      if (!opts.shareDbWith && E2E_DB === 'postgres') await dropSchema(schema);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function dropSchema(schema: string): Promise<void> {
  const client = new Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
