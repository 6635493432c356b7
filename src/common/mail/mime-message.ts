import { randomUUID } from 'node:crypto';
import addressparser from 'nodemailer/lib/addressparser';
import MailComposer from 'nodemailer/lib/mail-composer';
import { foldLines } from 'nodemailer/lib/mime-funcs';
import MimeNode from 'nodemailer/lib/mime-node';
import { encode as qpEncode, wrap as qpWrap } from 'nodemailer/lib/qp';

/** One mail as the sender hands it over: one recipient, a subject, a text and an HTML body. */
export interface MimeMail {
  /** A bare address, no display name. */
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Kept when given (a notification's, the same for every try); otherwise a new one per mail. */
  messageId?: string;
}

/** The SMTP envelope (MAIL FROM, RCPT TO) and the message that goes after DATA. */
export interface ComposedMail {
  envelope: { from: string | false; to: string[] };
  message: Buffer;
}

/** Header lines are folded to this width (the lines MailComposer writes, at most 78 with the break). */
const FOLD_AT = 76;
/** RFC 5322: no line may be longer than 998 octets without its CRLF. */
const MAX_LINE = 998;
/** Encoded notification subjects kept (the subjects vary by kind and language only, so a few dozen). */
const SUBJECT_CACHE_LIMIT = 64;

/**
 * A recipient the fast path writes as it is: a dot-atom local part of ASCII characters and a
 * host name whose last label starts with a letter (never read as an IP address). The domain is
 * lower-cased, as MailComposer's domain normalisation does for such a name.
 */
const PLAIN_RECIPIENT =
  /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@((?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?)$/;
/** A message id of printable ASCII without spaces, which MailComposer only puts in angle brackets. */
const PLAIN_MESSAGE_ID = /^[\x21-\x7e]+$/;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/** What a body may hold to go out as 7bit: printable ASCII, tabs and line breaks. */
const NOT_7BIT = /[^\t\n\r\x20-\x7e]/;
const LONE_CR = /\r(?!\n)/;

/**
 * Writes the challenge and notification mails: From, To, Subject, Message-ID, Date, MIME-Version,
 * then multipart/alternative with the text part before the HTML part, both UTF-8, each `7bit` when
 * it is ASCII with lines of at most 998 octets, else quoted-printable; CRLF line ends, long header
 * lines folded. It does per mail only what depends on the mail: the From header, the envelope
 * sender and the MAIL_SUBJECT header are prepared once, other subjects once per text.
 *
 * The header values are encoded by nodemailer's own functions (its MimeNode header encoder, folding,
 * quoted-printable), so they read as MailComposer's do. Whatever the fast path cannot write with
 * certainty goes through MailComposer instead, for that mail (`compose`):
 * - MAIL_FROM that is not exactly one mailbox with an address (a list, a group, a name alone), or
 *   whose address stays non-ASCII after encoding (a non-ASCII local part needs SMTPUTF8): every mail;
 * - a recipient that is not a plain ASCII address (`PLAIN_RECIPIENT`: IDN domains, quoted local
 *   parts, display names, an IP literal) or is longer than 254 characters;
 * - a subject whose encoded header would not be printable ASCII, or a blank one;
 * - a given message id with spaces, control or non-ASCII characters;
 * - an empty text or HTML body (MailComposer then writes a single part), or a body with a CR
 *   that does not start a CRLF.
 */
export class MimeComposer {
  private readonly fromLine: string | undefined;
  private readonly envelopeFrom: string | false = false;
  private readonly idDomain: string = 'localhost';
  private readonly fixedSubject: { text: string; line: string | undefined };
  private readonly subjectLines = new Map<string, string | undefined>();

  /**
   * @param from MAIL_FROM, free form (`Name <address>`, quoted names, non-ASCII, IDN domains)
   * @param subject the subject most mails carry (MAIL_SUBJECT), encoded here once
   */
  constructor(
    private readonly from: string,
    subject: string,
  ) {
    const prepared = prepareFrom(from);
    if (prepared) {
      this.fromLine = prepared.line;
      this.envelopeFrom = prepared.envelopeFrom;
      this.idDomain = prepared.idDomain;
    }
    this.fixedSubject = { text: subject, line: encodeSubject(subject) };
  }

  /** Whether MAIL_FROM is one the fast path writes (else every mail goes through MailComposer). */
  get fromHandled(): boolean {
    return this.fromLine !== undefined;
  }

  /** The message for `mail`: the fast path when it applies, MailComposer otherwise. */
  compose(mail: MimeMail): Promise<ComposedMail> {
    const lean = this.composeLean(mail);
    return lean ? Promise.resolve(lean) : this.composeWithMailComposer(mail);
  }

  /** The fast path alone; `undefined` when the mail is one it leaves to MailComposer (see the class). */
  composeLean(mail: MimeMail, now: Date = new Date()): ComposedMail | undefined {
    if (this.fromLine === undefined) return undefined;
    const recipient = plainRecipient(mail.to);
    if (recipient === undefined) return undefined;
    const subjectLine = this.subjectLine(mail.subject);
    if (subjectLine === undefined) return undefined;
    let messageId: string;
    if (mail.messageId === undefined) messageId = `<${randomUUID()}@${this.idDomain}>`;
    else if (PLAIN_MESSAGE_ID.test(mail.messageId)) messageId = bracketed(mail.messageId);
    else return undefined;
    const text = bodyPart(mail.text);
    const html = bodyPart(mail.html);
    if (!text || !html) return undefined;

    let boundary = newBoundary();
    while (text.body.includes(boundary) || html.body.includes(boundary)) boundary = newBoundary();
    const message =
      `${this.fromLine}\r\n` +
      `${foldLines(`To: ${recipient}`, FOLD_AT)}\r\n` +
      `${subjectLine}\r\n` +
      `${foldLines(`Message-ID: ${messageId}`, FOLD_AT)}\r\n` +
      `Date: ${now.toUTCString().replace('GMT', '+0000')}\r\n` +
      'MIME-Version: 1.0\r\n' +
      `Content-Type: multipart/alternative;\r\n boundary="${boundary}"\r\n` +
      '\r\n' +
      `--${boundary}\r\n` +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Transfer-Encoding: ${text.encoding}\r\n` +
      '\r\n' +
      `${text.body}\r\n` +
      `--${boundary}\r\n` +
      'Content-Type: text/html; charset=utf-8\r\n' +
      `Content-Transfer-Encoding: ${html.encoding}\r\n` +
      '\r\n' +
      `${html.body}\r\n` +
      `--${boundary}--\r\n`;
    return { envelope: { from: this.envelopeFrom, to: [recipient] }, message: Buffer.from(message, 'utf8') };
  }

  /** The same mail composed by nodemailer's MailComposer (the fallback). */
  async composeWithMailComposer(mail: MimeMail): Promise<ComposedMail> {
    const node = new MailComposer({
      from: this.from,
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
      messageId: mail.messageId,
    }).compile();
    const message = await node.build();
    return { envelope: node.getEnvelope(), message };
  }

  /** The folded Subject header of `subject`; `undefined` when it would not be printable ASCII. */
  private subjectLine(subject: string): string | undefined {
    if (subject === this.fixedSubject.text) return this.fixedSubject.line;
    if (this.subjectLines.has(subject)) return this.subjectLines.get(subject);
    const line = encodeSubject(subject);
    // the oldest entry makes room: a bound against subjects that would differ per mail
    if (this.subjectLines.size >= SUBJECT_CACHE_LIMIT)
      this.subjectLines.delete(this.subjectLines.keys().next().value as string);
    this.subjectLines.set(subject, line);
    return line;
  }
}

/**
 * MAIL_FROM as MailComposer writes it (its own header encoder: quoted or encoded display name,
 * punycoded domain), and the envelope sender it would take from it; `undefined` unless MAIL_FROM
 * is exactly one mailbox and both come out as ASCII.
 */
function prepareFrom(from: string): { line: string; envelopeFrom: string; idDomain: string } | undefined {
  const parsed = addressparser(from);
  if (parsed.length !== 1 || !parsed[0].address) return undefined;
  const node = new MimeNode();
  node.setHeader('From', from);
  const envelopeFrom = node.getEnvelope().from;
  const value = node.encodeHeaderValue('From', from);
  if (!envelopeFrom || !PRINTABLE_ASCII.test(envelopeFrom) || !PRINTABLE_ASCII.test(value)) return undefined;
  return {
    line: foldLines(`From: ${value}`, FOLD_AT),
    envelopeFrom,
    // where MailComposer takes the domain of its generated message ids from
    idDomain: envelopeFrom.split('@').pop() as string,
  };
}

/**
 * The folded Subject header, encoded as MailComposer encodes it; `undefined` when it would not be
 * printable ASCII, or when it is blank (MailComposer then leaves the header out).
 */
function encodeSubject(subject: string): string | undefined {
  const value = MimeNode.encodeHeaderValue('Subject', subject);
  if (!value.trim()) return undefined;
  const line = foldLines(`Subject: ${value}`, FOLD_AT);
  return /^[\t\x20-\x7e]*(?:\r\n[ \t][\t\x20-\x7e]*)*$/.test(line) ? line : undefined;
}

function plainRecipient(to: string): string | undefined {
  if (to.length > 254) return undefined;
  const m = PLAIN_RECIPIENT.exec(to);
  if (!m) return undefined;
  const domain = m[1];
  return to.slice(0, to.length - domain.length) + domain.toLowerCase();
}

function bracketed(id: string): string {
  return (id.startsWith('<') ? '' : '<') + id + (id.endsWith('>') ? '' : '>');
}

/**
 * A body with CRLF line ends: as it is (`7bit`) when it is ASCII with short enough lines, else
 * quoted-printable with soft breaks at 76. `undefined` for an empty body or a lone CR.
 */
function bodyPart(content: string): { encoding: '7bit' | 'quoted-printable'; body: string } | undefined {
  if (content === '' || LONE_CR.test(content)) return undefined;
  const crlf = content.replace(/\r?\n/g, '\r\n');
  if (!NOT_7BIT.test(crlf) && longestLine(crlf) <= MAX_LINE) return { encoding: '7bit', body: crlf };
  return { encoding: 'quoted-printable', body: qpWrap(qpEncode(crlf), FOLD_AT) };
}

function longestLine(s: string): number {
  let longest = 0;
  let start = 0;
  for (;;) {
    const end = s.indexOf('\r\n', start);
    const length = (end < 0 ? s.length : end) - start;
    if (length > longest) longest = length;
    if (end < 0) return longest;
    start = end + 2;
  }
}

/** "=_" cannot occur in quoted-printable text; a 7bit body is checked for the boundary by the caller. */
function newBoundary(): string {
  return `--=_mfa_${randomUUID()}`;
}
