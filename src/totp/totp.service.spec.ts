import { Principal } from '../common/auth/principal';
import { AppConfig } from '../common/config/app-config';
import { SecretBox } from '../common/crypto/secret-box';
import { SqlChange } from '../common/database/sql-change';
import { TransactionRunner } from '../common/database/transaction-runner';
import { applyFake, fakeChange } from '../../test/helpers/recording-event-store';
import { DomainError } from '../common/errors/domain-error';
import { classifyVerify } from '../common/observability/verify-outcome';
import { AppendedEvent, EventStore, NewEvent } from '../common/events/event-store';
import { Clock } from '../common/time/clock';
import { UsersReader, UserView } from '../identity';
import { AttemptRequest } from './attempt/attempt-decision';
import { AttemptOutcome, AttemptStrategy } from './attempt/attempt.strategy';
import { TotpFactor, TotpRepository } from './totp.repository';
import { TotpService } from './totp.service';

const NOW = Date.UTC(2026, 0, 2, 3, 4, 5);
const CALLER = { userId: '200000000000000001' } as Principal;
const USER = '100000000000000001';

/** Answers the outcomes it is given, in order, and keeps the requests. */
class ScriptedAttempts extends AttemptStrategy {
  readonly requests: AttemptRequest[] = [];
  constructor(private readonly outcomes: AttemptOutcome[]) {
    super();
  }
  attempt(request: AttemptRequest): Promise<AttemptOutcome> {
    this.requests.push(request);
    const next = this.outcomes.shift();
    if (!next) throw new Error('no outcome scripted');
    return Promise.resolve(next);
  }
}

/** The factors in memory. */
class FakeRepository {
  readonly factors = new Map<string, TotpFactor>();
  find(userId: string) {
    return Promise.resolve(this.factors.get(userId));
  }
  newSecret(userId: string, orgId: string, secretSealed: string) {
    return fakeChange(() => {
      if (this.factors.get(userId)?.state === 'READY') return false;
      this.factors.set(userId, { ...factor('NOT_READY'), userId, orgId, secretSealed });
      return true;
    });
  }
  remove(_em: unknown, userId: string) {
    const f = this.factors.get(userId);
    this.factors.delete(userId);
    return Promise.resolve(f && { orgId: f.orgId });
  }
}

/** Keeps the appended events; each gets the next sequence. */
class FakeEvents {
  readonly appended: NewEvent[] = [];
  append(_em: unknown, e: NewEvent): Promise<AppendedEvent> {
    this.appended.push(e);
    return Promise.resolve(appended(this.appended.length));
  }
  changeAndAppend(em: unknown, change: SqlChange, e: NewEvent) {
    return applyFake(change) ? this.append(em, e) : Promise.resolve(undefined);
  }
}

const appended = (sequence: number): AppendedEvent => ({
  aggregateId: USER,
  resourceOwner: 'org-1',
  sequence,
  createdAt: NOW,
  aggregateCreatedAt: NOW - 1000,
});

function factor(state: TotpFactor['state'], over: Partial<TotpFactor> = {}): TotpFactor {
  return {
    userId: USER,
    orgId: 'org-1',
    state,
    secretSealed: 'sealed',
    lastStep: 0,
    failedAttempts: 0,
    windowStartedAt: 0,
    lockouts: 0,
    lockedUntil: 0,
    ...over,
  };
}

/** `user: null` for a user that does not exist. */
function setup(outcomes: AttemptOutcome[] = [], user: Partial<UserView> | null = {}) {
  const config = { otp: { maxAttempts: 3, lockoutSeconds: 300 }, totp: { issuer: 'ACME' } } as AppConfig;
  const clock: Clock = { now: () => NOW };
  // the reader's own rules (requireHuman) over a fake lookup
  const users = Object.assign(Object.create(UsersReader.prototype) as UsersReader, {
    findUser: (id: string) =>
      Promise.resolve(
        user === null
          ? undefined
          : ({ id, orgId: 'org-1', type: 'human', loginName: 'alice@acme.test', ...user } as UserView),
      ),
  });
  const box = { seal: (plain: string, aad: string) => `sealed(${aad})` } as SecretBox;
  const runner = {
    run: (work: (em: never) => Promise<unknown>) => work(undefined as never),
    oneStatement: (work: (em: never) => Promise<unknown>) => work(undefined as never),
  } as unknown as TransactionRunner;
  const events = new FakeEvents();
  const repo = new FakeRepository();
  const attempts = new ScriptedAttempts(outcomes);
  const service = new TotpService(
    config,
    clock,
    users,
    box,
    runner,
    events as unknown as EventStore,
    repo as unknown as TotpRepository,
    attempts,
  );
  return { service, events, repo, attempts };
}

/** The error a call rejects with, for its kind, id, message and Retry-After. */
async function failure(call: Promise<unknown>) {
  const e = await call.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(e instanceof DomainError)) throw new Error(`expected a DomainError, got ${String(e)}`);
  return { kind: e.kind, id: e.id, message: e.message, retryAfterSeconds: e.options.retryAfterSeconds };
}

describe('TotpService', () => {
  describe('register', () => {
    it('stores a new sealed secret, appends `added` and answers the secret, its URI and change details', async () => {
      const { service, events, repo } = setup();
      const res = await service.register(CALLER, USER);
      expect(res.secret).toMatch(/^[A-Z2-7]{32}$/);
      expect(res.uri).toBe(
        `otpauth://totp/ACME:alice@acme.test?algorithm=SHA1&digits=6&issuer=ACME&period=30&secret=${res.secret}`,
      );
      expect(res.details).toEqual({
        sequence: '1',
        changeDate: new Date(NOW).toISOString(),
        resourceOwner: 'org-1',
      });
      expect(repo.factors.get(USER)).toMatchObject({ state: 'NOT_READY', secretSealed: `sealed(${USER})` });
      expect(events.appended).toEqual([
        {
          aggregateType: 'user',
          aggregateId: USER,
          resourceOwner: 'org-1',
          creator: CALLER.userId,
          eventType: 'user.human.mfa.otp.added',
        },
      ]);
    });

    it('answers `url` and add details (creationDate) on the v1 route', async () => {
      const { service } = setup();
      const res = await service.registerMine(CALLER);
      expect(Object.keys(res)).toEqual(['url', 'secret', 'details', 'qrCode']);
      expect(res.details).toEqual({
        sequence: '1',
        creationDate: new Date(NOW).toISOString(),
        resourceOwner: 'org-1',
      });
    });

    it.each([
      ['an unknown user', null],
      ['a machine user', { type: 'machine' as const }],
    ])('refuses %s with ZITADEL’s error, appending nothing', async (_name, user) => {
      const { service, events } = setup([], user);
      expect(await failure(service.register(CALLER, USER))).toEqual({
        kind: 'FAILED_PRECONDITION',
        id: 'COMMAND-SqyJz',
        message: 'User could not be found',
        retryAfterSeconds: undefined,
      });
      expect(events.appended).toEqual([]);
    });

    it('refuses a second registration once the TOTP is ready', async () => {
      const { service, repo, events } = setup();
      repo.factors.set(USER, factor('READY'));
      expect(await failure(service.register(CALLER, USER))).toMatchObject({
        kind: 'ALREADY_EXISTS',
        id: 'COMMAND-do9se',
        message: 'Multifactor OTP (OneTimePassword) is already set up',
      });
      expect(events.appended).toEqual([]);
    });
  });

  describe('remove', () => {
    it('deletes the factor and appends `removed`', async () => {
      const { service, repo, events } = setup();
      repo.factors.set(USER, factor('READY'));
      expect((await service.remove(CALLER, USER)).details.sequence).toBe('1');
      expect(repo.factors.has(USER)).toBe(false);
      expect(events.appended.map((e) => e.eventType)).toEqual(['user.human.mfa.otp.removed']);
    });

    it('answers NOT_FOUND with the remove command’s id when there is no factor', async () => {
      const { service } = setup();
      expect(await failure(service.remove(CALLER, USER))).toMatchObject({
        kind: 'NOT_FOUND',
        id: 'COMMAND-Hd9sd',
        message: "Multifactor OTP (OneTimePassword) doesn't exist",
      });
    });
  });

  describe('code attempts', () => {
    it('asks the strategy once per check, with the limits of the configuration, and answers the event’s details', async () => {
      const { service, attempts } = setup([{ kind: 'accepted', event: appended(7) }]);
      const res = await service.check(CALLER, USER, ' 123456 ');
      expect(res).toEqual({
        details: { sequence: '7', changeDate: new Date(NOW).toISOString(), resourceOwner: 'org-1' },
      });
      expect(attempts.requests).toEqual([
        {
          userId: USER,
          code: ' 123456 ',
          now: NOW,
          requiredState: 'READY',
          maxAttempts: 3,
          windowMs: 300_000,
          lockoutSeconds: 300,
          creator: CALLER.userId,
          onSuccess: { state: 'READY', eventType: 'user.human.mfa.otp.check.succeeded' },
          failureEventType: 'user.human.mfa.otp.check.failed',
        },
      ]);
    });

    it('verifies a registration on a NOT_READY factor, with no failure event', async () => {
      const { service, attempts } = setup([{ kind: 'accepted', event: appended(2) }]);
      await service.verifyRegistration(CALLER, USER, '123456');
      expect(attempts.requests[0]).toMatchObject({
        requiredState: 'NOT_READY',
        onSuccess: { state: 'READY', eventType: 'user.human.mfa.otp.verified' },
        failureEventType: undefined,
      });
    });

    it.each([
      ['a wrong code', { kind: 'rejected', locked: false }, { result: 'invalid', lockoutStarted: false }],
      [
        'the failure that locks',
        { kind: 'rejected', locked: true },
        { result: 'invalid', lockoutStarted: true },
      ],
      ['a replayed step', { kind: 'replayed' }, { result: 'replayed', lockoutStarted: false }],
    ] as [string, AttemptOutcome, object][])(
      'answers %s with “Invalid code”',
      async (_name, outcome, tag) => {
        const { service } = setup([outcome]);
        const call = service.check(CALLER, USER, '123456');
        expect(await failure(call)).toEqual({
          kind: 'INVALID_ARGUMENT',
          id: 'EVENT-8isk2',
          message: 'Invalid code',
          retryAfterSeconds: undefined,
        });
        expect(classifyVerify(await call.catch((e: unknown) => e))).toEqual(tag);
      },
    );

    it.each([
      ['no factor', undefined, 'check', { kind: 'NOT_FOUND', id: 'COMMAND-3Mif9s' }],
      [
        'a factor not verified yet',
        factor('NOT_READY'),
        'check',
        { kind: 'FAILED_PRECONDITION', id: 'COMMAND-3Mif9s' },
      ],
      [
        'a factor verified already',
        factor('READY'),
        'verifyRegistration',
        {
          kind: 'FAILED_PRECONDITION',
          id: 'COMMAND-qx4ls',
          message: 'Errors.Users.MFA.OTP.AlreadyReady',
        },
      ],
      [
        'a locked factor',
        factor('READY', { lockedUntil: NOW + 90_500 }),
        'check',
        {
          kind: 'RESOURCE_EXHAUSTED',
          id: 'TOTP-4ttmp',
          message: 'Too many failed attempts, try again later',
          retryAfterSeconds: 91,
        },
      ],
    ] as const)('explains why no code is taken: %s', async (_name, stored, method, expected) => {
      const { service, repo, attempts } = setup([{ kind: 'unavailable' }]);
      if (stored) repo.factors.set(USER, stored);
      expect(await failure(service[method](CALLER, USER, '123456'))).toMatchObject(expected);
      expect(attempts.requests).toHaveLength(1);
    });

    it('tries again when the factor takes codes after all (a success reset it meanwhile)', async () => {
      const { service, repo, attempts } = setup([
        { kind: 'unavailable' },
        { kind: 'accepted', event: appended(3) },
      ]);
      repo.factors.set(USER, factor('READY'));
      expect((await service.check(CALLER, USER, '123456')).details.sequence).toBe('3');
      expect(attempts.requests).toHaveLength(2);
    });

    it('gives up after twenty rounds that each found the factor taken, answering “locked”', async () => {
      const { service, repo, attempts } = setup(
        Array.from({ length: 20 }, () => ({ kind: 'unavailable' as const })),
      );
      repo.factors.set(USER, factor('READY'));
      expect(await failure(service.check(CALLER, USER, '123456'))).toMatchObject({
        kind: 'RESOURCE_EXHAUSTED',
        id: 'TOTP-4ttmp',
        retryAfterSeconds: 1,
      });
      expect(attempts.requests).toHaveLength(20);
    });

    it('while the window’s last attempts are judged elsewhere, waits and answers the time left when they keep it full', async () => {
      jest.useFakeTimers({ now: NOW });
      try {
        const { service, repo, attempts } = setup(
          Array.from({ length: 20 }, () => ({ kind: 'unavailable' as const })),
        );
        // every attempt of the window taken 100 s ago, no lock yet: 200 s of the window remain
        repo.factors.set(USER, factor('READY', { failedAttempts: 3, windowStartedAt: NOW - 100_000 }));
        const call = failure(service.check(CALLER, USER, '123456'));
        await jest.advanceTimersByTimeAsync(0);
        expect(attempts.requests).toHaveLength(1); // the next round waits 20 ms
        await jest.advanceTimersByTimeAsync(19);
        expect(attempts.requests).toHaveLength(1);
        await jest.advanceTimersByTimeAsync(1);
        expect(attempts.requests).toHaveLength(2);
        await jest.advanceTimersByTimeAsync(18 * 20);
        expect(await call).toMatchObject({
          kind: 'RESOURCE_EXHAUSTED',
          id: 'TOTP-4ttmp',
          retryAfterSeconds: 200,
        });
        expect(attempts.requests).toHaveLength(20);
      } finally {
        jest.useRealTimers();
      }
    });
  });
});
