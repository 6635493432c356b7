import { Injectable } from '@nestjs/common';
import { createHash, createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { derive } from './secret-box';

/**
 * One-time codes and tokens are stored only as keyed hashes (HMAC-SHA256 under a key derived from
 * MASTER_KEY) and compared in constant time. `context` binds a hash to its use (e.g. the factor id),
 * so a hash copied to another row does not verify there.
 */
@Injectable()
export class CodeHasher {
  private readonly key: Buffer;

  constructor(config: AppConfig) {
    this.key = derive(config.crypto.key, 'code-hash');
  }

  hash(code: string, context: string): string {
    return createHmac('sha256', this.key).update(context).update('\0').update(code).digest('base64url');
  }

  verify(code: string, context: string, storedHash: string): boolean {
    return constantTimeEqual(this.hash(code, context), storedHash);
  }
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
