import { randomBytes } from 'node:crypto';
import { Principal } from '../../auth/principal';
import { AppConfig } from '../../config/app-config';
import { CodeHasher } from '../../crypto/code-hasher';
import { DomainError } from '../../errors/domain-error';
import { codeContext } from '../code-rules';
import {
  CodeCheck,
  failure,
  judge,
  refusal,
  succeededEvent,
  takeAttemptParams,
  takeAttemptSql,
} from './code-check';

describe('one-time code check decisions', () => {
  const check: CodeCheck = {
    purpose: 'otp-email',
    events: { checkSucceeded: 'ok', checkFailed: 'failed', checkLocked: 'locked' },
    caller: { userId: 'caller-1' } as Principal,
    subject: { id: 'user-1', orgId: 'org-1' },
    code: '123456',
    now: 1_000_000,
    maxAttempts: 3,
  };
  const withFactor: CodeCheck = {
    ...check,
    factor: { channel: 'email', notFound: () => new DomainError('NOT_FOUND', 'TEST-gone', 'gone') },
  };

  it('takes the attempt only while the user holds the factor, when the check names one', () => {
    expect(takeAttemptSql(false)).not.toContain('otp_channel_factors');
    expect(takeAttemptSql(true)).toContain('otp_channel_factors');
    expect(takeAttemptParams(check)).toEqual(['otp-email', 'user-1', 1_000_000, 3]);
    expect(takeAttemptParams(withFactor)).toEqual(['otp-email', 'user-1', 1_000_000, 3, 'email']);
  });

  it('a right code records the kind’s success, owned by the user’s organisation', () => {
    expect(succeededEvent(check)).toEqual({
      aggregateType: 'user',
      aggregateId: 'user-1',
      resourceOwner: 'org-1',
      creator: 'caller-1',
      eventType: 'ok',
      payload: {},
    });
  });

  it('a failure records its reason, and the lock when it spent the code’s last attempt', () => {
    const wrong = failure(check, 'invalid', 'wrong');
    expect(wrong.outcome).toEqual({ kind: 'failed', failure: 'invalid', locked: false });
    expect(wrong.events.map((e) => [e.eventType, e.payload])).toEqual([['failed', { reason: 'invalid' }]]);
    const last = failure(check, 'invalid', 'wrong-exhausted');
    expect(last.outcome).toMatchObject({ locked: true });
    expect(last.events.map((e) => e.eventType)).toEqual(['failed', 'locked']);
    expect(failure(check, 'expired').events.map((e) => e.payload)).toEqual([{ reason: 'expired' }]);
  });

  it('without an attempt: no code, past its lifetime, or out of attempts', () => {
    expect(refusal(check, undefined)).toBe('noCode');
    expect(refusal(check, { code_hash: null, expires_at: 0, attempts: 0 })).toBe('noCode');
    expect(refusal(check, { code_hash: 'h', expires_at: '999999', attempts: 0 })).toBe('expired');
    expect(refusal(check, { code_hash: 'h', expires_at: 2_000_000, attempts: '3' })).toBe('exhausted');
  });

  it('judges the code under the code’s own id', () => {
    const hasher = new CodeHasher({ crypto: { key: randomBytes(32), oldKeys: {} } } as unknown as AppConfig);
    const codeHash = hasher.hash(check.code, codeContext('otp-email', 'user-1', 'code-a'));
    expect(judge(hasher, check, { codeId: 'code-a', codeHash, attempts: 1 })).toBe('match');
    expect(judge(hasher, check, { codeId: 'code-b', codeHash, attempts: 1 })).toBe('wrong');
    expect(judge(hasher, check, { codeId: 'code-b', codeHash, attempts: 3 })).toBe('wrong-exhausted');
  });
});
