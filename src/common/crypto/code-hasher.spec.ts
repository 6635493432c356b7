import { randomBytes } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { CodeHasher, constantTimeEqual, randomDigits } from './code-hasher';

const hasher = (k = randomBytes(32)) => new CodeHasher({ crypto: { key: k } } as AppConfig);

describe('CodeHasher', () => {
  const h = hasher();

  it('verifies the code in its context only', () => {
    const stored = h.hash('123456', 'factor:1');
    expect(stored).not.toContain('123456');
    expect(h.verify('123456', 'factor:1', stored)).toBe(true);
    expect(h.verify('123457', 'factor:1', stored)).toBe(false);
    expect(h.verify('123456', 'factor:2', stored)).toBe(false);
  });

  it('is keyed: another master key gives another hash', () => {
    expect(hasher().hash('123456', 'c')).not.toBe(h.hash('123456', 'c'));
  });

  it('separates context from code', () => {
    expect(h.hash('23', 'a1')).not.toBe(h.hash('123', 'a'));
  });
});

describe('constantTimeEqual', () => {
  it('compares strings of any length', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
    expect(constantTimeEqual('', 'a')).toBe(false);
  });
});

describe('randomDigits', () => {
  it('returns exactly n decimal digits', () => {
    for (const n of [1, 6, 8, 10]) expect(randomDigits(n)).toMatch(new RegExp(`^\\d{${n}}$`));
    expect(randomDigits(0)).toBe('');
  });

  it('uses every digit, at each position, in sane proportions', () => {
    const counts = Array.from({ length: 6 }, () => new Array<number>(10).fill(0));
    const samples = 5000;
    for (let i = 0; i < samples; i++) {
      const s = randomDigits(6);
      for (let p = 0; p < 6; p++) counts[p][Number(s[p])]++;
    }
    // Expected 500 per digit and position; the bounds are > 9 standard deviations wide.
    for (const position of counts) for (const c of position) expect(c).toBeGreaterThan(300);
    for (const position of counts) for (const c of position) expect(c).toBeLessThan(700);
  });
});
