import { randomBytes } from 'node:crypto';
import * as QRCode from 'qrcode';
import { qrSvg, qrSvgDataUri } from './qr-code';

/** What the qrcode package itself draws for the same text and options. */
const packageSvg = (text: string) =>
  QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 4 });

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const secret = (length: number) => Array.from(randomBytes(length), (b) => BASE32[b % 32]).join('');

/** otpauth URIs of many lengths (so many QR versions) and characters, and a few texts of other kinds. */
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
  return list;
}

describe('qrSvg', () => {
  it('draws exactly what the qrcode package draws (same mask chosen, same SVG text)', async () => {
    const masks = new Set<number>();
    for (const text of texts()) {
      expect(qrSvg(text)).toBe(await packageSvg(text));
      masks.add(QRCode.create(text, { errorCorrectionLevel: 'M' }).maskPattern as number);
    }
    // The cases reach several masks, so a wrong score would show as a different choice.
    expect(masks.size).toBeGreaterThanOrEqual(6);
  });

  it('qrSvgDataUri wraps the SVG as base64', async () => {
    const text = 'otpauth://totp/ACME:alice?secret=JBSWY3DPEHPK3PXP&issuer=ACME';
    const uri = await qrSvgDataUri(text);
    expect(uri.startsWith('data:image/svg+xml;base64,')).toBe(true);
    expect(Buffer.from(uri.split(',')[1], 'base64').toString('utf8')).toBe(await packageSvg(text));
  });
});
