import { randomBytes } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { FakeClock } from '../../test/helpers/fake-clock';
import {
  ALICE,
  fakeChange,
  inlineTransactions,
  RecordingEventStore,
} from '../../test/helpers/recording-event-store';
import { Principal } from '../common/auth/principal';
import { AppConfig } from '../common/config/app-config';
import { CodeHasher } from '../common/crypto/code-hasher';
import { SecretBox } from '../common/crypto/secret-box';
import { TransactionRunner } from '../common/database/transaction-runner';
import { DailySendCounter } from '../common/one-time-code/daily-send-counter';
import { DomainError } from '../common/errors/domain-error';
import { UsersReader } from '../identity';
import { SetPhoneDto } from './dto/otp-sms.dto';
import { OtpSmsState } from './entities/otp-sms-authenticator.entity';
import { OtpSmsEvents } from './otp-sms.events';
import { NewAuthenticator, OtpSmsAuthenticator, OtpSmsRepository } from './otp-sms.repository';
import {
  CodeFailure,
  CodeUse,
  CodeUseOutcome,
  CodeUseStrategy,
  failed,
  failedEvent,
  judge,
  refusal,
  stateFor,
  usedEvent,
} from './code-use/code-use';
import { OtpSmsService } from './otp-sms.service';
import { SmsMessage, SmsSender } from './sms/sms-sender';

/** The public methods of a class (a fake implements these, so it follows every signature change). */
type PublicOf<T> = { [K in keyof T]: T[K] };

const MAX_ATTEMPTS = 3;
const T0 = Date.UTC(2026, 0, 1, 12);
const EM = {} as EntityManager;

/** The repository's conditional statements, in memory, with the same preconditions as the SQL. */
class FakeOtpSmsRepository implements PublicOf<OtpSmsRepository> {
  readonly rows = new Map<string, OtpSmsAuthenticator>();
  /** Every read, and whether it ran inside a transaction. */
  readonly reads: { method: string; inTransaction: boolean }[] = [];

  constructor(private readonly counter: FakeDailySendCounter) {}

  async find(userId: string, id: string, em?: EntityManager) {
    this.reads.push({ method: 'find', inTransaction: !!em });
    const a = this.rows.get(id);
    return a && a.userId === userId ? { ...a } : undefined;
  }

  async existsForNumber(userId: string, numberHashes: string[], em?: EntityManager) {
    this.reads.push({ method: 'existsForNumber', inTransaction: !!em });
    return [...this.rows.values()].some((a) => a.userId === userId && numberHashes.includes(a.numberHash));
  }

  async insert(_em: EntityManager, a: NewAuthenticator) {
    const { now: _now, ...row } = a;
    this.rows.set(a.id, { ...row, codeAttempts: 0 });
  }

  async claimCodeSlot(
    _em: EntityManager,
    userId: string,
    id: string,
    state: OtpSmsState,
    now: number,
    cooldownCutoff: number,
    dailyLimit?: number,
  ) {
    const a = this.rows.get(id);
    if (!a || a.userId !== userId || a.state !== state) return undefined;
    if (a.lastCodeAt !== null && a.lastCodeAt > cooldownCutoff) return undefined;
    // as the repository: the message is counted with the claim, and a spent budget claims nothing
    if (
      dailyLimit !== undefined &&
      (await this.counter.count(EM, a.numberHash, now, dailyLimit)) !== undefined
    )
      return 'daily-limit' as const;
    a.lastCodeAt = now;
    return { id, numberHash: a.numberHash, numberSealed: a.numberSealed, codeGeneration: a.codeGeneration };
  }

  newCode(id: string, expected: number, codeHash: string, expiresAt: number, _now: number) {
    return fakeChange(() => {
      const a = this.rows.get(id)!;
      if (a.codeGeneration !== expected) return false;
      Object.assign(a, {
        codeHash,
        codeGeneration: expected + 1,
        codeExpiresAt: expiresAt,
        codeAttempts: 0,
      });
      return true;
    });
  }

  async delete(_em: EntityManager, userId: string, id: string) {
    const a = this.rows.get(id);
    if (!a || a.userId !== userId) return false;
    return this.rows.delete(id);
  }

  async anyReady(userId: string) {
    return [...this.rows.values()].some((a) => a.userId === userId && a.state === 'READY');
  }
}

/** The code use's conditional statements on the fake repository's rows, with the same preconditions as the SQL. */
class FakeCodeUse extends CodeUseStrategy {
  constructor(
    private readonly repo: FakeOtpSmsRepository,
    private readonly hasher: CodeHasher,
    private readonly events: RecordingEventStore,
  ) {
    super();
  }

  async use(u: CodeUse): Promise<CodeUseOutcome> {
    const a = this.repo.rows.get(u.otpSmsId);
    const mine = a && a.userId === u.user.id ? a : undefined;
    const attemptable =
      mine &&
      mine.state === stateFor(u.purpose) &&
      mine.codeHash !== null &&
      mine.codeExpiresAt !== null &&
      mine.codeExpiresAt >= u.now &&
      mine.codeAttempts < u.maxAttempts;
    if (!attemptable) {
      const row = mine && {
        state: mine.state,
        code_hash: mine.codeHash,
        code_expires_at: mine.codeExpiresAt,
        code_attempts: mine.codeAttempts,
      };
      return this.fail(u, refusal(u, row));
    }
    mine.codeAttempts++;
    const t = { codeHash: mine.codeHash!, codeGeneration: mine.codeGeneration, attempts: mine.codeAttempts };
    const verdict = judge(this.hasher, u, t);
    if (verdict !== 'match') return this.fail(u, 'invalid', verdict);
    Object.assign(mine, { codeHash: null, codeExpiresAt: null, codeAttempts: 0 });
    if (u.purpose === 'registration') mine.state = 'READY';
    return { kind: 'used', event: await this.events.append(EM, usedEvent(u)) };
  }

  private async fail(u: CodeUse, failure: CodeFailure, verdict?: 'wrong' | 'wrong-exhausted') {
    const e = failedEvent(u, failure);
    if (e) await this.events.append(EM, e);
    return failed(failure, verdict);
  }
}

/** The shared daily SMS budget, in memory. */
class FakeDailySendCounter {
  readonly counts = new Map<string, number>();
  async count(_em: EntityManager, destinationHash: string, now: number, limit: number) {
    const day = Math.floor(now / 86_400_000);
    const key = `${destinationHash}:${day}`;
    const n = this.counts.get(key) ?? 0;
    if (n >= limit) return ((day + 1) * 86_400_000 - now) / 1000;
    this.counts.set(key, n + 1);
    return undefined;
  }
}

class FakeSms extends SmsSender {
  readonly name = 'fake';
  readonly sent: SmsMessage[] = [];
  async send(message: SmsMessage): Promise<void> {
    this.sent.push(message);
  }
}

const alice = ALICE;
const self = new Principal(alice.id, alice.orgId, 'human', 'pat', [], new Map());
const admin = new Principal('300000000000000009', alice.orgId, 'machine', 'pat', ['IAM_OWNER'], new Map());

function setup() {
  const clock = new FakeClock(T0);
  const config = {
    instance: { id: 'default', domain: 'localhost' },
    crypto: { key: randomBytes(32), oldKeys: {} },
    otp: { maxAttempts: MAX_ATTEMPTS, lockoutSeconds: 300 },
    sms: {
      codeTtlSeconds: 300,
      resendCooldownSeconds: 30,
      dailyLimitPerNumber: 10,
      template: 'Code {{code}}',
    },
  } as unknown as AppConfig;
  const counter = new FakeDailySendCounter();
  const repo = new FakeOtpSmsRepository(counter);
  const events = new RecordingEventStore(clock);
  const tx = inlineTransactions(EM);
  const hasher = new CodeHasher(config);
  const compare = jest.spyOn(hasher, 'verify');
  const box = { seal: (v: string) => `sealed:${v}`, open: (v: string) => v.slice('sealed:'.length) };
  // the reader's own rules (requireHuman) over a fake lookup
  const users = Object.assign(Object.create(UsersReader.prototype) as UsersReader, {
    findUser: async (id: string) => (id === alice.id ? alice : undefined),
    findOrgByDomain: async () => undefined,
  });
  const sms = new FakeSms();
  const service = new OtpSmsService(
    config,
    clock,
    tx as unknown as TransactionRunner,
    repo as unknown as OtpSmsRepository,
    events,
    users,
    box as unknown as SecretBox,
    hasher,
    sms,
    counter as unknown as DailySendCounter,
    new FakeCodeUse(repo, hasher, events),
  );
  return { clock, repo, events, tx, compare, sms, service };
}

const phone = (more: Partial<SetPhoneDto> = {}): SetPhoneDto => ({ number: '+41791234567', ...more });

async function failure(p: Promise<unknown>): Promise<DomainError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DomainError);
  return e as DomainError;
}

describe('OtpSmsService', () => {
  it('adds an authenticator with a code sent by SMS, and stores only a hash of code and number', async () => {
    const { service, sms, repo, events } = setup();
    const res = await service.add(self, alice.id, {}, phone({ sendCode: {} }));
    expect(res.verificationCode).toBeUndefined();
    expect(sms.sent).toHaveLength(1);
    const code = sms.sent[0].code;
    expect(code).toMatch(/^\d{8}$/);
    const row = repo.rows.get(res.otpSmsId)!;
    expect(row).toMatchObject({ state: 'PENDING', codeGeneration: 1 });
    expect(row.codeHash).not.toContain(code);
    expect(row.numberHash).not.toContain('41791234567');
    expect(events.types()).toEqual([OtpSmsEvents.added, OtpSmsEvents.codeAdded, OtpSmsEvents.codeSent]);
  });

  it('finds an existing number without opening a transaction', async () => {
    const { service, repo, tx } = setup();
    await service.add(admin, alice.id, {}, phone({ returnCode: {} }));
    const runs = tx.runs;
    const err = await failure(service.add(admin, alice.id, {}, phone({ returnCode: {} })));
    expect([err.kind, err.id]).toEqual(['ALREADY_EXISTS', 'COMMAND-Ad3g2']);
    expect(tx.runs).toBe(runs);
    expect(repo.reads.filter((r) => r.method === 'existsForNumber')).toEqual([
      { method: 'existsForNumber', inTransaction: false },
      { method: 'existsForNumber', inTransaction: false },
    ]);
  });

  it('refuses a pre-verified number and a returned code to the user acting on itself', async () => {
    const { service } = setup();
    const err = await failure(service.add(self, alice.id, {}, phone({ isVerified: true })));
    expect([err.kind, err.id]).toEqual(['PERMISSION_DENIED', 'AUTH-AWfge']);
    const { otpSmsId } = await service.add(admin, alice.id, {}, phone({ isVerified: true }));
    const err2 = await failure(service.challenge(self, alice.id, otpSmsId, {}, { returnCode: {} }));
    expect([err2.kind, err2.id]).toEqual(['PERMISSION_DENIED', 'AUTH-AWfge']);
  });

  it('answers an unknown user with the shared user-not-found error', async () => {
    const { service } = setup();
    const err = await failure(service.add(admin, '399999999999999999', {}, phone()));
    expect([err.kind, err.id, err.message]).toEqual([
      'NOT_FOUND',
      'COMMAND-bx2OLtgGNS',
      'User could not be found',
    ]);
  });

  it('verifies the registration with the right code, once', async () => {
    const { service, repo } = setup();
    const { otpSmsId, verificationCode } = await service.add(admin, alice.id, {}, phone({ returnCode: {} }));
    await service.verify(self, alice.id, otpSmsId, {}, verificationCode!);
    expect(repo.rows.get(otpSmsId)).toMatchObject({ state: 'READY', codeHash: null });
    const err = await failure(service.verify(self, alice.id, otpSmsId, {}, verificationCode!));
    expect(err.id).toBe('COMMAND-qx4ls');
  });

  it('counts the attempt before comparing: at most OTP_MAX_ATTEMPTS codes are ever compared', async () => {
    const { service, compare, repo } = setup();
    const { otpSmsId, verificationCode } = await service.add(admin, alice.id, {}, phone({ returnCode: {} }));
    compare.mockClear();
    compare.mockImplementation(() => {
      // By the time a code is compared, its attempt is already spent.
      expect(repo.rows.get(otpSmsId)!.codeAttempts).toBeGreaterThan(0);
      return false;
    });
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      const err = await failure(service.verify(self, alice.id, otpSmsId, {}, '00000000'));
      expect(err.id).toBe('CODE-woT0xc');
    }
    // The right code now finds no attempt left and is never compared.
    const err = await failure(service.verify(self, alice.id, otpSmsId, {}, verificationCode!));
    expect(err.id).toBe('OTPSMS-Att3mx');
    expect(compare).toHaveBeenCalledTimes(MAX_ATTEMPTS);
    expect(repo.rows.get(otpSmsId)!.codeAttempts).toBe(MAX_ATTEMPTS);
  });

  it('compares the code exactly as sent: whitespace around it makes it wrong', async () => {
    const { service } = setup();
    const { otpSmsId, verificationCode } = await service.add(admin, alice.id, {}, phone({ returnCode: {} }));
    const err = await failure(service.verify(self, alice.id, otpSmsId, {}, ` ${verificationCode} `));
    expect(err.id).toBe('CODE-woT0xc');
    await service.verify(self, alice.id, otpSmsId, {}, verificationCode!);
  });

  it('records a failed sign-in check, and an expired code as expired', async () => {
    const { service, events, clock, sms } = setup();
    const { otpSmsId } = await service.add(admin, alice.id, {}, phone({ isVerified: true }));
    await service.challenge(self, alice.id, otpSmsId, {}, {});
    const err = await failure(service.check(self, alice.id, otpSmsId, {}, '00000000'));
    expect(err.id).toBe('CODE-woT0xc');
    expect(events.appended.at(-1)).toMatchObject({
      eventType: OtpSmsEvents.checkFailed,
      payload: { otpSmsId, reason: 'invalid' },
    });
    clock.advance(301_000);
    const expired = await failure(service.check(self, alice.id, otpSmsId, {}, sms.sent[0].code));
    expect(expired.id).toBe('CODE-QvUQ4P');
  });

  it('keeps new codes SMS_RESEND_COOLDOWN_SECONDS apart', async () => {
    const { service, clock } = setup();
    const { otpSmsId } = await service.add(admin, alice.id, {}, phone({ isVerified: true }));
    await service.challenge(self, alice.id, otpSmsId, {}, {});
    clock.advance(10_000);
    const err = await failure(service.challenge(self, alice.id, otpSmsId, {}, {}));
    expect([err.kind, err.id, err.options.retryAfterSeconds]).toEqual([
      'RESOURCE_EXHAUSTED',
      'OTPSMS-C00ld9',
      20,
    ]);
    clock.advance(20_000);
    await service.challenge(self, alice.id, otpSmsId, {}, {});
  });
});
