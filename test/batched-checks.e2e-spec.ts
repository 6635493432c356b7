import { DataSource } from 'typeorm';
import { Principal } from '../src/common/auth/principal';
import { DomainError } from '../src/common/errors/domain-error';
import { CodeCheckStrategy } from '../src/common/one-time-code/check/code-check';
import { OneTimeCodes, CodePolicy } from '../src/common/one-time-code/one-time-codes';
import { EmailChallengeService } from '../src/email-challenge/email-challenge.service';
import { ChallengeVerifyStrategy } from '../src/email-challenge/verify/challenge-verify';
import { UsersReader } from '../src/identity';
import { IdentityDirectory } from '../src/identity/identity-directory';
import { CodeUseStrategy } from '../src/otp-sms/code-use/code-use';
import { OtpSmsService } from '../src/otp-sms/otp-sms.service';
import { RecoveryCheckStrategy } from '../src/recovery-codes/check/recovery-check';
import { RecoveryCodesService } from '../src/recovery-codes/recovery-codes.service';
import { EmailChallengeFixture, otherCode } from './helpers/email-challenge';
import { createHuman, HumanFixture } from './helpers/factories';
import { bearer } from './helpers/test-app';

/**
 * Code checks that arrive together: on PostgreSQL they share one transaction and one statement per
 * step (TransactionBatcher); on SQLite each is a unit of its own (of a group commit). Each suite below starts several
 * checks in the same turn of the event loop – right codes, a wrong one, and the same code twice for
 * one user (which waits for the next batch) – and proves each answer, the rows and the events are
 * exactly those of checks run one after the other, and on PostgreSQL that they ran as two batches.
 */
describe('code checks that arrive together', () => {
  const f = new EmailChallengeFixture();
  let ds: DataSource;
  let users: HumanFixture[];
  let principals: Principal[];
  let batches: number[];

  beforeAll(async () => {
    await f.start();
    ds = f.t.app.get(DataSource);
    users = [];
    for (let i = 0; i < 4; i++) users.push(await createHuman(f.t, f.alice.orgId));
    const directory = f.t.app.get(IdentityDirectory);
    principals = await Promise.all(users.map(async (u) => (await directory.principalForUser(u.userId))!));
  });
  afterAll(() => f.stop());
  afterEach(() => jest.restoreAllMocks());
  beforeEach(() => (batches = []));

  /**
   * The OTP SMS check reads its user before the check is submitted; the reads return
   * when the database answers, so whether they land in one turn would be up to the network. The
   * reads are held until all `n` have returned, then released together, as a burst arriving at once.
   */
  const releaseUserReadsTogether = (n: number) => {
    const reader = f.t.app.get(UsersReader);
    const original = reader.requireHuman.bind(reader);
    let arrived = 0;
    let release!: () => void;
    const all = new Promise<void>((resolve) => (release = resolve));
    jest.spyOn(reader, 'requireHuman').mockImplementation(async (...args) => {
      const user = await original(...args);
      if (++arrived === n) release();
      await all;
      return user;
    });
  };

  /**
   * The outcomes with user 3's two identical checks in a fixed order (success first): which of them
   * wins is up to which of their transactions takes the row first (and, where the user is read first,
   * the order those reads returned in).
   */
  const inEitherOrder = <T>(outcomes: T[]): T[] => {
    const [a, b] = outcomes.slice(3);
    const firstWon = a === 'ok' || typeof a === 'number';
    return [...outcomes.slice(0, 3), ...(firstWon ? [a, b] : [b, a])];
  };

  /** Records the size of every batch the service's batch method `name` is handed. */
  const recordBatches = (service: object, name: string) => {
    const target = service as Record<string, (em: unknown, items: unknown[]) => Promise<unknown[]>>;
    const original = target[name].bind(service);
    jest.spyOn(target, name).mockImplementation((em, items) => {
      batches.push(items.length);
      return original(em, items);
    });
  };

  /**
   * The batches of a check strategy: on PostgreSQL those its batch method `batch` is handed; on SQLite
   * each check is a unit of a group commit of its own (`one`, a batch of one).
   */
  const recordStrategy = (strategy: object, batch: string, one: string) => {
    if (f.t.db === 'postgres') return recordBatches(strategy, batch);
    const target = strategy as Record<string, (item: unknown) => unknown>;
    const original = target[one].bind(strategy);
    jest.spyOn(target, one).mockImplementation((item) => {
      batches.push(1);
      return original(item);
    });
  };

  const eventTypes = async (aggregateId: string, prefix: string) =>
    (
      await ds.query(
        `SELECT event_type FROM events WHERE aggregate_id = ${f.t.db === 'postgres' ? '$1' : '?'} ORDER BY sequence`,
        [aggregateId],
      )
    )
      .map((r: { event_type: string }) => r.event_type)
      .filter((t: string) => t.startsWith(prefix));
  /** Each promise's outcome: the value, or the error's HTTP status. */
  const settle = async <T>(promises: Promise<T>[]) =>
    (await Promise.allSettled(promises)).map((r) =>
      r.status === 'fulfilled'
        ? 'ok'
        : r.reason instanceof DomainError
          ? `${r.reason.status} ${r.reason.id ?? r.reason.options.apiCode}`
          : r.reason,
    );
  /**
   * Four distinct users then the fourth again: two batches on PostgreSQL (run side by side, so either
   * may start first), five batches of one on SQLite.
   */
  const expectBatches = () =>
    expect([...batches].sort((x, y) => y - x)).toEqual(f.t.db === 'postgres' ? [4, 1] : [1, 1, 1, 1, 1]);

  it('email challenge verify: right, right, wrong, right, and the last one again', async () => {
    const service = f.t.app.get(EmailChallengeService);
    recordStrategy(f.t.app.get(ChallengeVerifyStrategy), 'verifyBatch', 'verifyOne');
    const started = [];
    for (const u of users) started.push(await f.started(u));
    const outcomes = await settle([
      service.verify(principals[0], started[0].id, started[0].code),
      service.verify(principals[1], started[1].id, started[1].code),
      service.verify(principals[2], started[2].id, otherCode(started[2].code)),
      service.verify(principals[3], started[3].id, started[3].code),
      service.verify(principals[3], started[3].id, started[3].code),
    ]);
    expect(inEitherOrder(outcomes)).toEqual(['ok', 'ok', '400 INVALID_OTP', 'ok', '410 CHALLENGE_NOT_FOUND']);
    expectBatches();
    const statuses = await Promise.all(started.map(async (s) => (await f.get(f.issuer.token, s.id)).body));
    expect(statuses.map((s) => [s.status, s.attemptsRemaining])).toEqual([
      ['VERIFIED', 3],
      ['VERIFIED', 3],
      ['PENDING', 2],
      ['VERIFIED', 3],
    ]);
    expect(await eventTypes(started[2].id, 'mfa.')).toEqual([
      'mfa.email_challenge.added',
      'mfa.email_challenge.check.failed',
    ]);
    expect(await eventTypes(started[3].id, 'mfa.')).toEqual([
      'mfa.email_challenge.added',
      'mfa.email_challenge.verified',
    ]);
  });

  it('one-time codes (the v2 OTP SMS and OTP Email machinery): right, wrong, right, and a used code again', async () => {
    const codes = f.t.app.get(OneTimeCodes);
    recordStrategy(f.t.app.get(CodeCheckStrategy), 'checkBatch', 'checkOne');
    const policy: CodePolicy = {
      purpose: 'batch-probe',
      digits: 6,
      ttlSeconds: 300,
      cooldownSeconds: 0,
      events: {
        codeAdded: 'probe.code.added',
        checkSucceeded: 'probe.check.succeeded',
        checkFailed: 'probe.check.failed',
        checkLocked: 'probe.check.locked',
      },
    };
    const sent: string[] = [];
    for (const [i, u] of users.entries())
      await codes.send(policy, principals[i], { id: u.userId, orgId: u.orgId }, async (code) => {
        sent[i] = code;
      });
    const subject = (i: number) => ({ id: users[i].userId, orgId: users[i].orgId });
    const outcomes = await settle([
      codes.check(policy, principals[0], subject(0), sent[0]),
      codes.check(policy, principals[1], subject(1), otherCode(sent[1])),
      codes.check(policy, principals[2], subject(2), sent[2]),
      codes.check(policy, principals[3], subject(3), sent[3]),
      codes.check(policy, principals[3], subject(3), sent[3]),
    ]);
    expectBatches();
    // a wrong code; then a code that is gone (used by the first check of user 3)
    expect(inEitherOrder(outcomes)).toEqual(['ok', '400 CODE-woT0xc', 'ok', 'ok', '400 COMMAND-S34gh']);
    expect(await eventTypes(users[1].userId, 'probe.')).toEqual(['probe.code.added', 'probe.check.failed']);
    expect(await eventTypes(users[3].userId, 'probe.')).toEqual([
      'probe.code.added',
      'probe.check.succeeded',
      'probe.check.failed',
    ]);
  });

  it('recovery codes: right, wrong, right, and the same code again', async () => {
    const service = f.t.app.get(RecoveryCodesService);
    recordStrategy(f.t.app.get(RecoveryCheckStrategy), 'checkBatch', 'checkOne');
    const sets: string[][] = [];
    for (const u of users) {
      const res = await f.t.http
        .post(`/v2/users/${u.userId}/recovery_codes`)
        .set(bearer(u.token))
        .send({ count: 3 });
      expect(res.status).toBe(200);
      sets.push(res.body.recoveryCodes);
    }
    const results = await Promise.allSettled([
      service.check(principals[0], users[0].userId, sets[0][0]),
      service.check(principals[1], users[1].userId, 'ZZZZZ-ZZZZZ'),
      service.check(principals[2], users[2].userId, sets[2][1]),
      service.check(principals[3], users[3].userId, sets[3][2]),
      service.check(principals[3], users[3].userId, sets[3][2]),
    ]);
    expectBatches();
    expect(
      inEitherOrder(results.map((r) => (r.status === 'fulfilled' ? r.value.remaining : 'failed'))),
    ).toEqual([2, 'failed', 2, 2, 'failed']);
    expect(await eventTypes(users[3].userId, 'user.human.recoverycode')).toEqual([
      'user.human.recoverycodes.added',
      'user.human.recoverycode.check.succeeded',
      'user.human.recoverycode.check.failed',
    ]);
    // the success gave its attempt back: only the failures count
    const attempts = await ds.query(
      `SELECT user_id, attempts FROM recovery_code_sets WHERE user_id IN (${users
        .map((_, i) => (f.t.db === 'postgres' ? `$${i + 1}` : '?'))
        .join(', ')})`,
      users.map((u) => u.userId),
    );
    const byUser = new Map(
      attempts.map((r: { user_id: string; attempts: number }) => [r.user_id, Number(r.attempts)]),
    );
    expect(users.map((u) => byUser.get(u.userId))).toEqual([0, 1, 0, 1]);
  });

  it('OTP SMS (v3alpha) registration codes: right, wrong, right, and a used code again', async () => {
    const service = f.t.app.get(OtpSmsService);
    recordStrategy(f.t.app.get(CodeUseStrategy), 'useBatch', 'useOne');
    const added: { otpSmsId: string; code: string }[] = [];
    for (const [i, u] of users.entries()) {
      const res = await service.add(
        principals[i],
        u.userId,
        {},
        {
          number: `+4179100${String(i).padStart(4, '0')}`,
          returnCode: {},
        },
      );
      added.push({ otpSmsId: res.otpSmsId, code: res.verificationCode! });
    }
    const wrong = (code: string) => code.slice(0, 7) + String((Number(code[7]) + 1) % 10);
    releaseUserReadsTogether(5);
    const outcomes = await settle([
      service.verify(principals[0], users[0].userId, added[0].otpSmsId, {}, added[0].code),
      service.verify(principals[1], users[1].userId, added[1].otpSmsId, {}, wrong(added[1].code)),
      service.verify(principals[2], users[2].userId, added[2].otpSmsId, {}, added[2].code),
      service.verify(principals[3], users[3].userId, added[3].otpSmsId, {}, added[3].code),
      service.verify(principals[3], users[3].userId, added[3].otpSmsId, {}, added[3].code),
    ]);
    expectBatches();
    // a wrong code; then the second use finds the authenticator ready already
    expect(inEitherOrder(outcomes)).toEqual(['ok', '400 CODE-woT0xc', 'ok', 'ok', '400 COMMAND-qx4ls']);
    const states = await Promise.all(
      added.map(
        async (a) =>
          (
            await ds.query(
              `SELECT state FROM otp_sms_authenticators WHERE id = ${f.t.db === 'postgres' ? '$1' : '?'}`,
              [a.otpSmsId],
            )
          )[0].state,
      ),
    );
    expect(states).toEqual(['READY', 'PENDING', 'READY', 'READY']);
  });
});
