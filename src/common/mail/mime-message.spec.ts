import fc from 'fast-check';
import { AddressObject, simpleParser } from 'mailparser';
import MailComposer from 'nodemailer/lib/mail-composer';
import MimeNode from 'nodemailer/lib/mime-node';
import { renderChallengeMail } from './mail-content';
import { ComposedMail, MimeComposer, MimeMail } from './mime-message';

/** What a recipient's mail program makes of a message, read by a real MIME parser (mailparser). */
async function meaning(composed: ComposedMail) {
  const p = await simpleParser(composed.message);
  const to = p.to as AddressObject | undefined;
  return {
    from: p.from?.value.map((a) => ({ name: a.name, address: a.address })),
    to: to?.value.map((a) => ({ name: a.name, address: a.address })),
    subject: p.subject,
    messageId: p.messageId,
    date: p.date,
    // CRLF is the canonical line end of a text part; MailComposer leaves the body's LFs to the SMTP layer
    text: p.text?.replace(/\r\n/g, '\n'),
    html: typeof p.html === 'string' ? p.html.replace(/\r\n/g, '\n') : p.html,
    envelope: composed.envelope,
  };
}

/** The reference: nodemailer's MailComposer, as the sender used it before. */
async function byMailComposer(from: string, mail: MimeMail): Promise<ComposedMail> {
  const node = new MailComposer({ from, ...mail }).compile();
  const message = await node.build();
  return { envelope: node.getEnvelope(), message };
}

/** The header block of the message and of each part: every line up to the blank line. */
function headerLines(raw: string): string[] {
  const boundary = /boundary="([^"]+)"/.exec(raw)?.[1];
  const lines: string[] = [];
  let inHeader = true;
  for (const line of raw.split('\r\n')) {
    if (line === `--${boundary}`) inHeader = true;
    else if (inHeader && line === '') inHeader = false;
    else if (inHeader) lines.push(line);
  }
  return lines;
}

/** The value of a top-level header as written, unfolded. */
function rawHeader(composed: ComposedMail, name: string): string | undefined {
  const head = composed.message
    .toString('latin1')
    .split('\r\n\r\n')[0]
    .replace(/\r\n(?=[ \t])/g, '');
  return head
    .split('\r\n')
    .find((line) => line.startsWith(`${name}: `))
    ?.slice(name.length + 2);
}

/** Content-Transfer-Encoding of the text part and of the HTML part. */
function partEncodings(raw: string): string[] {
  return [
    ...raw.matchAll(/Content-Type: text\/(?:plain|html); charset=utf-8\r\nContent-Transfer-Encoding: (\S+)/g),
  ].map((m) => m[1]);
}

/** The rules every message of the fast path keeps, whatever went in. */
function expectWellFormed(composed: ComposedMail): void {
  const raw = composed.message.toString('latin1');
  // printable ASCII, tabs and line breaks only: everything else is encoded
  expect(composed.message.every((b) => b === 9 || b === 10 || b === 13 || (b >= 0x20 && b <= 0x7e))).toBe(
    true,
  );
  // CRLF only: no CR or LF outside a pair
  expect(raw.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  expect(raw.endsWith('\r\n')).toBe(true);
  for (const line of raw.split('\r\n')) expect(line.length).toBeLessThanOrEqual(998);
}

/** Header lines fold where there is a space to fold at: then none is longer than 78. */
function expectFolded(composed: ComposedMail): void {
  for (const line of headerLines(composed.message.toString('latin1')))
    expect(line.length).toBeLessThanOrEqual(78);
}

const NOW = new Date(Date.UTC(2025, 2, 5, 21, 34, 22));
const challenge = renderChallengeMail({
  to: 'jane@example.com',
  challengeId: '7',
  code: '042317',
  operation: 'payment.approve',
  expiresAt: Date.UTC(2025, 2, 5, 21, 39, 22),
  ttlSeconds: 300,
});
const challengeOddOperation = renderChallengeMail({
  to: 'jane@example.com',
  challengeId: '8',
  code: '990001',
  operation: '<b>Überweisung</b> & "Freigabe"',
  expiresAt: Date.UTC(2025, 2, 5, 21, 39, 22),
  ttlSeconds: 60,
});

const FROMS = [
  'MFA Service <no-reply@example.com>',
  'no-reply@example.com',
  '"Security, Team" <security@example.com>',
  '"Dépt. Sécurité, Zürich" <no-reply@bücher.example>',
  'Jörg Müller <joerg@example.org>',
  'Служба безопасности <security@пример.рф>',
  '"O\'Brien \\"Ops\\"" <ops@example.com>',
  'A Very Long Display Name Of The Service That Sends The Verification Codes <no-reply@mail.example.com>',
  '<bare@EXAMPLE.com>',
  // nodemailer's address parser reads this as one mailbox named "Sender, Inc."
  'Sender, Inc. <no-reply@example.com>',
];

/** Name, mail, and the subject as read when that is not the one put in. */
const MAILS: [string, MimeMail, string?][] = [
  ['the challenge mail', { to: 'jane@example.com', subject: 'Your verification code', ...challenge }],
  [
    'a challenge mail with an escaped, non-ASCII operation',
    { to: 'Jane.Doe+mfa@Example.COM', subject: 'Ihr Bestätigungscode', ...challengeOddOperation },
  ],
  [
    'a long ASCII subject',
    {
      to: "o'brien@example.co.uk",
      subject:
        'Your verification code for approving the payment of the invoice number 2025-03-0042 from your account',
      text: 'Code: 123456\n',
      html: '<p>Code: <b>123456</b></p>\n',
    },
  ],
  [
    'a long non-ASCII subject',
    {
      to: 'user@example.com',
      subject:
        'Ihr Bestätigungscode für die Freigabe – bitte nicht weitergeben, auch nicht an Mitarbeiter des Kundendiensts',
      text: 'Grüße aus Zürich\n',
      html: '<p>Grüße aus Zürich</p>',
    },
  ],
  [
    'Cyrillic, CJK and emoji',
    {
      to: 'user@example.com',
      subject: 'Код подтверждения 確認コード 🔐',
      text: 'Ваш код: 123456\n確認コード: 123456 🔐\n',
      html: '<p>Ваш код: <b>123456</b></p><p>確認コード 🔐</p>',
    },
  ],
  [
    'HTML with a line over 998 characters',
    {
      to: 'user@example.com',
      subject: 'Code',
      text: 'short\n',
      html: `<p>${'all ASCII, long line. '.repeat(60)}</p>\n`,
    },
  ],
  [
    'HTML with a long line of no spaces',
    { to: 'user@example.com', subject: 'Code', text: 'short\n', html: `<p>${'x'.repeat(2500)}</p>` },
  ],
  [
    'HTML with a line of 990 characters (still 7bit)',
    { to: 'user@example.com', subject: 'Code', text: 'short\n', html: `<p>${'y'.repeat(983)}</p>\n` },
  ],
  [
    'trailing spaces, tabs, CRLF and lines that start with a dot or "From "',
    {
      to: 'user@example.com',
      subject: 'Code\t(see below)',
      text: 'line with trailing spaces   \r\n\tindented\n.\n.leading dot\nFrom here on\nend',
      html: '<pre>\ttab   \n.</pre>',
    },
  ],
  [
    // nodemailer passes a valid encoded word through, for MailComposer as for the fast path
    'a subject with an encoded word in it',
    {
      to: 'user@example.com',
      subject: '=?UTF-8?Q?already_encoded?= and ASCII',
      text: 'a\n',
      html: '<p>a</p>',
    },
    'already encoded and ASCII',
  ],
  [
    'a subject that only looks like an encoded word',
    { to: 'user@example.com', subject: '=?UTF-8?X?not one?= =?', text: 'a\n', html: '<p>a</p>' },
  ],
  [
    'a notice with a message id',
    {
      to: 'user@example.com',
      subject: 'Eine Anmeldemethode wurde Ihrem Konto hinzugefügt',
      text: 'Ihrem Konto wurde eine Anmeldemethode hinzugefügt: eine Authenticator-App (TOTP).\n\nWaren Sie das nicht? Ändern Sie Ihr Passwort.\n',
      html: '<p>Ihrem Konto wurde eine Anmeldemethode hinzugefügt: eine Authenticator-App (TOTP).</p>\n<p>Waren Sie das nicht? Ändern Sie Ihr Passwort.</p>\n',
      messageId: '<notification.42.1741210462000@mfa.example.com>',
    },
  ],
  [
    'a notice with a message id without angle brackets',
    {
      to: 'user@example.com',
      subject: 'A sign-in method was removed from your account',
      text: 'A sign-in method was removed from your account: recovery codes.\n',
      html: '<p>A sign-in method was removed from your account: recovery codes.</p>\n',
      messageId: 'notification.43.1741210462000@mfa.example.com',
    },
  ],
];

describe('MimeComposer: the same mail as MailComposer', () => {
  describe.each(FROMS)('From %s', (from) => {
    const composer = new MimeComposer(from, 'Your verification code');

    it('is written by the fast path', () => expect(composer.fromHandled).toBe(true));

    it.each(MAILS)('%s', async (_name, mail, readSubject = mail.subject) => {
      const lean = composer.composeLean(mail, NOW);
      expect(lean).toBeDefined();
      const got = await meaning(lean!);
      const want = await meaning(await byMailComposer(from, mail));
      expect({ ...got, messageId: undefined, date: undefined }).toEqual({
        ...want,
        messageId: undefined,
        date: undefined,
      });
      // what was put in is what comes out (the parser's reading, not just the two agreeing)
      expect(got.subject).toBe(readSubject);
      expect(got.text).toBe(mail.text.replace(/\r\n/g, '\n'));
      expect(got.html).toBe(mail.html.replace(/\r\n/g, '\n'));
      expect(got.to).toEqual([{ name: '', address: mail.to.replace(/@.*/, (d) => d.toLowerCase()) }]);
      expect(got.date).toEqual(NOW);
      // as written, not only as read (a parser adds missing angle brackets itself)
      const messageIdHeader = rawHeader(lean!, 'Message-ID');
      if (mail.messageId) {
        expect(messageIdHeader).toBe(rawHeader(await byMailComposer(from, mail), 'Message-ID'));
        expect(messageIdHeader).toBe(`<${mail.messageId.replace(/^<|>$/g, '')}>`);
        expect(got.messageId).toBe(want.messageId);
      } else {
        const domain = (lean!.envelope.from as string).split('@')[1];
        expect(messageIdHeader).toMatch(new RegExp(`^<[0-9a-f-]{36}@${domain.replace(/\./g, '\\.')}>$`));
      }
      expectWellFormed(lean!);
      expectFolded(lean!);
    });
  });

  it('parses MAIL_FROM as nodemailer does: quoted names, encoded names, punycoded domains', async () => {
    const lean = new MimeComposer('"Dépt. Sécurité, Zürich" <no-reply@bücher.example>', 'x').composeLean(
      MAILS[0][1],
    )!;
    expect(lean.envelope).toEqual({ from: 'no-reply@xn--bcher-kva.example', to: ['jane@example.com'] });
    expect((await meaning(lean)).from).toEqual([
      { name: 'Dépt. Sécurité, Zürich', address: 'no-reply@bücher.example' },
    ]);
  });

  it('sends each part as 7bit when it is ASCII with lines of at most 998 octets, else quoted-printable', () => {
    const composer = new MimeComposer(FROMS[0], 'Code');
    const encodings = (text: string, html: string) =>
      partEncodings(
        composer.composeLean({ to: 'a@example.com', subject: 'Code', text, html })!.message.toString(),
      );
    expect(encodings(challenge.text, challenge.html)).toEqual(['7bit', '7bit']);
    expect(encodings('Grüße\n', 'x'.repeat(998))).toEqual(['quoted-printable', '7bit']);
    expect(encodings('a\n', 'x'.repeat(999))).toEqual(['7bit', 'quoted-printable']);
    expect(encodings('a\u0000b', '\u007fdel')).toEqual(['quoted-printable', 'quoted-printable']);
  });

  it('keeps quoted-printable lines within 76 characters', () => {
    const composer = new MimeComposer(FROMS[0], 'Code');
    const raw = composer
      .composeLean({
        to: 'a@example.com',
        subject: 'Code',
        text: 'ä'.repeat(500),
        html: `<p>${'z'.repeat(3000)}</p>`,
      })!
      .message.toString();
    const body = raw.slice(raw.indexOf('\r\n\r\n'));
    for (const line of body.split('\r\n')) expect(line.length).toBeLessThanOrEqual(76);
  });

  it('never uses a boundary that occurs in a part', () => {
    const composer = new MimeComposer(FROMS[0], 'Code');
    for (let i = 0; i < 20; i++) {
      const raw = composer
        .composeLean({ to: 'a@example.com', subject: 'Code', text: 'a\n', html: 'b\n' })!
        .message.toString();
      const boundary = /boundary="([^"]+)"/.exec(raw)![1];
      // the delimiters: after the headers, between the parts, and the closing one
      expect(raw.split(`--${boundary}`)).toHaveLength(4);
    }
  });

  const SENDER = '"Ünïcode Sender, Inc." <no-reply@exämple.com>';
  it('fast path and MailComposer agree on arbitrary subjects, bodies and plain recipients', async () => {
    const composer = new MimeComposer(SENDER, 'Your verification code');
    const local = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(\.[A-Za-z0-9_+-]{1,8}){0,2}$/);
    const domain = fc.stringMatching(
      /^([A-Za-z0-9]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?\.){1,3}[A-Za-z][A-Za-z0-9]{1,8}$/,
    );
    const body = fc.string({
      unit: fc.constantFrom('a', 'Z', ' ', '\t', '\n', '=', '.', 'ä', '€', '😀', '-', 'x'.repeat(100)),
    });
    await fc.assert(
      fc.asyncProperty(
        local,
        domain,
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 120 }),
        body.filter((s) => s !== ''),
        body.filter((s) => s !== ''),
        async (l, d, subject, text, html) => {
          const mail = { to: `${l}@${d}`, subject, text, html };
          const lean = composer.composeLean(mail);
          if (!lean) {
            // only a blank subject is left to MailComposer here
            expect(subject.trim()).toBe('');
            return;
          }
          const want = await meaning(await byMailComposer(SENDER, mail));
          const got = await meaning(lean);
          expect({ ...got, messageId: undefined, date: undefined }).toEqual({
            ...want,
            messageId: undefined,
            date: undefined,
          });
          expectWellFormed(lean);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('MimeComposer: prepared once', () => {
  afterEach(() => jest.restoreAllMocks());

  it('encodes MAIL_FROM and MAIL_SUBJECT when constructed, not per mail', () => {
    const composer = new MimeComposer('"Dépt. Sécurité" <no-reply@bücher.example>', 'Ihr Bestätigungscode');
    const encode = jest.spyOn(MimeNode.prototype, 'encodeHeaderValue');
    for (let i = 0; i < 5; i++)
      composer.composeLean({ to: `u${i}@example.com`, subject: 'Ihr Bestätigungscode', ...challenge });
    expect(encode).not.toHaveBeenCalled();
  });

  it('encodes a notice subject once per text, and keeps a bounded number of them', () => {
    const composer = new MimeComposer(FROMS[0], 'Code');
    const encode = jest.spyOn(MimeNode.prototype, 'encodeHeaderValue');
    const notice = (subject: string) =>
      composer.composeLean({ to: 'a@example.com', subject, text: 't', html: 'h' });
    notice('Anmeldung gesperrt');
    notice('Anmeldung gesperrt');
    notice('Sign-in locked');
    notice('Anmeldung gesperrt');
    expect(encode).toHaveBeenCalledTimes(2);
    // 100 other subjects push the first one out: it is encoded again
    for (let i = 0; i < 100; i++) notice(`subject ${i}`);
    encode.mockClear();
    notice('Anmeldung gesperrt');
    expect(encode).toHaveBeenCalledTimes(1);
  });
});

describe('MimeComposer: left to MailComposer', () => {
  const mail: MimeMail = { to: 'user@example.com', subject: 'Your verification code', ...challenge };

  it.each([
    ['two mailboxes', 'a@example.com, b@example.com'],
    ['a group', 'Security: a@example.com, b@example.com;'],
    ['a name without an address', 'Just A Name'],
    ['a non-ASCII local part', 'Jörg <jörg@example.com>'],
  ])('MAIL_FROM with %s: every mail', async (_name, from) => {
    const composer = new MimeComposer(from, 'Your verification code');
    expect(composer.fromHandled).toBe(false);
    expect(composer.composeLean(mail)).toBeUndefined();
    const composed = await composer.compose(mail);
    const want = await byMailComposer(from, mail);
    expect(await meaning(composed)).toEqual({
      ...(await meaning(want)),
      messageId: expect.any(String),
      date: expect.any(Date),
    });
  });

  it.each<[string, Partial<MimeMail>]>([
    ['a non-ASCII local part', { to: 'jörg@example.com' }],
    ['an IDN domain', { to: 'user@bücher.example' }],
    ['a quoted local part', { to: '"john doe"@example.com' }],
    ['a display name', { to: 'User <user@example.com>' }],
    ['an IP literal', { to: 'user@[192.0.2.1]' }],
    ['a numeric domain', { to: 'user@192.0.2.1' }],
    [
      'an address over 254 characters',
      { to: `${'a'.repeat(64)}@${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.example` },
    ],
    ['an empty subject', { subject: '' }],
    ['a blank subject', { subject: '   ' }],
    ['a message id with a space', { messageId: '<a b@example.com>' }],
    ['a non-ASCII message id', { messageId: '<ïd@example.com>' }],
    ['an empty text part', { text: '' }],
    ['an empty HTML part', { html: '' }],
    ['a lone CR in the text', { text: 'a\rb' }],
  ])('a mail with %s: that mail', async (_name, change) => {
    const composer = new MimeComposer(FROMS[0], 'Your verification code');
    const odd = { ...mail, ...change };
    expect(composer.composeLean(odd)).toBeUndefined();
    const composed = await composer.compose(odd);
    const want = await meaning(await byMailComposer(FROMS[0], odd));
    expect(await meaning(composed)).toEqual({
      ...want,
      messageId: expect.any(String),
      date: expect.any(Date),
    });
    // the next ordinary mail takes the fast path again
    expect(composer.composeLean(mail)).toBeDefined();
  });
});
