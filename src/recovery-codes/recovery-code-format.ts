import { randomInt } from 'node:crypto';

/**
 * 32 symbols that cannot be confused when read or typed: digits 2-9 and the letters without I and O
 * (no 0/O, 1/I/l). 10 symbols carry 50 bits.
 */
export const RECOVERY_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ';
const LENGTH = 10;

/** One code, `XXXXX-XXXXX`, each symbol uniform from the CSPRNG. */
export function newRecoveryCode(): string {
  let s = '';
  for (let i = 0; i < LENGTH; i++) s += RECOVERY_ALPHABET[randomInt(0, RECOVERY_ALPHABET.length)];
  return `${s.slice(0, 5)}-${s.slice(5)}`;
}

/** `count` distinct codes. */
export function newRecoveryCodes(count: number): string[] {
  const codes = new Set<string>();
  while (codes.size < count) codes.add(newRecoveryCode());
  return [...codes];
}

/** The canonical form a code is hashed in: upper case, without separators and spaces. */
export function normalizeRecoveryCode(input: string): string {
  return input.toUpperCase().replace(/[\s-]/g, '');
}
