import { randomBytes } from 'node:crypto';
import { Principal } from '../../common/auth/principal';
import { AppConfig } from '../../common/config/app-config';
import { CodeHasher } from '../../common/crypto/code-hasher';
import { OtpSmsEvents } from '../otp-sms.events';
import { CodeUse, failed, failedEvent, judge, refusal, smsCodeContext, usedEvent } from './code-use';

describe('OTP SMS code use decisions', () => {
  const use = (purpose: CodeUse['purpose']): CodeUse => ({
    caller: { userId: 'caller-1' } as Principal,
    user: { id: 'user-1', orgId: 'org-1' },
    otpSmsId: 'sms-1',
    code: '12345678',
    purpose,
    now: 1_000_000,
    maxAttempts: 3,
  });

  it('a used code records the verification or the sign-in, owned by the user’s organisation', () => {
    expect(usedEvent(use('registration'))).toEqual({
      aggregateType: 'user',
      aggregateId: 'user-1',
      resourceOwner: 'org-1',
      creator: 'caller-1',
      eventType: OtpSmsEvents.verified,
      payload: { otpSmsId: 'sms-1' },
    });
    expect(usedEvent(use('sign-in')).eventType).toBe(OtpSmsEvents.checkSucceeded);
  });

  it('records a failed sign-in with its reason, but not a registration or an unknown authenticator', () => {
    expect(failedEvent(use('sign-in'), 'invalid')).toMatchObject({
      eventType: OtpSmsEvents.checkFailed,
      payload: { otpSmsId: 'sms-1', reason: 'invalid' },
    });
    expect(failedEvent(use('sign-in'), 'expired')?.payload).toEqual({ otpSmsId: 'sms-1', reason: 'expired' });
    expect(failedEvent(use('sign-in'), 'notFound')).toBeUndefined();
    expect(failedEvent(use('sign-in'), 'wrongState')).toBeUndefined();
    expect(failedEvent(use('registration'), 'invalid')).toBeUndefined();
  });

  it('without an attempt: unknown, the other state, then the code’s own reason', () => {
    const row = { state: 'READY' as const, code_hash: 'h', code_expires_at: '2000000', code_attempts: 1 };
    expect(refusal(use('sign-in'), undefined)).toBe('notFound');
    expect(refusal(use('registration'), row)).toBe('wrongState');
    expect(refusal(use('sign-in'), { ...row, code_hash: null, code_expires_at: null })).toBe('noCode');
    expect(refusal(use('sign-in'), { ...row, code_expires_at: 999_999 })).toBe('expired');
    expect(refusal(use('sign-in'), { ...row, code_attempts: '3' })).toBe('exhausted');
  });

  it('judges the code under its own generation, and the last wrong attempt starts the lockout', () => {
    const hasher = new CodeHasher({ crypto: { key: randomBytes(32), oldKeys: {} } } as unknown as AppConfig);
    const u = use('sign-in');
    const codeHash = hasher.hash(u.code, smsCodeContext(u.otpSmsId, 2));
    expect(judge(hasher, u, { codeHash, codeGeneration: 2, attempts: 1 })).toBe('match');
    expect(judge(hasher, u, { codeHash, codeGeneration: 3, attempts: 1 })).toBe('wrong');
    expect(judge(hasher, u, { codeHash, codeGeneration: 3, attempts: 3 })).toBe('wrong-exhausted');
    expect(failed('invalid', 'wrong-exhausted')).toEqual({
      kind: 'failed',
      failure: 'invalid',
      lockoutStarted: true,
    });
    expect(failed('invalid', 'wrong')).toMatchObject({ lockoutStarted: false });
  });
});
