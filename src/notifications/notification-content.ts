import { FactorName, NotificationKind } from './notification-kinds';

export type Language = 'en' | 'de';

/** What the mail is about: no code, no secret; the address only as the envelope's recipient. */
export interface NoticeFacts {
  kind: NotificationKind;
  factor: FactorName | undefined;
  /** When it happened (epoch ms). */
  at: number;
  /** Recovery codes left, when the event says. */
  remaining?: number;
}

export interface NoticeText {
  subject: string;
  text: string;
  html: string;
}

/** `de`, `de-CH`, `de_AT` → German; everything else (also unset) → English. */
export function languageOf(preferredLanguage: string | null | undefined): Language {
  return /^de(?:[-_]|$)/i.test(preferredLanguage?.trim() ?? '') ? 'de' : 'en';
}

const FACTORS: Record<Language, Record<FactorName | 'unknown', string>> = {
  en: {
    totp: 'an authenticator app (TOTP)',
    otp_sms: 'one-time codes by SMS',
    otp_email: 'one-time codes by email',
    recovery_codes: 'recovery codes',
    unknown: 'a second factor',
  },
  de: {
    totp: 'eine Authenticator-App (TOTP)',
    otp_sms: 'Einmalcodes per SMS',
    otp_email: 'Einmalcodes per E-Mail',
    recovery_codes: 'Wiederherstellungscodes',
    unknown: 'ein zweiter Faktor',
  },
};

type Texts = Record<
  NotificationKind,
  (f: string, remaining: number | undefined) => { subject: string; body: string }
>;

const TEXTS: Record<Language, Texts> = {
  en: {
    factor_added: (f) => ({
      subject: 'A sign-in method was added to your account',
      body: `A sign-in method was added to your account: ${f}.`,
    }),
    factor_removed: (f) => ({
      subject: 'A sign-in method was removed from your account',
      body: `A sign-in method was removed from your account: ${f}.`,
    }),
    factor_locked: (f) => ({
      subject: 'Sign-in locked after failed attempts',
      body: `A sign-in method of your account was locked after too many wrong codes: ${f}.`,
    }),
    code_replayed: () => ({
      subject: 'A used sign-in code was presented again',
      body: 'A code from your authenticator app that had already been used was presented again and refused. Someone else may have seen it.',
    }),
    recovery_codes_generated: () => ({
      subject: 'New recovery codes were generated',
      body: 'A new set of recovery codes was generated for your account. Codes generated before no longer work.',
    }),
    recovery_code_used: (_f, n) => ({
      subject: 'A recovery code was used',
      body: `A recovery code was used to sign in to your account.${n === undefined ? '' : ` Codes left: ${n}.`}`,
    }),
    recovery_codes_low: (_f, n) => ({
      subject: 'Only few recovery codes left',
      body: `A recovery code was used to sign in to your account. Only ${n ?? 'a few'} recovery code${n === 1 ? '' : 's'} left: generate a new set soon.`,
    }),
  },
  de: {
    factor_added: (f) => ({
      subject: 'Ihrem Konto wurde eine Anmeldemethode hinzugefügt',
      body: `Ihrem Konto wurde eine Anmeldemethode hinzugefügt: ${f}.`,
    }),
    factor_removed: (f) => ({
      subject: 'Eine Anmeldemethode wurde von Ihrem Konto entfernt',
      body: `Von Ihrem Konto wurde eine Anmeldemethode entfernt: ${f}.`,
    }),
    factor_locked: (f) => ({
      subject: 'Anmeldung nach Fehlversuchen gesperrt',
      body: `Eine Anmeldemethode Ihres Kontos wurde nach zu vielen falschen Codes gesperrt: ${f}.`,
    }),
    code_replayed: () => ({
      subject: 'Ein bereits benutzter Anmeldecode wurde erneut verwendet',
      body: 'Ein bereits benutzter Code Ihrer Authenticator-App wurde erneut eingegeben und abgelehnt. Möglicherweise hat ihn jemand anderes gesehen.',
    }),
    recovery_codes_generated: () => ({
      subject: 'Neue Wiederherstellungscodes wurden erzeugt',
      body: 'Für Ihr Konto wurde ein neuer Satz Wiederherstellungscodes erzeugt. Die bisherigen Codes gelten nicht mehr.',
    }),
    recovery_code_used: (_f, n) => ({
      subject: 'Ein Wiederherstellungscode wurde verwendet',
      body: `Mit einem Wiederherstellungscode wurde sich an Ihrem Konto angemeldet.${n === undefined ? '' : ` Verbleibende Codes: ${n}.`}`,
    }),
    recovery_codes_low: (_f, n) => ({
      subject: 'Nur noch wenige Wiederherstellungscodes',
      body: `Mit einem Wiederherstellungscode wurde sich an Ihrem Konto angemeldet. Nur noch ${n ?? 'wenige'} Wiederherstellungscode${n === 1 ? '' : 's'} übrig: erzeugen Sie bald einen neuen Satz.`,
    }),
  },
};

const FOOTER: Record<Language, { when: string; notYou: string; hello: string }> = {
  en: {
    hello: 'Hello,',
    when: 'When',
    notYou:
      'If this was you, there is nothing to do. If it was not you, change your password and review the sign-in methods of your account, or contact your administrator.',
  },
  de: {
    hello: 'Hallo,',
    when: 'Zeitpunkt',
    notYou:
      'Wenn Sie das waren, ist nichts weiter zu tun. Wenn nicht, ändern Sie Ihr Passwort und prüfen Sie die Anmeldemethoden Ihres Kontos, oder wenden Sie sich an Ihre Administration.',
  },
};

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);

/** The subject, text and HTML parts of a security notification in the user's language. */
export function renderNotice(facts: NoticeFacts, language: Language): NoticeText {
  const factor = FACTORS[language][facts.factor ?? 'unknown'];
  const { subject, body } = TEXTS[language][facts.kind](factor, facts.remaining);
  const footer = FOOTER[language];
  const when = new Date(facts.at)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, ' UTC');
  const text = [footer.hello, '', body, `${footer.when}: ${when}`, '', footer.notYou].join('\n') + '\n';
  const html =
    [
      '<!doctype html>',
      `<html lang="${language}"><body style="font-family: sans-serif">`,
      `<p>${escapeHtml(footer.hello)}</p>`,
      `<p>${escapeHtml(body)}<br>${escapeHtml(footer.when)}: ${escapeHtml(when)}</p>`,
      `<p>${escapeHtml(footer.notYou)}</p>`,
      '</body></html>',
    ].join('\n') + '\n';
  return { subject, text, html };
}
