import { AppConfig } from '../config/app-config';
import { CodeHasher } from '../crypto/code-hasher';
import {
  AttemptVerdict,
  attemptsRemaining,
  codeContext,
  codeExpiresAt,
  cooldownCutoff,
  cooldownRetryAfterSeconds,
  inCooldown,
  isExpired,
  issueCode,
  judgeAttempt,
  NoAttemptReason,
  PendingCode,
  whyNoAttempt,
  wrongCodeExhausts,
} from './code-rules';

const T0 = Date.UTC(2026, 0, 1, 12);
const hasher = new CodeHasher({ crypto: { key: Buffer.alloc(32, 7) } } as unknown as AppConfig);

describe('one-time code rules', () => {
  it('binds a hash to purpose, owner and sending', () => {
    expect(codeContext('otp-sms', 'a1', 3)).toBe('otp-sms:a1:3');
    expect(codeContext('otp-email', 'u1', 'c9')).toBe('otp-email:u1:c9');
  });

  it('issues uniform digits from the CSPRNG and stores only their keyed hash', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const { code, codeHash } = issueCode(hasher, 8, 'p:u:1');
      expect(code).toMatch(/^\d{8}$/);
      expect(codeHash).not.toContain(code);
      expect(hasher.verify(code, 'p:u:1', codeHash)).toBe(true);
      expect(hasher.verify(code, 'p:u:2', codeHash)).toBe(false);
      seen.add(code);
    }
    expect(seen.size).toBeGreaterThan(45);
    expect(issueCode(hasher, 6, 'x').code).toMatch(/^\d{6}$/);
  });

  it.each([
    // ttl, expiresAt
    [300, T0 + 300_000],
    [1, T0 + 1_000],
    [0, T0],
  ])('a code issued for %ss expires at T0 + that', (ttl, expected) => {
    expect(codeExpiresAt(T0, ttl)).toBe(expected);
  });

  it.each([
    // expiresAt, now, expired
    [T0, T0 - 1, false],
    [T0, T0, false],
    [T0, T0 + 1, true],
  ])('a code expiring at %i is expired at %i: %s', (expiresAt, now, expired) => {
    expect(isExpired(expiresAt, now)).toBe(expired);
  });

  it.each([
    // lastSentAt, now, cooldownSeconds, inCooldown, retryAfterSeconds
    [null, T0, 30, false, 30],
    [T0, T0, 30, true, 30],
    [T0, T0 + 10_000, 30, true, 20],
    [T0, T0 + 10_001, 30, true, 20],
    [T0, T0 + 29_999, 30, true, 1],
    [T0, T0 + 30_000, 30, false, 1],
    [T0, T0 + 90_000, 30, false, 1],
    [T0, T0, 0, false, 1],
  ])(
    'last sent %s, now %i, cooldown %ss: held back %s, Retry-After %i',
    (lastSentAt, now, seconds, held, retryAfter) => {
      expect(inCooldown(lastSentAt, now, seconds)).toBe(held);
      // The cutoff is the bound the conditional statements compare with: held back ⇔ sent after it.
      expect(lastSentAt !== null && lastSentAt > cooldownCutoff(now, seconds)).toBe(held);
      expect(cooldownRetryAfterSeconds(lastSentAt, now, seconds)).toBe(retryAfter);
    },
  );

  it.each([
    // attempts spent, max, remaining, a wrong code exhausts it
    [1, 3, 2, false],
    [2, 3, 1, false],
    [3, 3, 0, true],
    [4, 3, 0, true],
    [1, 1, 0, true],
  ])('%i of %i attempts spent: %i remain, exhausted after a wrong code: %s', (spent, max, left, done) => {
    expect(attemptsRemaining(spent, max)).toBe(left);
    expect(wrongCodeExhausts(spent, max)).toBe(done);
  });

  describe('judging an attempt already spent', () => {
    const { code, codeHash } = issueCode(hasher, 6, 'email-challenge:c1:2');
    const wrong = code === '000000' ? '111111' : '000000';
    it.each<[string, string, string, string | null, number, AttemptVerdict]>([
      ['the right code', code, 'email-challenge:c1:2', codeHash, 1, 'match'],
      ['the right code on the last attempt', code, 'email-challenge:c1:2', codeHash, 3, 'match'],
      ['a wrong code', wrong, 'email-challenge:c1:2', codeHash, 1, 'wrong'],
      ['a wrong code on the last attempt', wrong, 'email-challenge:c1:2', codeHash, 3, 'wrong-exhausted'],
      ['the right code of another sending', code, 'email-challenge:c1:1', codeHash, 2, 'wrong'],
      ['no stored hash', code, 'email-challenge:c1:2', null, 1, 'wrong'],
      ['no stored hash, last attempt', code, 'email-challenge:c1:2', null, 3, 'wrong-exhausted'],
    ])('%s', (_name, presented, context, stored, attempts, verdict) => {
      expect(judgeAttempt(hasher, presented, context, { codeHash: stored, attempts }, 3)).toBe(verdict);
    });

    it('compares through the CodeHasher (constant time, every key) on a hit and on a miss', () => {
      const verify = jest.spyOn(hasher, 'verify');
      judgeAttempt(hasher, code, 'email-challenge:c1:2', { codeHash, attempts: 1 }, 3);
      judgeAttempt(hasher, wrong, 'email-challenge:c1:2', { codeHash: null, attempts: 1 }, 3);
      expect(verify.mock.calls).toEqual([
        [code, 'email-challenge:c1:2', codeHash],
        [wrong, 'email-challenge:c1:2', ''],
      ]);
      verify.mockRestore();
    });
  });

  it.each<[string, PendingCode | undefined, NoAttemptReason]>([
    ['no row', undefined, 'noCode'],
    ['used or discarded', { codeHash: null, expiresAt: T0 + 1, attempts: 0 }, 'noCode'],
    ['never issued', { codeHash: 'h', expiresAt: null, attempts: 0 }, 'noCode'],
    ['past its lifetime', { codeHash: 'h', expiresAt: T0 - 1, attempts: 0 }, 'expired'],
    ['expired and exhausted', { codeHash: 'h', expiresAt: T0 - 1, attempts: 3 }, 'expired'],
    ['out of attempts', { codeHash: 'h', expiresAt: T0, attempts: 3 }, 'exhausted'],
    ['usable again (replaced meanwhile)', { codeHash: 'h', expiresAt: T0 + 1, attempts: 1 }, 'noCode'],
  ])('no attempt taken, %s: %s', (_name, pending, reason) => {
    expect(whyNoAttempt(pending, T0, 3)).toBe(reason);
  });
});
