import { Principal } from '../../common/auth/principal';
import { RECOVERY_EVENTS } from '../recovery-codes.events';
import { CodeCheck, refusal, remainingAfter, TakenAttempt, usedEvent, wrongCode } from './recovery-check';

describe('recovery check decisions', () => {
  const check: CodeCheck = {
    caller: { userId: 'caller-1' } as Principal,
    userId: 'user-1',
    hashes: ['h'],
    now: 1_000_000,
    windowMs: 300_000,
    maxAttempts: 5,
  };
  const taken = (attempts: number, codes = 3): TakenAttempt => ({
    attempts,
    windowStartedAt: check.now,
    codes,
    orgId: 'org-1',
  });

  it('a used code answers the codes left and records them, owned by the user’s organisation', () => {
    expect(remainingAfter(taken(1, 3))).toBe(2);
    expect(remainingAfter(taken(1, 0))).toBe(0);
    expect(usedEvent(check, taken(1, 3))).toEqual({
      aggregateType: 'user',
      aggregateId: 'user-1',
      resourceOwner: 'org-1',
      creator: 'caller-1',
      eventType: RECOVERY_EVENTS.checkSucceeded,
      payload: { remaining: 2 },
    });
  });

  it('a wrong code locks with the last attempt of the window, and records the lock too', () => {
    const below = wrongCode(check, taken(4));
    expect(below.locked).toBe(false);
    expect(below.events.map((e) => e.eventType)).toEqual([RECOVERY_EVENTS.checkFailed]);
    const last = wrongCode(check, taken(5));
    expect(last.locked).toBe(true);
    expect(last.events.map((e) => [e.eventType, e.resourceOwner])).toEqual([
      [RECOVERY_EVENTS.checkFailed, 'org-1'],
      [RECOVERY_EVENTS.checkLocked, 'org-1'],
    ]);
  });

  it('without an attempt: no set, or a full window until it ends (at least a second)', () => {
    expect(refusal(check, undefined)).toEqual({ kind: 'none' });
    expect(refusal(check, { window_started_at: check.now - 100_000 })).toEqual({
      kind: 'locked',
      retryAfterSeconds: 200,
    });
    expect(refusal(check, { window_started_at: String(check.now - 299_999) })).toEqual({
      kind: 'locked',
      retryAfterSeconds: 1,
    });
    expect(refusal(check, { window_started_at: check.now - 300_500 })).toEqual({
      kind: 'locked',
      retryAfterSeconds: 1,
    });
  });
});
