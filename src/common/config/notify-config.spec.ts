import { randomBytes } from 'node:crypto';
import { ConfigError, loadConfig } from './app-config';
import { NOTIFICATION_KINDS } from './env.dto';

const BASE = { DATABASE_URL: 'sqlite::memory:', MASTER_KEY: randomBytes(32).toString('base64') };
const notify = (env: Record<string, string> = {}) => loadConfig({ ...BASE, ...env }).config.notify;

describe('NOTIFY_* configuration', () => {
  it('defaults: every kind, a 10 s poll, retries from 5 s doubling up to an hour, 50 tries', () => {
    const n = notify();
    expect([...n.kinds]).toEqual([...NOTIFICATION_KINDS]);
    expect(n).toMatchObject({
      pollIntervalMs: 10_000,
      retryBaseMs: 5_000,
      retryMaxMs: 3_600_000,
      maxAttempts: 50,
    });
  });

  it.each([
    ['all', [...NOTIFICATION_KINDS]],
    ['none', []],
    ['factor_added', ['factor_added']],
    [' code_replayed , factor_locked ', ['factor_locked', 'code_replayed']],
  ])('NOTIFY_EVENTS=%j', (value, kinds) => {
    expect([...notify({ NOTIFY_EVENTS: value }).kinds]).toEqual(kinds);
  });

  it.each([['factor_added,'], ['bogus'], ['all,factor_added'], ['none,']])(
    'refuses NOTIFY_EVENTS=%j naming the variable',
    (value) => {
      expect(() => notify({ NOTIFY_EVENTS: value })).toThrow(ConfigError);
      expect(() => notify({ NOTIFY_EVENTS: value })).toThrow(
        /NOTIFY_EVENTS: must be all, none, or a comma list/,
      );
    },
  );

  it('refuses out-of-range timings', () => {
    expect(() => notify({ NOTIFY_POLL_INTERVAL_MS: '5' })).toThrow(/NOTIFY_POLL_INTERVAL_MS/);
    expect(() => notify({ NOTIFY_MAX_ATTEMPTS: '0' })).toThrow(/NOTIFY_MAX_ATTEMPTS/);
  });
});
