import { randomBytes } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { DomainError } from '../errors/domain-error';
import { SecretBox } from './secret-box';

const key = () => randomBytes(32);
const configWith = (keyId: string, k: Buffer, oldKeys: Record<string, Buffer> = {}) =>
  ({ crypto: { keyId, key: k, oldKeys, generated: false } }) as AppConfig;

describe('SecretBox', () => {
  const k1 = key();
  const box = new SecretBox(configWith('k1', k1));

  it('round-trips and names the key in the output', () => {
    const sealed = box.seal('JBSWY3DPEHPK3PXP', 'user:1');
    expect(sealed).toMatch(/^v1\.k1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain('JBSWY3DPEHPK3PXP');
    expect(box.open(sealed, 'user:1')).toBe('JBSWY3DPEHPK3PXP');
  });

  it('uses a fresh IV every time', () => {
    expect(box.seal('same', 'a')).not.toBe(box.seal('same', 'a'));
  });

  it('refuses a wrong aad, a tampered ciphertext and another master key', () => {
    const sealed = box.seal('secret', 'user:1');
    expect(() => box.open(sealed, 'user:2')).toThrow(DomainError);
    const parts = sealed.split('.');
    const ct = Buffer.from(parts[4], 'base64url');
    ct[0] ^= 1;
    parts[4] = ct.toString('base64url');
    expect(() => box.open(parts.join('.'), 'user:1')).toThrow(DomainError);
    const other = new SecretBox(configWith('k1', key()));
    expect(() => other.open(sealed, 'user:1')).toThrow(DomainError);
    expect(() => box.open('garbage', 'user:1')).toThrow(DomainError);
  });

  it('rotates keys: old values open with MASTER_KEYS_OLD, new values use the current key', () => {
    const oldSealed = box.seal('old secret', 'aad');
    const rotated = new SecretBox(configWith('k2', key(), { k1 }));
    expect(rotated.open(oldSealed, 'aad')).toBe('old secret');
    expect(rotated.needsRotation(oldSealed)).toBe(true);
    const resealed = rotated.seal('old secret', 'aad');
    expect(resealed.split('.')[1]).toBe('k2');
    expect(rotated.needsRotation(resealed)).toBe(false);
    // Without the old key the old value cannot be read.
    const forgotten = new SecretBox(configWith('k2', key()));
    expect(() => forgotten.open(oldSealed, 'aad')).toThrow(DomainError);
  });
});
