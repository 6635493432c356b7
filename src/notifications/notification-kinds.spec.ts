import { NOTIFICATION_KINDS } from '../common/config/env.dto';
import { languageOf, renderNotice } from './notification-content';
import { factorOf, notificationFor, NOTIFICATION_RULES, NotificationKind } from './notification-kinds';
import { backoffMs } from './notification.worker';

const ALL: ReadonlySet<NotificationKind> = new Set(NOTIFICATION_KINDS);
const only = (...kinds: NotificationKind[]) => new Set(kinds);

describe('event type → notification kind', () => {
  it.each([
    ['user.human.mfa.otp.added', undefined, 'factor_added', 'totp'],
    ['user.human.mfa.otp.removed', undefined, 'factor_removed', 'totp'],
    ['user.human.mfa.otp.check.failed', { reason: 'replayed' }, 'code_replayed', 'totp'],
    ['user.human.mfa.otp.check.failed', { reason: 'invalid', locked: true }, 'factor_locked', 'totp'],
    ['user.human.mfa.otp.sms.added', { otpSmsId: '1' }, 'factor_added', 'otp_sms'],
    ['user.human.mfa.otp.sms.removed', { otpSmsId: '1' }, 'factor_removed', 'otp_sms'],
    ['user.human.otp.sms.added', undefined, 'factor_added', 'otp_sms'],
    ['user.human.otp.sms.removed', undefined, 'factor_removed', 'otp_sms'],
    ['user.human.otp.email.added', undefined, 'factor_added', 'otp_email'],
    ['user.human.otp.email.removed', undefined, 'factor_removed', 'otp_email'],
    ['user.human.otp.sms.check.locked', {}, 'factor_locked', 'otp_sms'],
    ['user.human.otp.email.check.locked', {}, 'factor_locked', 'otp_email'],
    ['user.human.recoverycode.check.locked', {}, 'factor_locked', 'recovery_codes'],
    ['user.human.recoverycodes.added', undefined, 'recovery_codes_generated', 'recovery_codes'],
    ['user.human.recoverycodes.removed', undefined, 'factor_removed', 'recovery_codes'],
    ['user.human.recoverycode.check.succeeded', { remaining: 3 }, 'recovery_code_used', 'recovery_codes'],
    ['user.human.recoverycode.check.succeeded', { remaining: 2 }, 'recovery_codes_low', 'recovery_codes'],
    ['user.human.recoverycode.check.succeeded', { remaining: 0 }, 'recovery_codes_low', 'recovery_codes'],
  ])('%s %j → %s', (type, payload, kind, factor) => {
    expect(notificationFor(type, payload, ALL)).toBe(kind);
    expect(factorOf(type)).toBe(factor);
  });

  it.each([
    // a plain wrong code; the code path's successes (the PostgreSQL batch that appends them writes no outbox row)
    ['user.human.mfa.otp.check.failed', undefined],
    ['user.human.mfa.otp.check.failed', { reason: 'invalid' }],
    ['user.human.mfa.otp.verified', undefined],
    ['user.human.mfa.otp.check.succeeded', undefined],
    ['user.human.mfa.otp.sms.check.failed', { reason: 'invalid' }],
    ['user.human.otp.sms.check.failed', { reason: 'invalid' }],
    ['user.human.otp.email.code.added', { expiresAt: 1 }],
    ['user.human.recoverycode.check.failed', {}],
    ['user.human.added', undefined],
    ['toString', undefined],
    ['__proto__', undefined],
  ])('%s %j → nothing', (type, payload) => {
    expect(notificationFor(type, payload, ALL)).toBeUndefined();
  });

  it('follows NOTIFY_EVENTS: a disabled kind writes nothing; few codes left falls back to "used"', () => {
    expect(notificationFor('user.human.mfa.otp.added', undefined, only('factor_removed'))).toBeUndefined();
    expect(notificationFor('user.human.mfa.otp.removed', undefined, only('factor_removed'))).toBe(
      'factor_removed',
    );
    expect(
      notificationFor(
        'user.human.recoverycode.check.succeeded',
        { remaining: 1 },
        only('recovery_code_used'),
      ),
    ).toBe('recovery_code_used');
    expect(
      notificationFor('user.human.recoverycode.check.succeeded', { remaining: 1 }, only()),
    ).toBeUndefined();
  });

  it('every kind is reachable from some event', () => {
    const reachable = new Set<string>();
    const payloads = [
      undefined,
      { reason: 'replayed' },
      { locked: true },
      { remaining: 1 },
      { remaining: 9 },
    ];
    for (const rule of Object.values(NOTIFICATION_RULES))
      for (const payload of payloads) rule.kinds(payload).forEach((k) => reachable.add(k));
    expect([...reachable].sort()).toEqual([...NOTIFICATION_KINDS].sort());
  });
});

describe('notification texts', () => {
  it.each([
    ['de', 'de'],
    ['de-CH', 'de'],
    ['DE_at', 'de'],
    ['en', 'en'],
    ['fr', 'en'],
    ['dei', 'en'],
    [null, 'en'],
  ])('preferredLanguage %s → %s', (pref, lang) => expect(languageOf(pref)).toBe(lang));

  it('has an English and a German text for every kind, with the time', () => {
    for (const kind of NOTIFICATION_KINDS)
      for (const lang of ['en', 'de'] as const) {
        const r = renderNotice(
          { kind, factor: 'totp', at: Date.UTC(2026, 0, 2, 3, 4, 5), remaining: 2 },
          lang,
        );
        expect(r.subject.length).toBeGreaterThan(10);
        expect(r.text).toContain('2026-01-02 03:04:05 UTC');
        expect(r.html).toContain(`<html lang="${lang}">`);
      }
    const de = renderNotice(
      { kind: 'recovery_codes_low', factor: 'recovery_codes', at: 0, remaining: 1 },
      'de',
    );
    expect(de.text).toContain('Nur noch 1 Wiederherstellungscode übrig');
    const en = renderNotice(
      { kind: 'recovery_codes_low', factor: 'recovery_codes', at: 0, remaining: 2 },
      'en',
    );
    expect(en.text).toContain('Only 2 recovery codes left');
  });
});

describe('retry backoff', () => {
  it('doubles from the base and stops at the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 100].map((a) => backoffMs(a, 1000, 10_000))).toEqual([
      1000, 2000, 4000, 8000, 10_000, 10_000, 10_000,
    ]);
  });
});
