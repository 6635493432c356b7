import { createHmac, timingSafeEqual } from 'node:crypto';
import { generateSecret, ScureBase32Plugin } from 'otplib';

/**
 * The one place that knows TOTP parameters and the only importer of otplib in the service (the
 * tests' reference, test/helpers/otplib-reference.ts, reads its parameters from here).
 * RFC 6238 as ZITADEL (pquerna/otp defaults): HMAC-SHA1, 6 digits, 30 s steps, ±1 step accepted,
 * 20-byte secrets in base32 without padding.
 */
export const TOTP_PARAMS = {
  algorithm: 'sha1',
  digits: 6,
  periodSeconds: 30,
  window: 1,
  secretBytes: 20,
} as const;

const base32 = new ScureBase32Plugin();
const DIGITS_MOD = 10 ** TOTP_PARAMS.digits;
const CODE_PATTERN = new RegExp(`^\\d{${TOTP_PARAMS.digits}}$`);

/** The RFC 6238 time step of an instant (epoch ms). */
export function timeStep(nowMs: number): number {
  return Math.floor(nowMs / 1000 / TOTP_PARAMS.periodSeconds);
}

/** A new random secret: 20 bytes from the CSPRNG, base32 (RFC 4648 alphabet), no padding. */
export function newTotpSecret(): string {
  return generateSecret({ length: TOTP_PARAMS.secretBytes });
}

/** Decodes a base32 secret as pquerna/otp does: upper-cased, padding optional. */
export function decodeSecret(secret: string): Buffer {
  return Buffer.from(base32.decode(secret.toUpperCase().replace(/=+$/, '')));
}

/**
 * The provisioning URI in pquerna/otp's layout: `otpauth://totp/<issuer>:<account>?algorithm=SHA1&digits=6&issuer=<issuer>&period=30&secret=<secret>`
 * (query keys sorted, values percent-encoded with `%20` for spaces, `@` and `:` literal in the label).
 */
export function totpUri(issuer: string, accountName: string, secret: string): string {
  const label = `${pathEscape(issuer)}:${pathEscape(accountName)}`;
  const query = [
    `algorithm=${TOTP_PARAMS.algorithm.toUpperCase()}`,
    `digits=${TOTP_PARAMS.digits}`,
    `issuer=${pathEscape(issuer)}`,
    `period=${TOTP_PARAMS.periodSeconds}`,
    `secret=${pathEscape(secret)}`,
  ].join('&');
  return `otpauth://totp/${label}?${query}`;
}

function pathEscape(s: string): string {
  return encodeURIComponent(s).replace(/%40/g, '@');
}

/** RFC 4226 HOTP value of `counter` under `key` (node:crypto HMAC, dynamic truncation). */
export function hotp(key: Buffer, counter: number): string {
  const msg = Buffer.allocUnsafe(8);
  msg.writeUInt32BE(Math.floor(counter / 0x1_0000_0000), 0);
  msg.writeUInt32BE(counter >>> 0, 4);
  const h = createHmac(TOTP_PARAMS.algorithm, key).update(msg).digest();
  const off = h[h.length - 1] & 0x0f;
  const bin = ((h[off] & 0x7f) << 24) | (h[off + 1] << 16) | (h[off + 2] << 8) | h[off + 3];
  return String(bin % DIGITS_MOD).padStart(TOTP_PARAMS.digits, '0');
}

/** The TOTP code of a base32 secret at an instant (epoch ms). */
export function totpCode(secret: string, nowMs: number): string {
  return hotp(decodeSecret(secret), timeStep(nowMs));
}

/**
 * The time step whose code equals `code` within ±window of `nowMs`, or undefined. The routine chosen
 * for the request path (see bench/totp-verify.bench.ts: ~5x faster than otplib's verify, which
 * test/helpers/otplib-reference.ts wraps as the reference). Every candidate step is computed and
 * compared in constant time, so a miss costs what a hit costs.
 * The code is trimmed as pquerna/otp does; anything but exactly six digits never matches.
 */
export function matchStep(secret: string, code: string, nowMs: number): number | undefined {
  const key = decodeSecret(secret);
  const given = code.trim();
  const wellFormed = CODE_PATTERN.test(given);
  const givenBuf = Buffer.from(wellFormed ? given : '0'.repeat(TOTP_PARAMS.digits), 'ascii');
  const t = timeStep(nowMs);
  let found: number | undefined;
  // Order as pquerna/otp: T, T+1, T-1. Steps never collide in one window, so at most one matches.
  for (const step of [t, t + 1, t - 1]) {
    const equal = timingSafeEqual(Buffer.from(hotp(key, step), 'ascii'), givenBuf);
    if (equal && wellFormed && found === undefined) found = step;
  }
  return found;
}
