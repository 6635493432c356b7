import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { ensurePrivateDir, narrowToPrivate, PRIVATE_FILE_MODE } from '../files/private-files';
import {
  EnvDto,
  HTTP_ADAPTERS,
  LOG_LEVELS,
  MAIL_TRANSPORTS,
  NOTIFICATION_KINDS,
  SMS_PROVIDERS,
  SQLITE_SYNCHRONOUS_MODES,
} from './env.dto';

/** SQLite's page cache when SQLITE_CACHE_MB is unset, in MiB (see buildDataSourceOptions). */
export const DEFAULT_SQLITE_CACHE_MB = 16;

export type DatabaseConfig =
  | {
      type: 'sqlite';
      path: string;
      synchronous?: (typeof SQLITE_SYNCHRONOUS_MODES)[number];
      /** SQLite's page cache of the connection, in MiB (SQLITE_CACHE_MB). */
      cacheMb?: number;
    }
  | { type: 'postgres'; url: string; schema?: string; poolSize: number; bounds?: DatabaseBounds };

/** How long the service waits for PostgreSQL, and how many requests may wait for a pooled connection. */
export interface DatabaseBounds {
  /** Longest wait for a connection, pooled or new. */
  connectTimeoutMs: number;
  /** Longest a statement may run (server side; the client gives up shortly after). */
  statementTimeoutMs: number;
  /** Connection requests that may wait while every pooled connection is busy; more are refused at once. */
  maxWaiting: number;
}

/** The one typed configuration object. Built from the environment once, at boot. */
export class AppConfig {
  port: number;
  host: string;
  /**
   * The gRPC server (HTTP/2 without TLS) serving the ZITADEL RPC services; Connect and gRPC-Web are
   * served on `port` too. Port 0 means any free port (the bound port is logged). Listens on `host`.
   */
  grpc: { port: number };
  /**
   * The management server serving Prometheus metrics, apart from the API port; undefined when off
   * (METRICS_PORT=0). Set in code, port 0 means any free port (tests read the bound address).
   */
  metrics?: { port: number; host: string };
  /** The Nest HTTP platform: Express (default) or Fastify (less framework cost per request). */
  httpAdapter: (typeof HTTP_ADAPTERS)[number];
  dataDir: string;
  /** This instance: its id and the domain under which organisations get their primary domains. */
  instance: { id: string; domain: string };
  database: DatabaseConfig;
  logLevel: (typeof LOG_LEVELS)[number];
  bodyLimitBytes: number;
  /** Bounds on every request: its duration and how many run at once (health probes are exempt). */
  limits: { requestTimeoutMs: number; maxInFlightRequests: number };
  crypto: { keyId: string; key: Buffer; oldKeys: Record<string, Buffer>; generated: boolean };
  auth: {
    bootstrapPatPath: string;
    tokenCacheSeconds: number;
    oidc?: { issuer: string; audience: string; jwksUrl: string };
  };
  otp: { maxAttempts: number; lockoutSeconds: number };
  totp: { issuer: string };
  sms: {
    provider: (typeof SMS_PROVIDERS)[number];
    logCodes: boolean;
    codeTtlSeconds: number;
    resendCooldownSeconds: number;
    dailyLimitPerNumber: number;
    template: string;
    timeoutMs: number;
    retries: number;
    /** One send, all its tries and pauses included, ends within this time. */
    sendDeadlineMs: number;
    webhook?: { url: string; secret?: string };
    twilio?: { baseUrl: string; accountSid: string; authToken: string; from: string };
  };
  mail: {
    transport: (typeof MAIL_TRANSPORTS)[number];
    smtpUrl?: string;
    from: string;
    subject: string;
    logCodes: boolean;
    resendCooldownSeconds: number;
    /** One send ends within this time (see the SMTP sender for what a late relay means). */
    sendDeadlineMs: number;
    /** Reuse of SMTP connections (see the SMTP sender); `maxIdle` 0 = one connection per mail. */
    pool: { maxIdle: number; idleMs: number; maxMessages: number };
  };
  challenge: { retentionHours: number; stepUpForFactorRemoval: boolean };
  /** v2 OTP Email sign-in codes (their resend cooldown is EMAIL_RESEND_COOLDOWN_SECONDS). */
  otpEmail: { codeTtlSeconds: number };
  /** How many recovery codes a generated set holds unless the request says. */
  recoveryCodes: { defaultCount: number };
  /** Security notifications by email: which kinds, and how the outbox worker polls and retries. */
  notify: {
    kinds: ReadonlySet<(typeof NOTIFICATION_KINDS)[number]>;
    pollIntervalMs: number;
    retryBaseMs: number;
    retryMaxMs: number;
    maxAttempts: number;
  };
  /** OpenTelemetry tracing; absent (off) unless an OTLP endpoint is configured. */
  tracing?: { tracesUrl: string; serviceName: string };
  /** Where logs go (not from the environment: tests capture them to check what is logged). Default stdout. */
  logStream?: NodeJS.WritableStream;
}

export class ConfigError extends Error {}

/**
 * Validates `env` and builds the config. Throws a ConfigError naming every bad variable.
 * `MASTER_KEY` may be generated into `<DATA_DIR>/master.key` on the embedded SQLite default only.
 */
export function loadConfig(env: Record<string, string | undefined>): {
  config: AppConfig;
  warnings: string[];
} {
  // Empty values count as unset, as most deployment tools write them.
  const known = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const dto = plainToInstance(EnvDto, known);
  const errors = validateSync(dto, { whitelist: true });
  if (errors.length > 0) {
    const lines = errors.map((e) => `${e.property}: ${Object.values(e.constraints ?? {}).join('; ')}`);
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const warnings: string[] = [];
  const dataDir = path.resolve(dto.DATA_DIR ?? './data');
  const database = parseDatabase(dto, dataDir);
  const need = (name: keyof EnvDto, cond: boolean, why: string) => {
    if (cond && !dto[name]) throw new ConfigError(`Invalid configuration:\n  ${name}: required ${why}`);
  };

  let keyB64 = dto.MASTER_KEY;
  let generated = false;
  if (!keyB64) {
    if (database.type !== 'sqlite') {
      throw new ConfigError('Invalid configuration:\n  MASTER_KEY: required when DATABASE_URL is not SQLite');
    }
    const keyFile = path.join(dataDir, 'master.key');
    if (fs.existsSync(keyFile)) {
      narrowToPrivate(keyFile);
      keyB64 = fs.readFileSync(keyFile, 'utf8').trim();
    } else {
      ensurePrivateDir(dataDir);
      keyB64 = randomBytes(32).toString('base64');
      fs.writeFileSync(keyFile, keyB64 + '\n', { mode: PRIVATE_FILE_MODE });
      generated = true;
    }
    warnings.push(`MASTER_KEY is not set: using the key in ${keyFile}; set MASTER_KEY in production`);
  }
  const key = Buffer.from(keyB64, 'base64');
  if (key.length !== 32)
    throw new ConfigError('Invalid configuration:\n  MASTER_KEY: must decode to 32 bytes');
  const oldKeys: Record<string, Buffer> = {};
  for (const pair of dto.MASTER_KEYS_OLD?.split(',') ?? []) {
    const [id, b64] = pair.split(':');
    oldKeys[id] = Buffer.from(b64, 'base64');
  }

  const oidcAny = dto.OIDC_ISSUER || dto.OIDC_AUDIENCE || dto.OIDC_JWKS_URL;
  need('OIDC_ISSUER', !!oidcAny, 'when any OIDC_* variable is set');
  need('OIDC_AUDIENCE', !!oidcAny, 'when any OIDC_* variable is set');
  need('OIDC_JWKS_URL', !!oidcAny, 'when any OIDC_* variable is set');

  const smsProvider = dto.SMS_PROVIDER ?? 'log';
  need('SMS_WEBHOOK_URL', smsProvider === 'webhook', 'when SMS_PROVIDER=webhook');
  need('TWILIO_ACCOUNT_SID', smsProvider === 'twilio', 'when SMS_PROVIDER=twilio');
  need('TWILIO_AUTH_TOKEN', smsProvider === 'twilio', 'when SMS_PROVIDER=twilio');
  need('TWILIO_FROM', smsProvider === 'twilio', 'when SMS_PROVIDER=twilio');
  const mailTransport = dto.MAIL_TRANSPORT ?? 'log';
  need('SMTP_URL', mailTransport === 'smtp', 'when MAIL_TRANSPORT=smtp');

  const config: AppConfig = {
    port: dto.PORT ?? 8080,
    host: dto.HOST ?? '0.0.0.0',
    grpc: { port: dto.GRPC_PORT ?? 8081 },
    metrics:
      dto.METRICS_PORT === 0
        ? undefined
        : { port: dto.METRICS_PORT ?? 9464, host: dto.METRICS_HOST ?? '127.0.0.1' },
    httpAdapter: dto.HTTP_ADAPTER ?? 'express',
    dataDir,
    instance: { id: dto.INSTANCE_ID ?? 'default', domain: dto.EXTERNAL_DOMAIN ?? 'localhost' },
    database,
    logLevel: dto.LOG_LEVEL ?? 'info',
    bodyLimitBytes: dto.BODY_LIMIT_BYTES ?? 64 * 1024,
    limits: {
      requestTimeoutMs: dto.REQUEST_TIMEOUT_MS ?? 10_000,
      maxInFlightRequests: dto.MAX_IN_FLIGHT_REQUESTS ?? 100,
    },
    crypto: { keyId: dto.MASTER_KEY_ID ?? 'k1', key, oldKeys, generated },
    auth: {
      bootstrapPatPath: path.resolve(dto.BOOTSTRAP_ADMIN_PAT_PATH ?? path.join(dataDir, 'admin.pat')),
      tokenCacheSeconds: dto.TOKEN_CACHE_SECONDS ?? 10,
      oidc: oidcAny
        ? { issuer: dto.OIDC_ISSUER!, audience: dto.OIDC_AUDIENCE!, jwksUrl: dto.OIDC_JWKS_URL! }
        : undefined,
    },
    otp: { maxAttempts: dto.OTP_MAX_ATTEMPTS ?? 5, lockoutSeconds: dto.OTP_LOCKOUT_SECONDS ?? 300 },
    totp: { issuer: dto.TOTP_ISSUER ?? 'MFA Service' },
    sms: {
      provider: smsProvider,
      logCodes: dto.SMS_LOG_CODES ?? false,
      codeTtlSeconds: dto.SMS_CODE_TTL_SECONDS ?? 300,
      resendCooldownSeconds: dto.SMS_RESEND_COOLDOWN_SECONDS ?? 30,
      dailyLimitPerNumber: dto.SMS_DAILY_LIMIT_PER_NUMBER ?? 10,
      template: dto.SMS_TEMPLATE ?? '{{code}} is your verification code. It expires in {{minutes}} minutes.',
      timeoutMs: dto.SMS_TIMEOUT_MS ?? 5000,
      retries: dto.SMS_RETRIES ?? 2,
      sendDeadlineMs: dto.SMS_SEND_DEADLINE_MS ?? 8000,
      webhook: dto.SMS_WEBHOOK_URL ? { url: dto.SMS_WEBHOOK_URL, secret: dto.SMS_WEBHOOK_SECRET } : undefined,
      twilio:
        smsProvider === 'twilio'
          ? {
              baseUrl: dto.TWILIO_BASE_URL ?? 'https://api.twilio.com',
              accountSid: dto.TWILIO_ACCOUNT_SID!,
              authToken: dto.TWILIO_AUTH_TOKEN!,
              from: dto.TWILIO_FROM!,
            }
          : undefined,
    },
    mail: {
      transport: mailTransport,
      smtpUrl: dto.SMTP_URL,
      from: dto.MAIL_FROM ?? 'MFA Service <no-reply@localhost>',
      subject: dto.MAIL_SUBJECT ?? 'Your verification code',
      logCodes: dto.MAIL_LOG_CODES ?? false,
      resendCooldownSeconds: dto.EMAIL_RESEND_COOLDOWN_SECONDS ?? 30,
      sendDeadlineMs: dto.MAIL_SEND_DEADLINE_MS ?? 8000,
      pool: {
        maxIdle: dto.SMTP_POOL_MAX_IDLE ?? 5,
        idleMs: dto.SMTP_POOL_IDLE_MS ?? 10_000,
        maxMessages: dto.SMTP_POOL_MAX_MESSAGES ?? 100,
      },
    },
    challenge: {
      retentionHours: dto.CHALLENGE_RETENTION_HOURS ?? 24,
      stepUpForFactorRemoval: dto.STEP_UP_FOR_FACTOR_REMOVAL ?? false,
    },
    otpEmail: { codeTtlSeconds: dto.OTP_EMAIL_CODE_TTL_SECONDS ?? 300 },
    recoveryCodes: { defaultCount: dto.RECOVERY_CODE_COUNT ?? 10 },
    notify: {
      kinds: parseNotifyEvents(dto.NOTIFY_EVENTS),
      pollIntervalMs: dto.NOTIFY_POLL_INTERVAL_MS ?? 10_000,
      retryBaseMs: dto.NOTIFY_RETRY_BASE_MS ?? 5_000,
      retryMaxMs: dto.NOTIFY_RETRY_MAX_MS ?? 3_600_000,
      maxAttempts: dto.NOTIFY_MAX_ATTEMPTS ?? 50,
    },
    tracing: parseTracing(dto),
  };
  return { config, warnings };
}

/**
 * The OTLP/HTTP traces URL, as the OpenTelemetry specification derives it: the signal-specific variable
 * verbatim, else `<OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces`.
 */
function parseTracing(dto: EnvDto): AppConfig['tracing'] {
  const base = dto.OTEL_EXPORTER_OTLP_ENDPOINT;
  const tracesUrl =
    dto.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (base && `${base.replace(/\/+$/, '')}/v1/traces`);
  return tracesUrl ? { tracesUrl, serviceName: dto.OTEL_SERVICE_NAME ?? 'mfa-service' } : undefined;
}

/** NOTIFY_EVENTS (already checked against the kinds): `all` or unset → every kind, `none` → none. */
function parseNotifyEvents(value: string | undefined): ReadonlySet<(typeof NOTIFICATION_KINDS)[number]> {
  const v = (value ?? 'all').trim();
  if (v === 'all') return new Set(NOTIFICATION_KINDS);
  if (v === 'none') return new Set();
  const chosen = v.split(',').map((k) => k.trim());
  return new Set(NOTIFICATION_KINDS.filter((k) => chosen.includes(k)));
}

/** Default: the embedded SQLite file `<DATA_DIR>/mfa.sqlite` (`./data/mfa.sqlite`). */
function parseDatabase(dto: EnvDto, dataDir: string): DatabaseConfig {
  const url = dto.DATABASE_URL ?? `sqlite:${path.join(dataDir, 'mfa.sqlite')}`;
  if (url.startsWith('sqlite:')) {
    const p = url.slice('sqlite:'.length);
    return {
      type: 'sqlite',
      path: p === ':memory:' ? p : path.resolve(p),
      synchronous: dto.SQLITE_SYNCHRONOUS ?? 'full',
      cacheMb: dto.SQLITE_CACHE_MB ?? DEFAULT_SQLITE_CACHE_MB,
    };
  }
  return {
    type: 'postgres',
    url,
    schema: dto.DATABASE_SCHEMA,
    poolSize: dto.DATABASE_POOL_SIZE ?? 10,
    bounds: {
      connectTimeoutMs: dto.DATABASE_CONNECT_TIMEOUT_MS ?? 5000,
      statementTimeoutMs: dto.DATABASE_STATEMENT_TIMEOUT_MS ?? 5000,
      maxWaiting: dto.DATABASE_POOL_MAX_WAITING ?? 100,
    },
  };
}
