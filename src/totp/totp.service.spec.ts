import { lockoutMs } from './totp.service';

describe('lockoutMs', () => {
  it('doubles from the base with each previous lockout, capped at a day', () => {
    expect([0, 1, 2, 3].map((n) => lockoutMs(300, n))).toEqual([300_000, 600_000, 1_200_000, 2_400_000]);
    expect(lockoutMs(300, 9)).toBe(86_400_000);
    expect(lockoutMs(300, 1000)).toBe(86_400_000);
  });

  it('never shortens a base longer than a day', () => {
    expect(lockoutMs(86_400, 0)).toBe(86_400_000);
    expect(lockoutMs(86_400, 5)).toBe(86_400_000);
  });
});
