import { randomBytes, randomInt } from 'node:crypto';

const EPOCH_MS = Date.UTC(2024, 0, 1);
const BASE = 100_000_000_000_000_000n; // 10^17: every id has 18 digits
const NODE = BigInt(randomInt(0, 1024));
let lastMs = 0;
let seq = 0;

/**
 * Time-ordered 18-digit decimal ids (sonyflake-like): 10^17 + ms-since-2024 · 2^20 + node · 2^10 + seq.
 * Ids made later compare greater (as strings too, since all have 18 digits). Room until about 2051.
 * The node part is random per process, so two processes rarely collide; the database's unique
 * constraints are the final guard.
 */
export function newId(now = Date.now()): string {
  let ms = Math.max(now - EPOCH_MS, lastMs);
  if (ms === lastMs) {
    seq++;
    if (seq >= 1024) {
      ms++;
      seq = 0;
    }
  } else {
    seq = 0;
  }
  lastMs = ms;
  return (BASE + (BigInt(ms) << 20n) + (NODE << 10n) + BigInt(seq)).toString();
}

export const ID_PATTERN = /^\d{1,20}$/;

/**
 * Unguessable ids, for objects whose id should tell nothing (neither when nor how many were made):
 * 120 random bits from the CSPRNG as 20 base64url characters, so they fit the 20-character id columns.
 */
export function newRandomId(): string {
  return randomBytes(15).toString('base64url');
}

/** Random ids, and the time-ordered ids made before them. */
export const RANDOM_ID_PATTERN = /^[A-Za-z0-9_-]{1,20}$/;
