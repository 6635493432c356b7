import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { SecretBox } from '../../common/crypto/secret-box';
import { buildDataSourceOptions, openDatabase } from '../../common/database/data-source';
import { MIGRATIONS } from '../../common/database/migrations';
import { TransactionRunner } from '../../common/database/transaction-runner';
import { EventStore } from '../../common/events/event-store';
import { Clock } from '../../common/time/clock';
import { timeStep, totpCode } from '../totp-algorithm';
import { AttemptRequest } from './attempt-decision';
import { SqliteAttemptStrategy } from './sqlite-attempt.strategy';

const SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const NOW = 1_700_000_015_000;
const USER = '100000000000000001';

/** The SQLite strategy carrying out decideAttempt's plans on a migrated database file. */
describe('SqliteAttemptStrategy', () => {
  let dir: string;
  let ds: DataSource;
  let strategy: SqliteAttemptStrategy;
  // the stored "sealed" secret is the secret itself; `undecidable` makes opening it fail
  let undecidable = false;
  const box = {
    open: (sealed: string) => {
      if (undecidable) throw new Error('secret cannot be decrypted');
      return sealed;
    },
  } as unknown as SecretBox;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'totp-attempt-'));
    ds = await openDatabase(
      buildDataSourceOptions({ type: 'sqlite', path: path.join(dir, 'db.sqlite') }, [], MIGRATIONS),
    );
    // the factor alone, without its user and organisation
    await ds.query('PRAGMA foreign_keys = OFF');
    await ds.query(
      `INSERT INTO totp_factors (user_id, org_id, state, secret_sealed, created_at, updated_at) VALUES (?, 'org-1', 'READY', ?, 0, 0)`,
      [USER, SECRET],
    );
    strategy = new SqliteAttemptStrategy(ds, new TransactionRunner(ds), new EventStore(new Clock()), box);
    undecidable = false;
  });

  afterEach(async () => {
    await ds.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const check = (code: string, now = NOW): AttemptRequest => ({
    userId: USER,
    code,
    now,
    requiredState: 'READY',
    maxAttempts: 2,
    windowMs: 300_000,
    lockoutSeconds: 300,
    creator: 'caller',
    onSuccess: { state: 'READY', eventType: 'ok' },
    failureEventType: 'failed',
  });
  const stored = async () => {
    const [row] = (await ds.query(
      'SELECT last_step, failed_attempts, lockouts, locked_until FROM totp_factors WHERE user_id = ?',
      [USER],
    )) as Record<string, number>[];
    return row;
  };
  const events = async () =>
    (
      (await ds.query('SELECT event_type FROM events ORDER BY position')) as {
        event_type: string;
      }[]
    ).map((e) => e.event_type);

  it('consumes a matching step, resets the counter and appends the success event', async () => {
    const outcome = await strategy.attempt(check(totpCode(SECRET, NOW)));
    expect(outcome).toEqual({
      kind: 'accepted',
      event: {
        aggregateId: USER,
        resourceOwner: 'org-1',
        sequence: 1,
        createdAt: NOW,
        aggregateCreatedAt: NOW,
      },
    });
    expect(await stored()).toEqual({
      last_step: timeStep(NOW),
      failed_attempts: 0,
      lockouts: 0,
      locked_until: 0,
    });
    expect(await events()).toEqual(['ok']);
  });

  it('refuses a replay of the step accepted last, gives its attempt back and locks nothing', async () => {
    const code = totpCode(SECRET, NOW);
    await strategy.attempt(check(code));
    for (let i = 0; i < 3; i++) expect(await strategy.attempt(check(code))).toEqual({ kind: 'replayed' });
    expect(await stored()).toMatchObject({ failed_attempts: 0, locked_until: 0 });
    expect(await events()).toEqual(['ok', 'failed', 'failed', 'failed']);
  });

  it('counts wrong codes, locks on the max-th and then takes no code, not even a right one', async () => {
    expect(await strategy.attempt(check('000000'))).toEqual({ kind: 'rejected', locked: false });
    expect(await strategy.attempt(check('000000'))).toEqual({ kind: 'rejected', locked: true });
    expect(await stored()).toEqual({
      last_step: 0,
      failed_attempts: 0,
      lockouts: 1,
      locked_until: NOW + 300_000,
    });
    expect(await strategy.attempt(check(totpCode(SECRET, NOW)))).toEqual({ kind: 'unavailable' });
    expect(await events()).toEqual(['failed', 'failed']);
  });

  it('takes no code for a factor in another state', async () => {
    expect(await strategy.attempt({ ...check(totpCode(SECRET, NOW)), requiredState: 'NOT_READY' })).toEqual({
      kind: 'unavailable',
    });
    expect(await stored()).toMatchObject({ failed_attempts: 0 });
  });

  it('undoes the counted attempt when the decision fails (the secret cannot be opened)', async () => {
    undecidable = true;
    await expect(strategy.attempt(check('000000'))).rejects.toThrow('secret cannot be decrypted');
    expect(await stored()).toMatchObject({ failed_attempts: 0 });
    expect(await events()).toEqual([]);
  });
});
