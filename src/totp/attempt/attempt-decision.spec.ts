import { AttemptPlan, AttemptRequest, decideAttempt, lockoutMs, ReservedFactor } from './attempt-decision';

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

describe('decideAttempt', () => {
  const NOW = 1_700_000_000_000;
  const request: AttemptRequest = {
    userId: 'u1',
    code: '123456',
    now: NOW,
    requiredState: 'READY',
    maxAttempts: 5,
    windowMs: 300_000,
    lockoutSeconds: 300,
    creator: 'caller',
    onSuccess: { state: 'READY', eventType: 'user.human.mfa.otp.check.succeeded' },
    failureEventType: 'user.human.mfa.otp.check.failed',
  };
  const factor = (over: Partial<ReservedFactor> = {}): ReservedFactor => ({
    userId: 'u1',
    orgId: 'o1',
    secretSealed: 'sealed',
    lastStep: 100,
    failedAttempts: 1,
    windowStartedAt: NOW - 1000,
    lockouts: 0,
    ...over,
  });
  const consume = (step: number) => ({
    step,
    state: 'READY' as const,
    eventType: 'user.human.mfa.otp.check.succeeded',
  });
  const refund = (step: number) => ({ step, windowStartedAt: NOW - 1000 });
  const lock = (ms: number) => ({ until: NOW + ms, maxAttempts: 5 });
  const failure = 'user.human.mfa.otp.check.failed';

  const cases: [string, Partial<ReservedFactor>, number | undefined, AttemptPlan][] = [
    [
      'a later step: consume it, or refund when it turns out to be the step accepted last',
      {},
      101,
      {
        consume: consume(101),
        refund: refund(101),
        failureEventType: failure,
      },
    ],
    [
      'the step accepted last (a replay): no consume, refund',
      {},
      100,
      {
        refund: refund(100),
        failureEventType: failure,
      },
    ],
    [
      'an earlier step than the last accepted: no consume, refund only if it were the last',
      {},
      99,
      {
        refund: refund(99),
        failureEventType: failure,
      },
    ],
    ['a wrong code below the limit: the attempt stays counted', {}, undefined, { failureEventType: failure }],
    [
      'a wrong code one below the limit: still no lock',
      { failedAttempts: 4 },
      undefined,
      {
        failureEventType: failure,
      },
    ],
    [
      'a wrong code using up the window: lock for the base',
      { failedAttempts: 5 },
      undefined,
      {
        lock: lock(300_000),
        failureEventType: failure,
      },
    ],
    [
      'a wrong code using up the window after two lockouts: lock four times as long',
      {
        failedAttempts: 5,
        lockouts: 2,
      },
      undefined,
      { lock: lock(1_200_000), failureEventType: failure },
    ],
    [
      'the max-th attempt with a later step: consume, with the lock as the last resort',
      { failedAttempts: 5 },
      101,
      {
        consume: consume(101),
        refund: refund(101),
        lock: lock(300_000),
        failureEventType: failure,
      },
    ],
    [
      'the first code of a factor (last step 0)',
      { lastStep: 0 },
      56_666_666,
      {
        consume: consume(56_666_666),
        refund: refund(56_666_666),
        failureEventType: failure,
      },
    ],
  ];

  it.each(cases)('%s', (_name, over, step, plan) => {
    expect(decideAttempt(request, factor(over), step)).toEqual(plan);
  });

  it('names no failure event where the path has none (verifying a registration)', () => {
    const verify = { ...request, requiredState: 'NOT_READY' as const, failureEventType: undefined };
    expect(decideAttempt(verify, factor(), undefined)).toEqual({ failureEventType: undefined });
    expect(decideAttempt(verify, factor({ failedAttempts: 5 }), undefined)).toEqual({
      lock: lock(300_000),
      failureEventType: undefined,
    });
  });
});
