import { ReceivedMail } from './smtp-sink';

/** RFC 2047 encoded words (`=?UTF-8?Q?…?=`, `=?UTF-8?B?…?=`) in a header value, decoded. */
function decodeWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?utf-8\?([QB])\?([^?]*)\?=/gi, (_m, enc: string, data: string) =>
      enc.toUpperCase() === 'B'
        ? Buffer.from(data, 'base64').toString('utf8')
        : decodeQp(data.replace(/_/g, ' ')),
    );
}

function decodeQp(s: string): string {
  const bytes: number[] = [];
  const text = s.replace(/=\r?\n/g, '');
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '=' && /^[0-9A-F]{2}$/i.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(text[i], 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The decoded Subject of a received mail. */
export function subjectOf(mail: ReceivedMail): string {
  const m = /^Subject: (.*(?:\r?\n[ \t].*)*)/m.exec(mail.raw);
  if (!m) throw new Error('no subject');
  return decodeWords(m[1].replace(/\r?\n[ \t]/g, ' '));
}

/** The decoded text/plain part of a received mail. */
export function textOf(mail: ReceivedMail): string {
  const part = /Content-Type: text\/plain[^]*?\r?\n\r?\n([^]*?)(?:\r?\n--|$)/.exec(mail.raw);
  const header = /Content-Type: text\/plain[^]*?\r?\n\r?\n/.exec(mail.raw)?.[0] ?? '';
  if (!part) throw new Error('no text part');
  if (/Content-Transfer-Encoding: base64/i.test(header))
    return Buffer.from(part[1], 'base64').toString('utf8');
  if (/Content-Transfer-Encoding: quoted-printable/i.test(header)) return decodeQp(part[1]);
  return part[1];
}
