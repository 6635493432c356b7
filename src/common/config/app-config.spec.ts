import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, loadConfig } from './app-config';

const KEY = randomBytes(32).toString('base64');

describe('loadConfig', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mfa-config-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** The ConfigError message for `env`, or fails when loading succeeds. */
  function errorFor(env: Record<string, string>): string {
    try {
      loadConfig({ DATA_DIR: dir, ...env });
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as Error).message;
    }
    throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
  }

  it('has working defaults: port 8080 on 0.0.0.0, SQLite under DATA_DIR, 64 KiB bodies', () => {
    const { config } = loadConfig({ DATA_DIR: dir, MASTER_KEY: KEY });
    expect(config.port).toBe(8080);
    expect(config.host).toBe('0.0.0.0');
    expect(config.database).toEqual({
      type: 'sqlite',
      path: path.join(dir, 'mfa.sqlite'),
      synchronous: 'full',
      cacheMb: 16,
    });
    expect(config.logLevel).toBe('info');
    expect(config.bodyLimitBytes).toBe(64 * 1024);
    expect(config.auth.bootstrapPatPath).toBe(path.join(dir, 'admin.pat'));
    expect(config.sms.provider).toBe('log');
    expect(config.mail.transport).toBe('log');
  });

  it('defaults DATA_DIR to ./data', () => {
    const { config } = loadConfig({ MASTER_KEY: KEY });
    expect(config.dataDir).toBe(path.resolve('data'));
    expect(config.database).toEqual({
      type: 'sqlite',
      path: path.resolve('data/mfa.sqlite'),
      synchronous: 'full',
      cacheMb: 16,
    });
  });

  it('reads PostgreSQL settings', () => {
    const { config } = loadConfig({
      MASTER_KEY: KEY,
      DATABASE_URL: 'postgres://mfa@db:5432/mfa',
      DATABASE_SCHEMA: 'mfa',
      DATABASE_POOL_SIZE: '7',
      PORT: '9000',
    });
    expect(config.database).toEqual({
      type: 'postgres',
      url: 'postgres://mfa@db:5432/mfa',
      schema: 'mfa',
      poolSize: 7,
      bounds: { connectTimeoutMs: 5000, statementTimeoutMs: 5000, maxWaiting: 100 },
    });
    expect(config.port).toBe(9000);
  });

  it.each([['abc'], ['70000'], ['-1'], ['80.5']])('rejects PORT=%s naming the variable', (port) => {
    expect(errorFor({ PORT: port, MASTER_KEY: KEY })).toMatch(/^Invalid configuration:\n {2}PORT: /);
  });

  it('serves metrics on 127.0.0.1:9464 by default, elsewhere when set, and not at all with METRICS_PORT=0', () => {
    expect(loadConfig({ DATA_DIR: dir, MASTER_KEY: KEY }).config.metrics).toEqual({
      port: 9464,
      host: '127.0.0.1',
    });
    expect(
      loadConfig({ DATA_DIR: dir, MASTER_KEY: KEY, METRICS_PORT: '9100', METRICS_HOST: '0.0.0.0' }).config
        .metrics,
    ).toEqual({
      port: 9100,
      host: '0.0.0.0',
    });
    expect(loadConfig({ DATA_DIR: dir, MASTER_KEY: KEY, METRICS_PORT: '0' }).config.metrics).toBeUndefined();
  });

  it.each([['abc'], ['70000'], ['-1']])('rejects METRICS_PORT=%s naming the variable', (port) => {
    expect(errorFor({ METRICS_PORT: port, MASTER_KEY: KEY })).toMatch(
      /^Invalid configuration:\n {2}METRICS_PORT: /,
    );
  });

  it.each([['mysql://u@h/db'], ['./data/x.sqlite'], ['sqlite:']])('rejects DATABASE_URL=%s', (url) => {
    expect(errorFor({ DATABASE_URL: url, MASTER_KEY: KEY })).toContain(
      'DATABASE_URL: must be sqlite:<path> or postgres://',
    );
  });

  it('names every bad variable at once', () => {
    const msg = errorFor({ PORT: 'x', LOG_LEVEL: 'loud', MASTER_KEY: 'short' });
    expect(msg).toContain('PORT:');
    expect(msg).toContain('LOG_LEVEL:');
    expect(msg).toContain('MASTER_KEY: must be 32 bytes, base64 encoded');
  });

  it('treats empty values as unset', () => {
    const { config } = loadConfig({ DATA_DIR: dir, MASTER_KEY: KEY, PORT: '', LOG_LEVEL: '' });
    expect(config.port).toBe(8080);
    expect(config.logLevel).toBe('info');
  });

  it('refuses to start on PostgreSQL without MASTER_KEY', () => {
    expect(errorFor({ DATABASE_URL: 'postgres://mfa@db/mfa' })).toContain(
      'MASTER_KEY: required when DATABASE_URL is not SQLite',
    );
    expect(fs.existsSync(path.join(dir, 'master.key'))).toBe(false);
  });

  it('generates <DATA_DIR>/master.key (mode 0600) on the SQLite default, with a warning, and reuses it', () => {
    const first = loadConfig({ DATA_DIR: dir });
    const keyFile = path.join(dir, 'master.key');
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(first.config.crypto.generated).toBe(true);
    expect(first.config.crypto.key).toHaveLength(32);
    expect(first.warnings).toEqual([expect.stringContaining('MASTER_KEY is not set')]);
    expect(first.warnings[0]).not.toContain(fs.readFileSync(keyFile, 'utf8').trim());
    const second = loadConfig({ DATA_DIR: dir });
    expect(second.config.crypto.generated).toBe(false);
    expect(second.config.crypto.key.equals(first.config.crypto.key)).toBe(true);
  });

  it('parses MASTER_KEYS_OLD for rotation', () => {
    const old = randomBytes(32);
    const { config } = loadConfig({
      DATA_DIR: dir,
      MASTER_KEY: KEY,
      MASTER_KEY_ID: 'k2',
      MASTER_KEYS_OLD: `k1:${old.toString('base64')}`,
    });
    expect(config.crypto.keyId).toBe('k2');
    expect(config.crypto.oldKeys.k1.equals(old)).toBe(true);
    expect(errorFor({ MASTER_KEY: KEY, MASTER_KEYS_OLD: 'k1' })).toContain('MASTER_KEYS_OLD:');
  });

  it('requires SMS_WEBHOOK_URL for SMS_PROVIDER=webhook, and the Twilio settings for twilio', () => {
    expect(errorFor({ MASTER_KEY: KEY, SMS_PROVIDER: 'webhook' })).toContain(
      'SMS_WEBHOOK_URL: required when SMS_PROVIDER=webhook',
    );
    expect(errorFor({ MASTER_KEY: KEY, SMS_PROVIDER: 'twilio' })).toContain('TWILIO_ACCOUNT_SID: required');
    expect(errorFor({ MASTER_KEY: KEY, SMS_PROVIDER: 'carrier-pigeon' })).toContain('SMS_PROVIDER:');
    const { config } = loadConfig({
      DATA_DIR: dir,
      MASTER_KEY: KEY,
      SMS_PROVIDER: 'webhook',
      SMS_WEBHOOK_URL: 'http://sms.local:8081/send',
    });
    expect(config.sms.webhook).toEqual({ url: 'http://sms.local:8081/send', secret: undefined });
  });

  it('requires SMTP_URL for MAIL_TRANSPORT=smtp and all OIDC settings together', () => {
    expect(errorFor({ MASTER_KEY: KEY, MAIL_TRANSPORT: 'smtp' })).toContain(
      'SMTP_URL: required when MAIL_TRANSPORT=smtp',
    );
    expect(errorFor({ MASTER_KEY: KEY, OIDC_ISSUER: 'https://issuer.example' })).toContain(
      'OIDC_AUDIENCE: required',
    );
  });

  it('keeps SMTP connections for reuse within bounds: 5 idle for 10 s, 100 mails each, unless set', () => {
    expect(loadConfig({ DATA_DIR: dir, MASTER_KEY: KEY }).config.mail.pool).toEqual({
      maxIdle: 5,
      idleMs: 10_000,
      maxMessages: 100,
    });
    const env = { SMTP_POOL_MAX_IDLE: '0', SMTP_POOL_IDLE_MS: '250', SMTP_POOL_MAX_MESSAGES: '1' };
    expect(loadConfig({ DATA_DIR: dir, MASTER_KEY: KEY, ...env }).config.mail.pool).toEqual({
      maxIdle: 0,
      idleMs: 250,
      maxMessages: 1,
    });
    expect(errorFor({ MASTER_KEY: KEY, SMTP_POOL_MAX_IDLE: '-1' })).toContain('SMTP_POOL_MAX_IDLE:');
    expect(errorFor({ MASTER_KEY: KEY, SMTP_POOL_IDLE_MS: '20000' })).toContain('SMTP_POOL_IDLE_MS:');
    expect(errorFor({ MASTER_KEY: KEY, SMTP_POOL_MAX_MESSAGES: '0' })).toContain('SMTP_POOL_MAX_MESSAGES:');
  });

  it('parses booleans strictly', () => {
    expect(loadConfig({ DATA_DIR: dir, MASTER_KEY: KEY, SMS_LOG_CODES: 'yes' }).config.sms.logCodes).toBe(
      true,
    );
    expect(loadConfig({ DATA_DIR: dir, MASTER_KEY: KEY, SMS_LOG_CODES: 'off' }).config.sms.logCodes).toBe(
      false,
    );
    expect(errorFor({ MASTER_KEY: KEY, SMS_LOG_CODES: 'maybe' })).toContain('SMS_LOG_CODES:');
  });
});
