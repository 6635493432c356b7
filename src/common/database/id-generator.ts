import { randomInt } from 'node:crypto';

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
