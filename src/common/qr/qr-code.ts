import * as QRCode from 'qrcode';

/**
 * `text` as an SVG QR code in a `data:` URI, ready for an `<img src>`: a UI shows the enrolment code
 * without a QR library of its own. Error correction M (15 %), the usual level for otpauth:// URIs, and
 * the standard quiet zone of four modules, so phone cameras lock on reliably.
 */
export async function qrSvgDataUri(text: string): Promise<string> {
  const svg = await QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 4 });
  return `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`;
}
