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
import { TransactionRunner } from '../common/database/transaction-runner';
import { DomainError } from '../common/errors/domain-error';
import { UsersReader } from '../identity';
import { EmailChallengeEvents } from './email-challenge.events';
import { ChallengeRow, EmailChallengeRepository } from './email-challenge.repository';
import {
  ChallengeVerifyStrategy,
  judge,
  TakenAttempt,
  verifiedEvent,
  VerifyAttempt,
  VerifyOutcome,
  wrongCode,
} from './verify/challenge-verify';
import { EmailChallengeService } from './email-challenge.service';
import { ChallengeMail, MailDeliveryError, MailSender } from '../common/mail/mail-sender';

/** The public methods of a class (a fake implements these, so it follows every signature change). */
type PublicOf<T> = { [K in keyof T]: T[K] };

const MAX_ATTEMPTS = 3;
const T0 = Date.UTC(2026, 0, 1, 12);
const EM = {} as EntityManager;

/** The repository's conditional statements, in memory, with the same preconditions as the SQL. */
class FakeEmailChallengeRepository implements PublicOf<EmailChallengeRepository> {
  readonly rows = new Map<string, ChallengeRow & { unsent?: boolean }>();
  readonly contexts = new Map<string, Record<string, unknown>>();

  async find(id: string) {
    const r = this.rows.get(id);
    return r && !r.unsent ? { ...r } : undefined;
  }
  creation(row: ChallengeRow, context: Record<string, unknown>) {
    return fakeChange(() => {
      this.rows.set(row.id, { ...row, unsent: true });
      this.contexts.set(row.id, context);
      return true;
    });
  }
  async markSent(_em: EntityManager, id: string) {
    const r = this.rows.get(id);
    if (!r?.unsent) return false;
    delete r.unsent;
    return true;
  }
  async purgeUnsent() {
    return 0;
  }
  async remove(_em: EntityManager, id: string) {
    this.rows.delete(id);
    this.contexts.delete(id);
  }
  async replaceCode(
    _em: EntityManager,
    a: {
      id: string;
      generation: number;
      codeHash: string;
      now: number;
      expiresAt: number;
      cooldownCutoff: number;
    },
  ) {
    const r = this.rows.get(a.id);
    if (!r || r.generation !== a.generation || r.status !== 'PENDING' || r.expiresAt <= a.now) return false;
    if (r.lastSentAt > a.cooldownCutoff) return false;
    Object.assign(r, {
      codeHash: a.codeHash,
      generation: r.generation + 1,
      lastSentAt: a.now,
      expiresAt: a.expiresAt,
    });
    return true;
  }
  async resetSendTime(_em: EntityManager, id: string, generation: number, lastSentAt: number) {
    const r = this.rows.get(id);
    if (r && r.generation === generation) r.lastSentAt = lastSentAt;
  }
  async consume(
    _em: EntityManager,
    id: string,
    now: number,
    bind?: { userId: string; operation: string },
  ): Promise<Record<string, unknown> | undefined> {
    const r = this.rows.get(id);
    if (!r || r.status !== 'VERIFIED' || !this.contexts.has(id)) return undefined;
    if (bind && (r.userId !== bind.userId || r.operation !== bind.operation)) return undefined;
    Object.assign(r, { status: 'CONSUMED', consumedAt: now });
    const context = this.contexts.get(id);
    this.contexts.delete(id);
    return context;
  }
  async purgeContexts() {
    return 0;
  }
  async purgeChallenges() {
    return 0;
  }
}

/**
 * The verify strategies' statements, in memory over the fake repository's rows, with the same
 * preconditions as the SQL and the strategies' shared decisions (judge, wrongCode, verifiedEvent).
 */
class FakeChallengeVerify extends ChallengeVerifyStrategy {
  constructor(
    private readonly repo: FakeEmailChallengeRepository,
    private readonly hasher: CodeHasher,
    private readonly events: RecordingEventStore,
  ) {
    super();
  }

  async verify(a: VerifyAttempt): Promise<VerifyOutcome> {
    const r = this.repo.rows.get(a.challengeId);
    if (!r || r.unsent || r.userId !== a.userId || r.status !== 'PENDING') return { kind: 'refused' };
    if (r.expiresAt <= a.now || r.attempts >= r.maxAttempts) return { kind: 'refused' };
    r.attempts++;
    const t: TakenAttempt = {
      orgId: r.orgId,
      codeHash: r.codeHash,
      generation: r.generation,
      attempts: r.attempts,
      maxAttempts: r.maxAttempts,
    };
    if (judge(this.hasher, a, t) === 'match') {
      Object.assign(r, { status: 'VERIFIED', verifiedAt: a.now, codeHash: null, attempts: r.attempts - 1 });
      await this.events.append(EM, verifiedEvent(a, t));
      return { kind: 'verified', verifiedAt: a.now };
    }
    const wrong = wrongCode(a, t);
    if (wrong.locked) Object.assign(r, { status: 'LOCKED', codeHash: null });
    for (const e of wrong.events) await this.events.append(EM, e);
    return wrong.outcome;
  }
}

class FakeMail extends MailSender {
  readonly sent: ChallengeMail[] = [];
  fail = false;
  async send(mail: ChallengeMail) {
    if (this.fail) throw new MailDeliveryError('refused');
    this.sent.push(mail);
    return 'sent' as const;
  }
  async sendNotice() {
    return 'sent' as const;
  }
  lastCode(): string {
    return this.sent.at(-1)!.code;
  }
}

const alice = ALICE;
const self = new Principal(alice.id, alice.orgId, 'human', 'pat', [], new Map());
const bob = new Principal('300000000000000002', alice.orgId, 'human', 'pat', [], new Map());
const issuer = new Principal(
  '300000000000000009',
  alice.orgId,
  'machine',
  'pat',
  ['MFA_CHALLENGE_ISSUER'],
  new Map(),
);

function setup() {
  const clock = new FakeClock(T0);
  const config = {
    crypto: { key: randomBytes(32), oldKeys: {} },
    otp: { maxAttempts: MAX_ATTEMPTS, lockoutSeconds: 300 },
    mail: { resendCooldownSeconds: 30 },
  } as unknown as AppConfig;
  const repo = new FakeEmailChallengeRepository();
  const events = new RecordingEventStore(clock);
  const tx = inlineTransactions(EM);
  const hasher = new CodeHasher(config);
  const compare = jest.spyOn(hasher, 'verify');
  const users = { findUser: async (id: string) => (id === alice.id ? alice : undefined) };
  const mail = new FakeMail();
  const service = new EmailChallengeService(
    repo as unknown as EmailChallengeRepository,
    tx as unknown as TransactionRunner,
    events,
    users as unknown as UsersReader,
    hasher,
    mail,
    clock,
    config,
    new FakeChallengeVerify(repo, hasher, events),
  );
  return { clock, repo, events, compare, mail, service };
}

async function failure(p: Promise<unknown>): Promise<DomainError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DomainError);
  return e as DomainError;
}

const create = (s: ReturnType<typeof setup>) =>
  s.service.create(issuer, { userId: alice.id, operation: 'payment.approve', context: { paymentId: 'p-1' } });

describe('EmailChallengeService', () => {
  it('creates a challenge, mails a 6-digit code and keeps only its hash', async () => {
    const s = setup();
    const res = await create(s);
    expect(res).toMatchObject({ status: 'PENDING', maskedEmail: expect.stringContaining('@') });
    expect(s.mail.lastCode()).toMatch(/^\d{6}$/);
    expect(s.repo.rows.get(res.challengeId)!.codeHash).not.toContain(s.mail.lastCode());
    expect(s.events.types()).toEqual([EmailChallengeEvents.added]);
  });

  it('leaves nothing behind when the mail cannot be sent', async () => {
    const s = setup();
    s.mail.fail = true;
    const err = await failure(create(s));
    expect([err.kind, err.options.apiCode]).toEqual(['UNAVAILABLE', 'INTERNAL_SERVER_ERROR']);
    expect(s.repo.rows.size).toBe(0);
    expect(s.events.types()).toEqual([EmailChallengeEvents.added, EmailChallengeEvents.removed]);
  });

  it('verifies the right code for the subject only; a right code spends no attempt', async () => {
    const s = setup();
    const { challengeId } = await create(s);
    const other = await failure(s.service.verify(bob, challengeId, s.mail.lastCode()));
    expect(other.options.apiCode).toBe('USER_ID_DOES_NOT_MATCH_WITH_CHALLENGE_SUBJECT_USER_ID');
    const res = await s.service.verify(self, challengeId, s.mail.lastCode());
    expect(res.status).toBe('VERIFIED');
    expect((await s.service.get(self, challengeId)).attemptsRemaining).toBe(MAX_ATTEMPTS);
    expect(s.events.types().at(-1)).toBe(EmailChallengeEvents.verified);
  });

  it('ignores whitespace around the code', async () => {
    const s = setup();
    const { challengeId } = await create(s);
    expect((await s.service.verify(self, challengeId, ` ${s.mail.lastCode()} `)).status).toBe('VERIFIED');
  });

  it('counts the attempt before comparing, says how many remain, and locks at OTP_MAX_ATTEMPTS', async () => {
    const s = setup();
    const { challengeId } = await create(s);
    const right = s.mail.lastCode();
    const wrong = right === '000000' ? '111111' : '000000';
    s.compare.mockImplementation(() => {
      // By the time a code is compared, its attempt is already spent.
      expect(s.repo.rows.get(challengeId)!.attempts).toBeGreaterThan(0);
      return false;
    });
    const first = await failure(s.service.verify(self, challengeId, wrong));
    expect([first.options.apiCode, first.message]).toEqual([
      'INVALID_OTP',
      'The code is invalid; 2 attempts remaining',
    ]);
    await failure(s.service.verify(self, challengeId, wrong));
    const last = await failure(s.service.verify(self, challengeId, wrong));
    expect(last.message).toBe('The code is invalid; no attempts remain, the challenge is now locked');
    expect(s.repo.rows.get(challengeId)).toMatchObject({
      status: 'LOCKED',
      attempts: MAX_ATTEMPTS,
      codeHash: null,
    });
    // Locked: even the right code is refused without being compared.
    const gone = await failure(s.service.verify(self, challengeId, right));
    expect([gone.kind, gone.message]).toEqual(['GONE', 'The challenge is locked after too many wrong codes']);
    expect(s.compare).toHaveBeenCalledTimes(MAX_ATTEMPTS);
    expect(s.events.types().filter((t) => t === EmailChallengeEvents.checkFailed)).toHaveLength(MAX_ATTEMPTS);
    expect(s.events.types().at(-1)).toBe(EmailChallengeEvents.locked);
  });

  it('hands the context out once, to a verified challenge only', async () => {
    const s = setup();
    const { challengeId } = await create(s);
    const early = await failure(s.service.consume(issuer, challengeId));
    expect([early.kind, early.options.apiCode]).toEqual(['FAILED_PRECONDITION', 'BAD_REQUEST']);
    await s.service.verify(self, challengeId, s.mail.lastCode());
    expect((await s.service.consume(issuer, challengeId)).context).toEqual({ paymentId: 'p-1' });
    const again = await failure(s.service.consume(issuer, challengeId));
    expect([again.kind, again.message]).toEqual(['GONE', 'The challenge has already been consumed']);
  });

  it('resends after EMAIL_RESEND_COOLDOWN_SECONDS only; the old code dies', async () => {
    const s = setup();
    const { challengeId } = await create(s);
    const old = s.mail.lastCode();
    const early = await failure(s.service.resend(self, challengeId));
    expect([early.kind, early.options.retryAfterSeconds]).toEqual(['RESOURCE_EXHAUSTED', 30]);
    s.clock.advance(30_000);
    await s.service.resend(self, challengeId);
    expect(s.mail.sent).toHaveLength(2);
    if (old !== s.mail.lastCode()) await failure(s.service.verify(self, challengeId, old));
    expect((await s.service.verify(self, challengeId, s.mail.lastCode())).status).toBe('VERIFIED');
  });
});
