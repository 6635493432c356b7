import { randomBytes } from 'node:crypto';
import * as QRCode from 'qrcode';
import { decodeSvgQr } from '../../../test/helpers/qr';
import { totpUri } from '../../totp/totp-algorithm';
import { qrSegments, qrSvg, qrSvgDataUri } from './qr-code';

/**
 * The segments the text should be encoded in, written here independently of `qrSegments`: a tail of
 * at least eight alphanumeric-mode characters as an alphanumeric segment, the rest (or all) as its
 * UTF-8 bytes in byte mode (what the package makes of a string given as a byte segment, too).
 */
function expectedSegments(text: string): QRCode.QRCodeSegment[] {
  const [, head, tail] = /^([\s\S]*?)([0-9A-Z $%*+\-./:]*)$/.exec(text)!;
  const bytes = (t: string) => ({ data: new TextEncoder().encode(t), mode: 'byte' as const });
  if (tail.length < 8) return [bytes(text)];
  return [...(head ? [bytes(head)] : []), { data: tail, mode: 'alphanumeric' as const }];
}

/** What the qrcode package itself draws for those segments and the same options. */
const packageSvg = (text: string) =>
  QRCode.toString(expectedSegments(text), { type: 'svg', errorCorrectionLevel: 'M', margin: 4 });

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const secret = (length: number) => Array.from(randomBytes(length), (b) => BASE32[b % 32]).join('');

/** How many bytes a byte-mode segment can hold at level M, versions 1 to 40. */
const BYTES_PER_VERSION = [
  14, 26, 42, 62, 84, 106, 122, 152, 180, 213, 251, 287, 331, 362, 412, 450, 504, 560, 624, 666, 711, 779,
  857, 911, 997, 1059, 1125, 1190, 1264, 1370, 1452, 1538, 1628, 1722, 1809, 1911, 1989, 2099, 2213, 2331,
];

/**
 * otpauth URIs of many lengths (so many QR versions) and characters, a few texts of other kinds, and
 * every version from 1 to 40, filled (lines of one to six 32-bit words, ending anywhere in the last).
 */
function texts(): string[] {
  const list = ['A', '0123456789', 'HELLO WORLD', 'grüße, 東京 🙂', 'x'.repeat(600)];
  for (let i = 0; i < 150; i++) {
    const issuer = encodeURIComponent(`ACME ${'Login'.slice(0, i % 6)}`);
    const account = encodeURIComponent(`user${i}@${'example'.repeat(1 + (i % 7))}.com`);
    list.push(
      `otpauth://totp/${issuer}:${account}?secret=${secret(16 + (i % 5) * 8)}&issuer=${issuer}` +
        `&algorithm=SHA1&digits=6&period=30`,
    );
  }
  // As TOTP registration writes them: the secret last.
  for (let i = 0; i < 60; i++)
    list.push(totpUri(`ACME ${i}`, `user${i}@${'x'.repeat(i)}.example`, secret(32)));
  // Random text filling each version's capacity (level M, byte mode) to the last byte.
  // (The last character is lower-case: no alphanumeric tail, one byte segment.)
  for (const capacity of BYTES_PER_VERSION)
    list.push(
      randomBytes(capacity)
        .toString('base64')
        .slice(0, capacity - 1) + 'x',
    );
  return list;
}

describe('qrSvg', () => {
  it('draws exactly what the qrcode package draws (same mask chosen, same SVG text)', async () => {
    const masks = new Set<number>();
    const versions = new Set<number>();
    for (const text of texts()) {
      expect(qrSvg(text)).toBe(await packageSvg(text));
      const symbol = QRCode.create(expectedSegments(text), { errorCorrectionLevel: 'M' });
      masks.add(symbol.maskPattern as number);
      versions.add(symbol.version);
    }
    // The cases reach several masks, so a wrong score would show as a different choice.
    expect(masks.size).toBeGreaterThanOrEqual(6);
    expect(versions.size).toBe(40);
  });

  it("keeps the version of the package's own segment search for otpauth URIs, the secret as alphanumeric", () => {
    let longer = 0;
    for (let n = 0; n < 120; n++) {
      const uri = totpUri('ACME', `user-${'x'.repeat(n)}@example.com`, secret(32));
      const segments = qrSegments(uri);
      expect(segments.map((s) => s.mode)).toEqual(['byte', 'alphanumeric']);
      const ours = QRCode.create(segments, { errorCorrectionLevel: 'M' }).version;
      const searched = QRCode.create(uri, { errorCorrectionLevel: 'M' }).version;
      expect(ours).toBeLessThanOrEqual(searched);
      // one byte segment would need a larger symbol for some of these lengths
      const oneByteSegment = QRCode.create([{ data: Buffer.from(uri), mode: 'byte' }], {
        errorCorrectionLevel: 'M',
      });
      if (oneByteSegment.version > ours) longer++;
    }
    expect(longer).toBeGreaterThan(0);
  });

  it('encodes text as its UTF-8 bytes, as the package does a string, and a decoder reads it back', async () => {
    const text = 'otpauth://totp/Grüße%20AG:jürgen@東京.example?secret=JBSWY3DPEHPK3PXP&issuer=Grüße 🙂';
    // The package, given the string itself as a byte segment, encodes it with TextEncoder: UTF-8.
    const asString = QRCode.create([{ data: text, mode: 'byte' } as unknown as QRCode.QRCodeSegment], {
      errorCorrectionLevel: 'M',
    });
    expect(Buffer.from(asString.segments[0].data as Uint8Array)).toEqual(Buffer.from(text, 'utf8'));
    expect(qrSvg(text)).toBe(await packageSvg(text));
    expect(decodeSvgQr(await qrSvgDataUri(text))).toBe(text);
  });

  it('qrSvgDataUri wraps the SVG as base64', async () => {
    const text = 'otpauth://totp/ACME:alice?secret=JBSWY3DPEHPK3PXP&issuer=ACME';
    const uri = await qrSvgDataUri(text);
    expect(uri.startsWith('data:image/svg+xml;base64,')).toBe(true);
    expect(Buffer.from(uri.split(',')[1], 'base64').toString('utf8')).toBe(await packageSvg(text));
    expect(decodeSvgQr(uri)).toBe(text);
  });
});
