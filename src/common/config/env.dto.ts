import { Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value;
const toBool = ({ value }: { value: unknown }) => {
  if (typeof value !== 'string') return value;
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off', ''].includes(v)) return false;
  return value;
};

export const SQLITE_SYNCHRONOUS_MODES = ['full', 'normal'] as const;
export const HTTP_ADAPTERS = ['express', 'fastify'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const SMS_PROVIDERS = ['log', 'webhook', 'twilio'] as const;
export const MAIL_TRANSPORTS = ['log', 'smtp'] as const;
/** The security notifications a user can get by email (NOTIFY_EVENTS picks some, default all). */
export const NOTIFICATION_KINDS = [
  'factor_added',
  'factor_removed',
  'factor_locked',
  'code_replayed',
  'recovery_codes_generated',
  'recovery_code_used',
  'recovery_codes_low',
] as const;

/**
 * The environment, as read once at boot. Every variable the service understands is declared
 * here and nowhere else reads `process.env`. A value that fails these rules stops start-up
 * with a message naming the variable.
 */
export class EnvDto {
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT?: number;

  @IsOptional()
  @IsString()
  @MinLength(1)
  HOST?: string;

  /** Port of the gRPC (HTTP/2 cleartext) server; 0 = any free port. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  GRPC_PORT?: number;

  /** Port of the management server (Prometheus `/metrics`); 0 switches it off. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  METRICS_PORT?: number;

  @IsOptional()
  @IsString()
  @MinLength(1)
  METRICS_HOST?: string;

  @IsOptional()
  @IsIn(HTTP_ADAPTERS)
  HTTP_ADAPTER?: (typeof HTTP_ADAPTERS)[number];

  @IsOptional()
  @IsString()
  @Matches(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, {
    message: 'must be sqlite:<path> or postgres://user@host:port/db',
  })
  DATABASE_URL?: string;

  @IsOptional()
  @Matches(/^[a-z_][a-z0-9_]{0,62}$/, { message: 'must be a lower-case SQL identifier' })
  DATABASE_SCHEMA?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(200)
  DATABASE_POOL_SIZE?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(10000)
  DATABASE_POOL_MAX_WAITING?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(600000)
  DATABASE_CONNECT_TIMEOUT_MS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(600000)
  DATABASE_STATEMENT_TIMEOUT_MS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(600000)
  REQUEST_TIMEOUT_MS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100000)
  MAX_IN_FLIGHT_REQUESTS?: number;

  @IsOptional()
  @IsIn(SQLITE_SYNCHRONOUS_MODES)
  SQLITE_SYNCHRONOUS?: (typeof SQLITE_SYNCHRONOUS_MODES)[number];

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(2)
  @Max(1024)
  SQLITE_CACHE_MB?: number;

  @IsOptional()
  @IsIn(LOG_LEVELS)
  LOG_LEVEL?: (typeof LOG_LEVELS)[number];

  @IsOptional()
  @IsString()
  DATA_DIR?: string;

  @IsOptional()
  @Matches(/^[A-Za-z0-9+/]{43}=$/, { message: 'must be 32 bytes, base64 encoded' })
  MASTER_KEY?: string;

  @IsOptional()
  @Matches(/^[A-Za-z0-9._-]{1,32}$/, { message: 'must be 1-32 characters [A-Za-z0-9._-]' })
  MASTER_KEY_ID?: string;

  /** Older keys kept for decryption after a rotation: `id1:base64key,id2:base64key`. */
  @IsOptional()
  @Matches(/^([A-Za-z0-9._-]{1,32}:[A-Za-z0-9+/]{43}=)(,[A-Za-z0-9._-]{1,32}:[A-Za-z0-9+/]{43}=)*$/, {
    message: 'must be a comma separated list of <keyId>:<base64 32-byte key>',
  })
  MASTER_KEYS_OLD?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1024)
  @Max(10 * 1024 * 1024)
  BODY_LIMIT_BYTES?: number;

  @IsOptional()
  @IsString()
  @MinLength(1)
  BOOTSTRAP_ADMIN_PAT_PATH?: string;

  @IsOptional()
  @Matches(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/, {
    message: 'must be a lower-case DNS name',
  })
  EXTERNAL_DOMAIN?: string;

  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'must be 1-64 characters [A-Za-z0-9_-]' })
  INSTANCE_ID?: string;

  @IsOptional()
  @IsUrl({ require_tld: false, protocols: ['http', 'https'] })
  OIDC_ISSUER?: string;

  @IsOptional()
  @IsString()
  @MinLength(1)
  OIDC_AUDIENCE?: string;

  @IsOptional()
  @IsUrl({ require_tld: false, protocols: ['http', 'https'] })
  OIDC_JWKS_URL?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(300)
  TOKEN_CACHE_SECONDS?: number;

  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  TOTP_ISSUER?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100)
  OTP_MAX_ATTEMPTS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(86400)
  OTP_LOCKOUT_SECONDS?: number;

  @IsOptional()
  @IsIn(SMS_PROVIDERS)
  SMS_PROVIDER?: (typeof SMS_PROVIDERS)[number];

  @IsOptional()
  @Transform(toBool)
  @IsBoolean()
  SMS_LOG_CODES?: boolean;

  @IsOptional()
  @IsUrl({ require_tld: false, protocols: ['http', 'https'] })
  SMS_WEBHOOK_URL?: string;

  @IsOptional()
  @IsString()
  @MinLength(16)
  SMS_WEBHOOK_SECRET?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(60000)
  SMS_TIMEOUT_MS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(5)
  SMS_RETRIES?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(60000)
  SMS_SEND_DEADLINE_MS?: number;

  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(500)
  SMS_TEMPLATE?: string;

  @IsOptional()
  @IsUrl({ require_tld: false, protocols: ['http', 'https'] })
  TWILIO_BASE_URL?: string;

  @IsOptional()
  @IsString()
  @MinLength(1)
  TWILIO_ACCOUNT_SID?: string;

  @IsOptional()
  @IsString()
  @MinLength(1)
  TWILIO_AUTH_TOKEN?: string;

  @IsOptional()
  @IsString()
  @MinLength(1)
  TWILIO_FROM?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(30)
  @Max(3600)
  SMS_CODE_TTL_SECONDS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3600)
  SMS_RESEND_COOLDOWN_SECONDS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1000)
  SMS_DAILY_LIMIT_PER_NUMBER?: number;

  @IsOptional()
  @IsIn(MAIL_TRANSPORTS)
  MAIL_TRANSPORT?: (typeof MAIL_TRANSPORTS)[number];

  @IsOptional()
  @Matches(/^smtps?:\/\/.+/, { message: 'must be smtp://host:port or smtps://host:port' })
  SMTP_URL?: string;

  @IsOptional()
  @IsString()
  @MinLength(3)
  MAIL_FROM?: string;

  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  MAIL_SUBJECT?: string;

  @IsOptional()
  @Transform(toBool)
  @IsBoolean()
  MAIL_LOG_CODES?: boolean;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(60000)
  MAIL_SEND_DEADLINE_MS?: number;

  /** Idle SMTP connections kept for the next mail; 0 = a new connection per mail. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(50)
  SMTP_POOL_MAX_IDLE?: number;

  /** An idle SMTP connection is closed after this long (below the 20 s socket timeout). */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(15000)
  SMTP_POOL_IDLE_MS?: number;

  /** A pooled SMTP connection is closed after this many mails. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10000)
  SMTP_POOL_MAX_MESSAGES?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3600)
  EMAIL_RESEND_COOLDOWN_SECONDS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(30)
  @Max(3600)
  OTP_EMAIL_CODE_TTL_SECONDS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(50)
  RECOVERY_CODE_COUNT?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(24 * 365)
  CHALLENGE_RETENTION_HOURS?: number;

  @IsOptional()
  @Transform(toBool)
  @IsBoolean()
  STEP_UP_FOR_FACTOR_REMOVAL?: boolean;

  /** Security notifications: `all` (default), `none`, or a comma list of NOTIFICATION_KINDS. */
  @IsOptional()
  @IsString()
  @Matches(
    new RegExp(
      `^\\s*(all|none|(${NOTIFICATION_KINDS.join('|')})(\\s*,\\s*(${NOTIFICATION_KINDS.join('|')}))*)\\s*$`,
    ),
    { message: `must be all, none, or a comma list of ${NOTIFICATION_KINDS.join(', ')}` },
  )
  NOTIFY_EVENTS?: string;

  /** How often the notification worker looks for rows written by other instances and for due retries. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(3_600_000)
  NOTIFY_POLL_INTERVAL_MS?: number;

  /** The first retry's delay after a failed notification mail; doubles per try up to NOTIFY_RETRY_MAX_MS. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(3_600_000)
  NOTIFY_RETRY_BASE_MS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(86_400_000)
  NOTIFY_RETRY_MAX_MS?: number;

  /** Tries per notification before it is given up (kept in the outbox as FAILED). */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1000)
  NOTIFY_MAX_ATTEMPTS?: number;

  // OpenTelemetry tracing: off unless one of the two endpoints is set. The OTLP exporter and batch
  // processor also read their own standard tuning variables (OTEL_EXPORTER_OTLP_HEADERS,
  // OTEL_EXPORTER_OTLP_TIMEOUT, OTEL_BSP_*, OTEL_TRACES_SAMPLER, OTEL_RESOURCE_ATTRIBUTES).
  @IsOptional()
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;

  @IsOptional()
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string;

  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  OTEL_SERVICE_NAME?: string;
}
