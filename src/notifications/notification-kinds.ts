import { NOTIFICATION_KINDS } from '../common/config/env.dto';

export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

/** The factor a notification is about, as the mail names it. */
export type FactorName = 'totp' | 'otp_sms' | 'otp_email' | 'recovery_codes';

type Payload = Record<string, unknown> | undefined;

interface Rule {
  factor: FactorName;
  /** The kinds the event asks for, most specific first: the first one NOTIFY_EVENTS enables is sent. */
  kinds: (payload: Payload) => NotificationKind[];
}

/** Fewer left than this after a recovery code was used: the mail says so. */
export const RECOVERY_CODES_LOW = 3;

const always =
  (...kinds: NotificationKind[]) =>
  (): NotificationKind[] =>
    kinds;

/**
 * Event type → notification, the one table. A factor counts as added when it is registered (also
 * before its first code verifies it: someone started to attach a factor to the account), and the
 * failure events of the TOTP code path ask for a mail only when the code was replayed (someone else
 * may have seen it) or the failure locked the factor. Success events on the TOTP code path
 * (`…verified`, `…check.succeeded`) must stay out of this table: the PostgreSQL batch that appends
 * them writes no outbox rows.
 */
export const NOTIFICATION_RULES: Readonly<Record<string, Rule>> = {
  'user.human.mfa.otp.added': { factor: 'totp', kinds: always('factor_added') },
  'user.human.mfa.otp.removed': { factor: 'totp', kinds: always('factor_removed') },
  'user.human.mfa.otp.check.failed': {
    factor: 'totp',
    kinds: (p) =>
      p?.reason === 'replayed' ? ['code_replayed'] : p?.locked === true ? ['factor_locked'] : [],
  },
  'user.human.mfa.otp.sms.added': { factor: 'otp_sms', kinds: always('factor_added') },
  'user.human.mfa.otp.sms.removed': { factor: 'otp_sms', kinds: always('factor_removed') },
  'user.human.otp.sms.added': { factor: 'otp_sms', kinds: always('factor_added') },
  'user.human.otp.sms.removed': { factor: 'otp_sms', kinds: always('factor_removed') },
  // the failure that used a sign-in code's last attempt: no code works until a new one is sent
  'user.human.otp.sms.check.locked': { factor: 'otp_sms', kinds: always('factor_locked') },
  'user.human.otp.email.added': { factor: 'otp_email', kinds: always('factor_added') },
  'user.human.otp.email.removed': { factor: 'otp_email', kinds: always('factor_removed') },
  'user.human.otp.email.check.locked': { factor: 'otp_email', kinds: always('factor_locked') },
  'user.human.recoverycodes.added': { factor: 'recovery_codes', kinds: always('recovery_codes_generated') },
  'user.human.recoverycodes.removed': { factor: 'recovery_codes', kinds: always('factor_removed') },
  'user.human.recoverycode.check.locked': { factor: 'recovery_codes', kinds: always('factor_locked') },
  'user.human.recoverycode.check.succeeded': {
    factor: 'recovery_codes',
    kinds: (p) =>
      typeof p?.remaining === 'number' && p.remaining < RECOVERY_CODES_LOW
        ? ['recovery_codes_low', 'recovery_code_used']
        : ['recovery_code_used'],
  },
};

/** The notification an event asks for under the enabled kinds, or undefined. */
export function notificationFor(
  eventType: string,
  payload: Payload,
  enabled: ReadonlySet<NotificationKind>,
): NotificationKind | undefined {
  const rule = Object.hasOwn(NOTIFICATION_RULES, eventType) ? NOTIFICATION_RULES[eventType] : undefined;
  return rule?.kinds(payload).find((k) => enabled.has(k));
}

/** The factor an event is about (for the mail text). */
export function factorOf(eventType: string): FactorName | undefined {
  return Object.hasOwn(NOTIFICATION_RULES, eventType) ? NOTIFICATION_RULES[eventType].factor : undefined;
}
