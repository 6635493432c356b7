import {
  newRecoveryCode,
  newRecoveryCodes,
  normalizeRecoveryCode,
  RECOVERY_ALPHABET,
} from './recovery-code-format';

describe('recovery code format', () => {
  it('groups 10 symbols of a 32-symbol unambiguous alphabet (50 bits)', () => {
    expect(RECOVERY_ALPHABET).toHaveLength(32);
    expect(new Set(RECOVERY_ALPHABET).size).toBe(32);
    expect(RECOVERY_ALPHABET).not.toMatch(/[01IO]/);
    expect(10 * Math.log2(RECOVERY_ALPHABET.length)).toBeGreaterThanOrEqual(50);
    for (let i = 0; i < 200; i++) expect(newRecoveryCode()).toMatch(/^[2-9A-HJ-NP-Z]{5}-[2-9A-HJ-NP-Z]{5}$/);
  });

  it('makes distinct codes and reads them back however they are typed', () => {
    expect(new Set(newRecoveryCodes(50)).size).toBe(50);
    expect(normalizeRecoveryCode(' ab2cd-ef3gh ')).toBe('AB2CDEF3GH');
    expect(normalizeRecoveryCode('AB2CD EF3GH')).toBe('AB2CDEF3GH');
  });
});
