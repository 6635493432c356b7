import { ChallengeMail } from './mail-sender';

export interface RenderedMail {
  text: string;
  html: string;
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);

/** The text and HTML parts: the code, the operation, the expiry and a "not you?" line. */
export function renderChallengeMail(mail: ChallengeMail): RenderedMail {
  const minutes = Math.max(1, Math.round(mail.ttlSeconds / 60));
  const expiry = new Date(mail.expiresAt)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, ' UTC');
  const lines = [
    'Hello,',
    '',
    `Your verification code is: ${mail.code}`,
    '',
    `It confirms the operation: ${mail.operation}`,
    `The code expires in ${minutes} minute${minutes === 1 ? '' : 's'} (at ${expiry}).`,
    '',
    'Not you? If you did not start this operation, do not share the code with',
    'anyone and ignore this email: nothing happens without the code.',
  ];
  const html = [
    '<!doctype html>',
    '<html><body style="font-family: sans-serif">',
    '<p>Hello,</p>',
    `<p>Your verification code is: <strong style="font-size: 1.4em; letter-spacing: 0.1em">${mail.code}</strong></p>`,
    `<p>It confirms the operation: <code>${escapeHtml(mail.operation)}</code><br>`,
    `The code expires in ${minutes} minute${minutes === 1 ? '' : 's'} (at ${expiry}).</p>`,
    '<p><em>Not you?</em> If you did not start this operation, do not share the code with anyone and ignore this email: nothing happens without the code.</p>',
    '</body></html>',
  ];
  return { text: lines.join('\n') + '\n', html: html.join('\n') + '\n' };
}
