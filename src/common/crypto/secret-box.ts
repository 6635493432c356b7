import { Injectable } from '@nestjs/common';
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { DomainError } from '../errors/domain-error';

const VERSION = 'v1';
/** How every sealed value starts (`v1.`); the key id follows up to the next dot. */
export const SEALED_PREFIX = `${VERSION}.`;

/**
 * Encryption at rest: AES-256-GCM under a key derived from MASTER_KEY (HKDF, purpose "secret-box").
 * Output `v1.<keyId>.<iv>.<tag>.<ciphertext>` (base64url parts) so keys can rotate: new values use the
 * current key, old values decrypt with the key their id names (MASTER_KEYS_OLD).
 * `aad` binds a ciphertext to its owner (e.g. the user id) so rows cannot be swapped.
 */
@Injectable()
export class SecretBox {
  private readonly keys = new Map<string, Buffer>();
  private readonly currentId: string;

  constructor(config: AppConfig) {
    this.currentId = config.crypto.keyId;
    for (const [id, key] of Object.entries(config.crypto.oldKeys))
      this.keys.set(id, derive(key, 'secret-box'));
    this.keys.set(this.currentId, derive(config.crypto.key, 'secret-box'));
  }

  /** The id of MASTER_KEY, under which `seal` seals. */
  get currentKeyId(): string {
    return this.currentId;
  }

  seal(plaintext: string, aad: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.currentId)!, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, this.currentId, b64(iv), b64(cipher.getAuthTag()), b64(ct)].join('.');
  }

  open(sealed: string, aad: string): string {
    const [version, keyId, iv, tag, ct] = sealed.split('.');
    const key = this.keys.get(keyId);
    if (version !== VERSION || !key || !iv || !tag || ct === undefined) {
      throw new DomainError(
        'INTERNAL',
        'CRYPT-Kq12vn',
        'secret cannot be decrypted with the configured keys',
      );
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString(
        'utf8',
      );
    } catch (cause) {
      throw new DomainError('INTERNAL', 'CRYPT-Nx7XlT', 'secret cannot be decrypted', { cause });
    }
  }

  /** Whether a sealed value was made with an older key and should be re-sealed. */
  needsRotation(sealed: string): boolean {
    return sealed.split('.')[1] !== this.currentId;
  }
}

export function derive(master: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `mfa-service/${purpose}`, 32));
}

function b64(b: Buffer): string {
  return b.toString('base64url');
}
