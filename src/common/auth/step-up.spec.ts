import { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AppConfig } from '../config/app-config';
import { DomainError } from '../errors/domain-error';
import { userParam } from './decorators';
import { Principal } from './principal';
import {
  RequireStepUp,
  RequireStepUpForFactorRemoval,
  StepUpGuard,
  StepUpOutcome,
  StepUpVerifier,
} from './step-up';

class FakeVerifier extends StepUpVerifier {
  calls: Array<[string, string, string]> = [];
  constructor(private readonly outcome: StepUpOutcome) {
    super();
  }
  consumeStepUp(challengeId: string, userId: string, operation: string): Promise<StepUpOutcome> {
    this.calls.push([challengeId, userId, operation]);
    return Promise.resolve(this.outcome);
  }
}

class Routes {
  @RequireStepUpForFactorRemoval(userParam('userId'))
  removeFactor() {}

  @RequireStepUp('mfa.factor.remove')
  removeMyFactor() {}

  open() {}
}

const alice = new Principal('1001', '900', 'human', 'pat', [], new Map());
const config = (enabled: boolean) =>
  ({ challenge: { stepUpForFactorRemoval: enabled, retentionHours: 24 } }) as AppConfig;

function ctx(
  handler: keyof Routes,
  req: { headers?: Record<string, string>; params?: Record<string, string>; principal?: Principal },
) {
  return {
    getHandler: () => Routes.prototype[handler],
    getClass: () => Routes,
    switchToHttp: () => ({ getRequest: () => ({ headers: {}, ...req }) }),
  } as unknown as ExecutionContext;
}

async function refusal(p: Promise<boolean>): Promise<DomainError> {
  try {
    await p;
  } catch (e) {
    return e as DomainError;
  }
  throw new Error('expected a refusal');
}

describe('StepUpGuard', () => {
  it('lets routes without @RequireStepUp pass untouched', async () => {
    const v = new FakeVerifier({ ok: true });
    await expect(
      new StepUpGuard(new Reflector(), config(true), v).canActivate(ctx('open', {})),
    ).resolves.toBe(true);
    expect(v.calls).toEqual([]);
  });

  it('does nothing while STEP_UP_FOR_FACTOR_REMOVAL is off', async () => {
    const v = new FakeVerifier({ ok: true });
    const guard = new StepUpGuard(new Reflector(), config(false), v);
    await expect(
      guard.canActivate(ctx('removeFactor', { params: { userId: '1001' }, principal: alice })),
    ).resolves.toBe(true);
    expect(v.calls).toEqual([]);
  });

  it('refuses a caller acting on itself without the header (403 explaining step-up)', async () => {
    const guard = new StepUpGuard(new Reflector(), config(true), new FakeVerifier({ ok: true }));
    const err = await refusal(
      guard.canActivate(ctx('removeFactor', { params: { userId: '1001' }, principal: alice })),
    );
    expect(err.kind).toBe('PERMISSION_DENIED');
    expect(err.message).toMatch(
      /^Step-up authentication required: send header X-Step-Up-Challenge .*mfa\.factor\.remove$/,
    );
  });

  it('consumes the named challenge for the caller and the operation', async () => {
    const v = new FakeVerifier({ ok: true });
    const guard = new StepUpGuard(new Reflector(), config(true), v);
    const c = ctx('removeFactor', {
      params: { userId: '1001' },
      principal: alice,
      headers: { 'x-step-up-challenge': ' 42 ' },
    });
    await expect(guard.canActivate(c)).resolves.toBe(true);
    expect(v.calls).toEqual([['42', '1001', 'mfa.factor.remove']]);
  });

  it('says why a challenge was refused', async () => {
    const guard = new StepUpGuard(
      new Reflector(),
      config(true),
      new FakeVerifier({ ok: false, reason: 'not-verified' }),
    );
    const c = ctx('removeMyFactor', { principal: alice, headers: { 'x-step-up-challenge': '42' } });
    const err = await refusal(guard.canActivate(c));
    expect(err.kind).toBe('PERMISSION_DENIED');
    expect(err.message).toMatch(/\(the challenge is not verified\)$/);
  });

  it('does not ask when the caller acts on another user', async () => {
    const v = new FakeVerifier({ ok: true });
    const guard = new StepUpGuard(new Reflector(), config(true), v);
    await expect(
      guard.canActivate(ctx('removeFactor', { params: { userId: '2002' }, principal: alice })),
    ).resolves.toBe(true);
    expect(v.calls).toEqual([]);
  });

  it('fails closed when no module implements StepUpVerifier', async () => {
    const guard = new StepUpGuard(new Reflector(), config(true), undefined);
    const c = ctx('removeMyFactor', { principal: alice, headers: { 'x-step-up-challenge': '42' } });
    expect((await refusal(guard.canActivate(c))).kind).toBe('PERMISSION_DENIED');
  });
});
