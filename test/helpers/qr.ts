import jsQR from 'jsqr';

const PIXELS_PER_MODULE = 4;

/**
 * Decodes an SVG QR code data URI as a scanner would: the SVG is rasterised (its one stroked path of
 * horizontal runs, `M x y.5 h n m dx dy h n …`, as the `qrcode` package writes it; anything else fails)
 * and the pixels are read with jsQR, a decoder independent of the encoder.
 */
export function decodeSvgQr(dataUri: string): string {
  const prefix = 'data:image/svg+xml;base64,';
  if (!dataUri.startsWith(prefix)) throw new Error('not an SVG data URI');
  const svg = Buffer.from(dataUri.slice(prefix.length), 'base64').toString('utf8');
  const box = /viewBox="0 0 (\d+) (\d+)"/.exec(svg);
  const path = /<path[^>]*stroke="#000000"[^>]*d="([^"]+)"/.exec(svg);
  if (!box || !path) throw new Error('unexpected SVG');
  const modules = Number(box[1]);
  const dark = new Set<string>();
  let x = 0;
  let y = 0;
  for (const [, op, a, b] of path[1].matchAll(/([MmHh])(-?[\d.]+)(?:\s+(-?[\d.]+))?/g)) {
    if (op === 'M') [x, y] = [Number(a), Math.floor(Number(b))];
    else if (op === 'm') [x, y] = [x + Number(a), y + Math.round(Number(b))];
    else {
      const n = op === 'h' ? Number(a) : Number(a) - x;
      for (let i = 0; i < n; i++) dark.add(`${x + i},${y}`);
      x += n;
    }
  }
  const size = modules * PIXELS_PER_MODULE;
  const rgba = new Uint8ClampedArray(size * size * 4);
  for (let py = 0; py < size; py++)
    for (let px = 0; px < size; px++) {
      const on = dark.has(`${Math.floor(px / PIXELS_PER_MODULE)},${Math.floor(py / PIXELS_PER_MODULE)}`);
      rgba.fill(on ? 0 : 255, (py * size + px) * 4, (py * size + px) * 4 + 3);
      rgba[(py * size + px) * 4 + 3] = 255;
    }
  const found = jsQR(rgba, size, size);
  if (!found) throw new Error('no QR code found');
  return found.data;
}
