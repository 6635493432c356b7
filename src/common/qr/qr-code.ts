import * as QRCode from 'qrcode';

/** The quiet zone around the symbol, in modules: the standard four, so phone cameras lock on reliably. */
const MARGIN = 4;

/**
 * `text` as an SVG QR code in a `data:` URI, ready for an `<img src>`: a UI shows the enrolment code
 * without a QR library of its own. Error correction M (15 %), the usual level for otpauth:// URIs.
 */
export async function qrSvgDataUri(text: string): Promise<string> {
  return `data:image/svg+xml;base64,${Buffer.from(qrSvg(text), 'utf8').toString('base64')}`;
}

/**
 * The SVG of `text`'s QR code: the same symbol and the same SVG text as the `qrcode` package's
 * `toString([{ data: text, mode: 'byte' }], { type: 'svg', errorCorrectionLevel: 'M', margin: 4 })`
 * (qr-code.spec compares them).
 *
 * The text is one byte-mode segment of its UTF-8 bytes: every QR reader takes it, and it is how
 * authenticator enrolment codes are usually written. Given the bare string, the package searches for
 * the shortest mix of byte, alphanumeric and numeric segments, which was most of its encoding time.
 * That search saves about 8 bytes on an otpauth URI (its base32 secret as alphanumeric), so a URI
 * that ends less than 8 bytes short of a version's capacity now gets a symbol one version larger (4
 * modules wider; the 135-byte example URI of the API does not, it stays at version 8).
 *
 * The package encodes the data (version, error correction, module placement); choosing the mask and
 * drawing are done here. The package scores each of the eight masks through per-module method calls;
 * here the same scores come from loops over the module array, so the same mask wins.
 */
export function qrSvg(text: string): string {
  // Mask 0 fixed: the package skips its own mask choice; undoing mask 0 gives the unmasked symbol.
  const qr = QRCode.create([{ data: Buffer.from(text, 'utf8'), mode: 'byte' }], {
    errorCorrectionLevel: 'M',
    maskPattern: 0,
  });
  const { size, data, reservedBit } = qr.modules;
  const masks = maskBitmaps(size, reservedBit);
  const plain = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) plain[i] = data[i] ^ masks[0][i];

  const candidate = new Uint8Array(data.length);
  let best = 0;
  let lowest = Infinity;
  for (let mask = 0; mask < 8; mask++) {
    masked(plain, masks[mask], size, formatBits(qr.errorCorrectionLevel.bit, mask), candidate);
    const score = penalty(candidate, size, lowest);
    // The first of equally good masks wins, as in the package.
    if (score < lowest) {
      lowest = score;
      best = mask;
    }
  }
  masked(plain, masks[best], size, formatBits(qr.errorCorrectionLevel.bit, best), candidate);
  return svgOf(candidate, size);
}

/** Whether mask `mask` flips the module at row `r`, column `c` (the eight data masks of QR codes). */
function flips(mask: number, r: number, c: number): boolean {
  switch (mask) {
    case 0:
      return (r + c) % 2 === 0;
    case 1:
      return r % 2 === 0;
    case 2:
      return c % 3 === 0;
    case 3:
      return (r + c) % 3 === 0;
    case 4:
      return (Math.floor(r / 2) + Math.floor(c / 3)) % 2 === 0;
    case 5:
      return ((r * c) % 2) + ((r * c) % 3) === 0;
    case 6:
      return (((r * c) % 2) + ((r * c) % 3)) % 2 === 0;
    default:
      return (((r * c) % 3) + ((r + c) % 2)) % 2 === 0;
  }
}

/**
 * For each mask, 1 where it flips a module (never a reserved one: finder, timing, format, version).
 * Which modules are reserved follows from the version alone, so the bitmaps are kept per size.
 */
const bitmapsBySize = new Map<number, Uint8Array[]>();
function maskBitmaps(size: number, reserved: Uint8Array): Uint8Array[] {
  const known = bitmapsBySize.get(size);
  if (known) return known;
  const bitmaps: Uint8Array[] = [];
  for (let mask = 0; mask < 8; mask++) {
    const bits = new Uint8Array(size * size);
    for (let r = 0; r < size; r++)
      for (let c = 0; c < size; c++) {
        const i = r * size + c;
        bits[i] = !reserved[i] && flips(mask, r, c) ? 1 : 0;
      }
    bitmaps.push(bits);
  }
  bitmapsBySize.set(size, bitmaps);
  return bitmaps;
}

/** The 15 format bits of an error correction level and a mask: BCH(15,5) code, then XOR 0x5412. */
function formatBits(levelBits: number, mask: number): number {
  const value = (levelBits << 3) | mask;
  let rest = value << 10;
  for (let bit = 14; bit >= 10; bit--) if (rest & (1 << bit)) rest ^= 0x537 << (bit - 10);
  return ((value << 10) | rest) ^ 0x5412;
}

/** `plain` with `mask` applied and the format bits written next to the finder patterns, into `out`. */
function masked(plain: Uint8Array, mask: Uint8Array, size: number, format: number, out: Uint8Array): void {
  for (let i = 0; i < plain.length; i++) out[i] = plain[i] ^ mask[i];
  for (let i = 0; i < 15; i++) {
    const bit = (format >> i) & 1;
    // Down column 8 (skipping the timing row), then on towards the bottom-left finder.
    const row = i < 6 ? i : i < 8 ? i + 1 : size - 15 + i;
    out[row * size + 8] = bit;
    // Along row 8: from the right edge inwards, then left of the timing column.
    const col = i < 8 ? size - 1 - i : i === 8 ? 7 : 14 - i;
    out[8 * size + col] = bit;
  }
  // The module that is always dark.
  out[(size - 8) * size + 8] = 1;
}

/**
 * The penalty score of a masked symbol (rules N1–N4 with weights 3, 3, 40, 10), or `bound` as soon as
 * the score is certain to reach it: every rule only adds, so a mask whose partial score already
 * reaches the best mask's score so far cannot win (the first of equally good masks wins) and need
 * not be scored to the end.
 */
function penalty(m: Uint8Array, size: number, bound: number): number {
  let score = 0;
  let blocks = 0;
  let dark = 0;
  for (let r = 0; r < size; r++) {
    const row = r * size;
    score += line(m, row, 1, size) + line(m, r, size, size);
    if (score + blocks * 3 >= bound) return bound;
    for (let c = 0; c < size; c++) dark += m[row + c];
    if (r === size - 1) break;
    // N2: 2×2 blocks of one colour, between this row and the next.
    let left = m[row] + m[row + size];
    for (let c = 1; c < size; c++) {
      const right = m[row + c] + m[row + size + c];
      const sum = left + right;
      if (sum === 0 || sum === 4) blocks++;
      left = right;
    }
  }
  // N4: how far the share of dark modules is from half, in steps of 5 %.
  const balance = Math.abs(Math.ceil((dark * 100) / m.length / 5) - 10);
  return score + blocks * 3 + balance * 10;
}

/**
 * N1 and N3 over one line of `size` modules from `start`, `step` apart (1: a row; size: a column).
 * N1: 3 + (n - 5) for each run of n ≥ 5 modules of one colour. N3: 40 for each 1:1:3:1:1 pattern with
 * four light modules before or after it, among the last eleven modules.
 */
function line(m: Uint8Array, start: number, step: number, size: number): number {
  let score = 0;
  let i = start;
  let last = m[i];
  let run = 1;
  let window = last;
  for (let k = 1; k < size; k++) {
    i += step;
    const module = m[i];
    if (module === last) run++;
    else {
      if (run >= 5) score += run - 2;
      last = module;
      run = 1;
    }
    window = ((window << 1) & 0x7ff) | module;
    if (k >= 10 && (window === 0x5d0 || window === 0x05d)) score += 40;
  }
  if (run >= 5) score += run - 2;
  return score;
}

/** Dark modules as one path: per row, each run of dark modules is a horizontal line of its length. */
function svgOf(m: Uint8Array, size: number): string {
  const full = size + MARGIN * 2;
  let path = '';
  for (let r = 0; r < size; r++) {
    let lastEnd = -1;
    for (let c = 0; c < size; c++) {
      if (!m[r * size + c]) continue;
      let end = c + 1;
      while (end < size && m[r * size + end]) end++;
      path += lastEnd < 0 ? `M${c + MARGIN} ${0.5 + r + MARGIN}` : `m${c - lastEnd} 0`;
      path += `h${end - c}`;
      lastEnd = end;
      c = end;
    }
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${full} ${full}" shape-rendering="crispEdges">` +
    `<path fill="#ffffff" d="M0 0h${full}v${full}H0z"/><path stroke="#000000" d="${path}"/></svg>\n`
  );
}
