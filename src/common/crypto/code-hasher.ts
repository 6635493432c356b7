import { Injectable } from '@nestjs/common';
import { createHash, createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { derive } from './secret-box';

/**
 * One-time codes and tokens are stored only as keyed hashes (HMAC-SHA256 under a key derived from
 * MASTER_KEY) and compared in constant time. `context` binds a hash to its use (e.g. the factor id),
 * so a hash copied to another row does not verify there.
 *
 * Key rotation: new hashes use MASTER_KEY; a stored hash verifies under MASTER_KEY or any key of
 * MASTER_KEYS_OLD (every key is tried, hit or miss), so codes sent before a switch of MASTER_KEY stay
 * valid for their short lifetime while the old key is still configured.
 */
@Injectable()
export class CodeHasher {
  /** The current key first, then the old ones. */
  private readonly keys: Buffer[];

  constructor(config: AppConfig) {
    this.keys = [config.crypto.key, ...Object.values(config.crypto.oldKeys ?? {})].map((k) =>
      derive(k, 'code-hash'),
    );
  }

  hash(code: string, context: string): string {
    return hmac(this.keys[0], code, context);
  }

  /** The hash under every configured key, the current one first (to find values stored before a switch). */
  hashes(code: string, context: string): string[] {
    return this.keys.map((k) => hmac(k, code, context));
  }

  verify(code: string, context: string, storedHash: string): boolean {
    let match = false;
    for (const h of this.hashes(code, context)) match = constantTimeEqual(h, storedHash) || match;
    return match;
  }
}

function hmac(key: Buffer, code: string, context: string): string {
  return createHmac('sha256', key).update(context).update('\0').update(code).digest('base64url');
}

/** Constant-time string comparison (length differences are hidden by hashing both sides first). */
export function constantTimeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

/** `length` decimal digits, each uniform, from the CSPRNG (no modulo bias). */
export function randomDigits(length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += String(randomInt(0, 10));
  return s;
}
