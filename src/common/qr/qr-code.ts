import * as QRCode from 'qrcode';

/** The quiet zone around the symbol, in modules: the standard four, so phone cameras lock on reliably. */
const MARGIN = 4;

/**
 * `text` as an SVG QR code in a `data:` URI, ready for an `<img src>`: a UI shows the enrolment code
 * without a QR library of its own. Error correction M (15 %), the usual level for otpauth:// URIs.
 */
export async function qrSvgDataUri(text: string): Promise<string> {
  return `data:image/svg+xml;base64,${svgBytes(text).toString('base64')}`;
}

/**
 * The SVG of `text`'s QR code: the same symbol and the same SVG text as the `qrcode` package's
 * `toString(qrSegments(text), { type: 'svg', errorCorrectionLevel: 'M', margin: 4 })`
 * (qr-code.spec compares them). TOTP registration draws one per call, so it is kept cheap: for an
 * otpauth URI, more than half of what is left is the package's encoding.
 *
 * The text is one byte-mode segment of its UTF-8 bytes, but for an alphanumeric tail (see
 * `qrSegments`): every QR reader takes it, and it is how authenticator enrolment codes are usually
 * written. Given the bare string, the package searches for the shortest mix of byte, alphanumeric and
 * numeric segments, which was most of its encoding time; nearly all that search saves on an otpauth
 * URI is its base32 secret, which our URIs end with, so that tail alone is taken as alphanumeric and
 * the symbol keeps the version the search found.
 *
 * The package encodes the data (version, error correction, module placement); choosing the mask and
 * drawing are done here, on lines packed 32 modules to a word: the mask is the one the package would
 * choose (see `bestMask`), and the SVG bytes are written directly.
 */
export function qrSvg(text: string): string {
  return svgBytes(text).toString('latin1');
}

/** The characters of the QR alphanumeric mode: digits, upper-case letters, space and $%*+-./: */
const ALPHANUMERIC = new Uint8Array(128);
for (const c of '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:') ALPHANUMERIC[c.charCodeAt(0)] = 1;

/**
 * An alphanumeric segment costs a header of 4 + 9 to 13 bits and then 5.5 bits a character against a
 * byte's 8: from this length on the tail is shorter that way, whatever the version.
 */
const MIN_ALPHANUMERIC_TAIL = 8;

/**
 * The segments `text` is encoded in: its UTF-8 bytes in byte mode, except the longest tail of
 * alphanumeric characters (a base32 secret at the end of an otpauth URI) when it has at least
 * MIN_ALPHANUMERIC_TAIL of them, which is an alphanumeric segment of its own.
 */
export function qrSegments(text: string): QRCode.QRCodeSegment[] {
  let start = text.length;
  while (start > 0) {
    const c = text.charCodeAt(start - 1);
    if (c >= 128 || !ALPHANUMERIC[c]) break;
    start--;
  }
  if (text.length - start < MIN_ALPHANUMERIC_TAIL) return [{ data: Buffer.from(text, 'utf8'), mode: 'byte' }];
  const tail: QRCode.QRCodeSegment = { data: text.slice(start), mode: 'alphanumeric' };
  return start === 0 ? [tail] : [{ data: Buffer.from(text.slice(0, start), 'utf8'), mode: 'byte' }, tail];
}

/** `qrSvg`'s text as ASCII bytes, valid until the next call. */
function svgBytes(text: string): Buffer {
  // Mask 0 fixed: the package skips its own mask choice; undoing mask 0 gives the unmasked symbol.
  const qr = QRCode.create(qrSegments(text), { errorCorrectionLevel: 'M', maskPattern: 0 });
  const { size, data } = qr.modules;
  const layout = layoutOf(size, qr.modules.reservedBit);
  const { words, masks, masksT } = layout;
  const { plain, plainT, symbol, symbolT } = scratchFor(size * words);
  // The unmasked symbol by rows, and by columns (its transpose), so that columns are scored as rows.
  pack(data, size, words, 1, size, plain);
  pack(data, size, words, size, 1, plainT);
  for (let i = 0; i < size * words; i++) {
    plain[i] ^= masks[0][i];
    plainT[i] ^= masksT[0][i];
  }

  const level = qr.errorCorrectionLevel.bit;
  const best = bestMask(layout, level, plain, plainT, symbol, symbolT);
  masked(layout, plain, masks[best], layout.formatAt, FORMAT_BITS[level][best], symbol);
  return svgOf(symbol, size, words);
}

/**
 * `modules` (one byte per module, by rows) packed into lines of `words` words: line l takes modules
 * l * lineStep + k * step for k < size, so steps (1, size) give the rows and (size, 1) the columns.
 */
function pack(
  modules: Uint8Array,
  size: number,
  words: number,
  step: number,
  lineStep: number,
  out: Int32Array,
) {
  for (let l = 0; l < size; l++) {
    let word = 0;
    let at = l * words;
    for (let k = 0, i = l * lineStep; k < size; k++, i += step) {
      word = (word << 1) | modules[i];
      if ((k & 31) === 31) {
        out[at++] = word;
        word = 0;
      }
    }
    // A size is 17 + 4 × version, never a multiple of 32: the last word is always a partial one.
    out[at] = word << (32 - (size & 31));
  }
}

/** The bit of a line's first module in its first word: a line's modules go from the top bit down. */
const TOP = 0x80000000;

/**
 * What follows from the symbol size (the version) alone. A line (a row, or a column as a row of the
 * transpose) takes `words` 32-bit words, its modules from the top bit of the first word down, the
 * bits after its end 0. For each mask the bits it flips (never a reserved module: finder, timing,
 * alignment, format, version), by rows and by columns; and where the 15 format bits go, each twice.
 */
interface Layout {
  size: number;
  words: number;
  masks: Int32Array[];
  masksT: Int32Array[];
  formatAt: Int32Array;
  formatAtT: Int32Array;
  /** The columns c ≤ size - 2 in a line's last word, where a 2×2 block can start. */
  blockColumns: number;
}

const layouts = new Map<number, Layout>();
function layoutOf(size: number, reserved: Uint8Array): Layout {
  const known = layouts.get(size);
  if (known) return known;
  const words = (size + 31) >>> 5;
  const masks: Int32Array[] = [];
  const masksT: Int32Array[] = [];
  for (let mask = 0; mask < 8; mask++) {
    const bits = new Int32Array(size * words);
    const bitsT = new Int32Array(size * words);
    for (let r = 0; r < size; r++)
      for (let c = 0; c < size; c++)
        if (!reserved[r * size + c] && flips(mask, r, c)) {
          bits[r * words + (c >>> 5)] |= TOP >>> (c & 31);
          bitsT[c * words + (r >>> 5)] |= TOP >>> (r & 31);
        }
    masks.push(bits);
    masksT.push(bitsT);
  }
  // Format bit i: down column 8 (skipping the timing row), then on towards the bottom-left finder; and
  // along row 8, from the right edge inwards, then left of the timing column. As [word, bit] pairs.
  const formatAt = new Int32Array(60);
  const formatAtT = new Int32Array(60);
  const place = (at: Int32Array, i: number, line: number, module: number) => {
    at[2 * i] = line * words + (module >>> 5);
    at[2 * i + 1] = TOP >>> (module & 31);
  };
  for (let i = 0; i < 15; i++) {
    const row = i < 6 ? i : i < 8 ? i + 1 : size - 15 + i;
    const col = i < 8 ? size - 1 - i : i === 8 ? 7 : 14 - i;
    place(formatAt, i, row, 8);
    place(formatAt, 15 + i, 8, col);
    place(formatAtT, i, 8, row);
    place(formatAtT, 15 + i, col, 8);
  }
  const lastColumns = size - 1 - (words - 1) * 32;
  const blockColumns = lastColumns === 0 ? 0 : ~0 << (32 - lastColumns);
  const layout = { size, words, masks, masksT, formatAt, formatAtT, blockColumns };
  layouts.set(size, layout);
  return layout;
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

/** The 15 format bits of an error correction level and a mask: BCH(15,5) code, then XOR 0x5412. */
function formatBits(levelBits: number, mask: number): number {
  const value = (levelBits << 3) | mask;
  let rest = value << 10;
  for (let bit = 14; bit >= 10; bit--) if (rest & (1 << bit)) rest ^= 0x537 << (bit - 10);
  return ((value << 10) | rest) ^ 0x5412;
}

/** `FORMAT_BITS[level][mask]`, for the four two-bit error correction levels. */
const FORMAT_BITS = [0, 1, 2, 3].map((level) =>
  Array.from({ length: 8 }, (_, mask) => formatBits(level, mask)),
);

/** Line buffers, reused from call to call (and grown for a larger symbol): nothing is allocated per mask. */
interface Scratch {
  plain: Int32Array;
  plainT: Int32Array;
  symbol: Int32Array;
  symbolT: Int32Array;
}
let scratch: Scratch = scratchOf(0);
function scratchOf(length: number): Scratch {
  const buffer = () => new Int32Array(length);
  return { plain: buffer(), plainT: buffer(), symbol: buffer(), symbolT: buffer() };
}
function scratchFor(length: number): Scratch {
  if (scratch.plain.length < length) scratch = scratchOf(length);
  return scratch;
}

/** `plain` with `mask` applied and the 15 format bits written at `formatAt`, into `out`. */
function masked(
  layout: Layout,
  plain: Int32Array,
  mask: Int32Array,
  formatAt: Int32Array,
  format: number,
  out: Int32Array,
): void {
  const n = layout.size * layout.words;
  for (let i = 0; i < n; i++) out[i] = plain[i] ^ mask[i];
  for (let i = 0; i < 30; i++) {
    const word = formatAt[2 * i];
    const bit = formatAt[2 * i + 1];
    out[word] = (format >> (i % 15)) & 1 ? out[word] | bit : out[word] & ~bit;
  }
}

/**
 * The mask with the lowest penalty score (rules N1–N4 with weights 3, 3, 40, 10; the first of equally
 * good masks wins), as the package scores them: with the mask's own format bits in place. Each mask
 * is applied to the rows and to the columns; both are then scored line by line alike. Every rule only
 * adds, so a mask whose partial score already reaches the best so far cannot win and is left
 * unfinished.
 */
function bestMask(
  layout: Layout,
  level: number,
  plain: Int32Array,
  plainT: Int32Array,
  symbol: Int32Array,
  symbolT: Int32Array,
): number {
  let best = 0;
  let lowest = Infinity;
  for (let mask = 0; mask < 8; mask++) {
    const format = FORMAT_BITS[level][mask];
    masked(layout, plain, layout.masks[mask], layout.formatAt, format, symbol);
    masked(layout, plainT, layout.masksT[mask], layout.formatAtT, format, symbolT);
    const score = penalty(layout, symbol, symbolT, lowest);
    if (score < lowest) {
      lowest = score;
      best = mask;
    }
  }
  return best;
}

/**
 * The penalty score of a masked symbol (`rows`; `columns`, its transpose), or `bound` as soon as the
 * score is certain to reach it. Row r and column r are scored together (N1, N3), then the 2×2 blocks
 * between rows r and r + 1 (N2), and the dark modules of row r are counted for N4.
 */
function penalty(layout: Layout, rows: Int32Array, columns: Int32Array, bound: number): number {
  const { size, words, blockColumns } = layout;
  let score = 0;
  let dark = 0;
  for (let r = 0; r < size; r++) {
    const at = r * words;
    score += line(rows, at, size) + line(columns, at, size);
    if (score >= bound) return bound;
    let blocks = 0;
    for (let k = 0; k < words; k++) {
      const top = rows[at + k];
      dark += ones(top);
      if (r === size - 1) continue;
      // Bit c: column c alike in both rows (`same`), and so is column c + 1 (`nextSame`), and in row r
      // columns c and c + 1 are alike (`across`): a 2×2 block of one colour starts at column c.
      const next = k + 1 < words;
      const bottom = rows[at + words + k];
      const same = ~(top ^ bottom);
      const nextSame = (same << 1) | (next ? ~(rows[at + k + 1] ^ rows[at + words + k + 1]) >>> 31 : 0);
      const across = ~(top ^ ((top << 1) | (next ? rows[at + k + 1] >>> 31 : 0)));
      blocks += ones(same & nextSame & across & (next ? ~0 : blockColumns));
    }
    score += blocks * 3;
  }
  // N4: how far the share of dark modules is from half, in steps of 5 %.
  const balance = Math.abs(Math.ceil((dark * 100) / (size * size) / 5) - 10);
  return score + balance * 10;
}

/** The number of 1 bits in a 32-bit word. */
function ones(word: number): number {
  let x = word - ((word >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/**
 * N1 and N3 points of one module of a line, from `known` modules up to and including it (at most 11;
 * `window` holds them, this module in bit 0). N1 gives 3 + (n - 5) for a run of n ≥ 5 modules of one
 * colour: here 1 to each module that ends five alike, and 2 more where those five start the run. N3
 * gives 40 to each 1:1:3:1:1 pattern with four light modules before or after it, within the line:
 * eleven modules 10111010000 or 00001011101.
 */
function points(window: number, known: number): number {
  let sum = 0;
  const five = window & 0x1f;
  if (known >= 5 && (five === 0 || five === 0x1f))
    sum += known === 5 || ((window >> 5) & 1) !== (window & 1) ? 3 : 1;
  if (known >= 11 && (window === 0x5d0 || window === 0x05d)) sum += 40;
  return sum;
}

/**
 * N1 and N3 are summed over a line by table lookups, so per four modules rather than per module (a
 * line's length is 1 more than a multiple of 4): `START` by a line's first 12 modules, `NEXT_FOUR` by
 * the next four with the ten before them, and `LAST` by the last module with the ten before it. (No
 * entry exceeds 45, so bytes hold them.)
 */
const START = Uint8Array.from({ length: 1 << 12 }, (_, first) => {
  let sum = 0;
  for (let k = 0; k < 12; k++) sum += points((first >>> (11 - k)) & 0x7ff, k + 1);
  return sum;
});
const NEXT_FOUR = Uint8Array.from({ length: 1 << 14 }, (_, modules) => {
  let sum = 0;
  for (let k = 0; k < 4; k++) sum += points((modules >>> (3 - k)) & 0x7ff, 11);
  return sum;
});
const LAST = Uint8Array.from({ length: 1 << 11 }, (_, window) => points(window, 11));

/** N1 and N3 over the line of `size` modules at word `at` of `lines`. */
function line(lines: Int32Array, at: number, size: number): number {
  let window = lines[at] >>> 20;
  let score = START[window];
  for (let p = 12; p < size - 1; p += 4) {
    window = ((window << 4) | ((lines[at + (p >>> 5)] >>> (28 - (p & 31))) & 15)) & 0x3fff;
    score += NEXT_FOUR[window];
  }
  const p = size - 1;
  window = ((window << 1) | ((lines[at + (p >>> 5)] >>> (31 - (p & 31))) & 1)) & 0x7ff;
  return score + LAST[window];
}

/**
 * The first column from `from` on, in the line at word `at`, whose module is dark (`light` 0) or light
 * (`light` ~0); past the line's end, where every bit is 0, modules count as light.
 */
function nextColumn(lines: Int32Array, at: number, words: number, from: number, light: number): number {
  let k = from >>> 5;
  let bits = (lines[at + k] ^ light) << (from & 31);
  if (bits !== 0) return from + Math.clz32(bits);
  for (k++; k < words; k++) {
    bits = lines[at + k] ^ light;
    if (bits !== 0) return k * 32 + Math.clz32(bits);
  }
  return words * 32;
}

/** The SVG being drawn, reused from call to call (and grown for a larger symbol). */
let page = Buffer.alloc(0);

/**
 * The SVG, as ASCII bytes in `page` (valid until the next call): dark modules as one path, per row
 * each run of dark modules a horizontal line of its length. Written byte by byte: building it from a
 * string per number cost about as much CPU as choosing the mask.
 */
function svgOf(rows: Int32Array, size: number, words: number): Buffer {
  const full = size + MARGIN * 2;
  const head =
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${full} ${full}" shape-rendering="crispEdges">` +
    `<path fill="#ffffff" d="M0 0h${full}v${full}H0z"/><path stroke="#000000" d="`;
  const tail = '"/></svg>\n';
  // At most (size + 1) / 2 runs a row, each `M123 456.5h123` or `m123 0h123`.
  const most = head.length + size * ((size + 1) >>> 1) * 14 + tail.length;
  if (page.length < most) page = Buffer.allocUnsafe(most);
  const out = page;
  let at = out.write(head, 0, 'latin1');
  for (let r = 0; r < size; r++) {
    const row = r * words;
    let lastEnd = -1;
    for (let c = nextColumn(rows, row, words, 0, 0); c < size; c = nextColumn(rows, row, words, c, 0)) {
      const end = nextColumn(rows, row, words, c, ~0);
      if (lastEnd < 0) {
        out[at++] = 0x4d; // M x y.5
        at = decimal(out, at, c + MARGIN);
        out[at++] = 0x20;
        at = decimal(out, at, r + MARGIN);
        out[at++] = 0x2e;
        out[at++] = 0x35;
      } else {
        out[at++] = 0x6d; // m dx 0
        at = decimal(out, at, c - lastEnd);
        out[at++] = 0x20;
        out[at++] = 0x30;
      }
      out[at++] = 0x68; // h n
      at = decimal(out, at, end - c);
      lastEnd = end;
      c = end;
    }
  }
  at += out.write(tail, at, 'latin1');
  return out.subarray(0, at);
}

/** Writes `n` (0 ≤ n < 1000) in decimal at `at`; returns where it ends. */
function decimal(out: Buffer, at: number, n: number): number {
  if (n >= 100) out[at++] = 0x30 + ((n / 100) | 0);
  if (n >= 10) out[at++] = 0x30 + (((n / 10) | 0) % 10);
  out[at++] = 0x30 + (n % 10);
  return at;
}
