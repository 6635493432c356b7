import { maskPhone, normalizeE164 } from './phone-number';

describe('phone numbers', () => {
  it('normalises valid numbers to E.164', () => {
    expect(normalizeE164('+41791234567')).toBe('+41791234567');
    expect(normalizeE164(' +41 79 123 45 67 ')).toBe('+41791234567');
    expect(normalizeE164('+1 202-555-0123')).toBe('+12025550123');
  });

  it('rejects national, short and non-numbers', () => {
    for (const bad of ['0791234567', '+4179123456', '+1555', 'hello', '+', '', '++41791234567']) {
      expect(normalizeE164(bad)).toBeUndefined();
    }
  });

  it('masks all but the country prefix and the last two digits', () => {
    expect(maskPhone('+41791234567')).toBe('+41…67');
    expect(maskPhone('+41791234567')).not.toContain('791234');
  });
});
