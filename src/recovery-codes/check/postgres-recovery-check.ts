import { EntityManager } from 'typeorm';
import { rawQuery } from '../../common/database/db-dialect';
import { TransactionBatcher } from '../../common/database/transaction-batcher';
import { TransactionRunner } from '../../common/database/transaction-runner';
import { AppendedEvent, EventStore } from '../../common/events/event-store';
import {
  CheckOutcome,
  CodeCheck,
  FIND_SET_SQL,
  RecoveryCheckStrategy,
  SetRow,
  refusal,
  remainingAfter,
  TakenAttempt,
  takeAttemptSql,
  takenOf,
  TakenRow,
  usedEvent,
  wrongCode,
} from './recovery-check';

/** TAKE_ATTEMPT_SQL for a batch (one check per user). Params: arrays of user_id, window cutoff, now, max attempts. */
const TAKE_ATTEMPTS_SQL = takeAttemptSql(
  { userId: 'b.user_id', cutoff: 'b.cutoff', now: 'b.at', max: 'b.max_attempts' },
  `
   FROM unnest($1::varchar[], $2::bigint[], $3::bigint[], $4::int[]) AS b(user_id, cutoff, at, max_attempts)`,
);

/** REFUND_SQL for a batch. Params: arrays of user_id, the window's start. */
const REFUND_ALL_SQL = `UPDATE recovery_code_sets s SET attempts = s.attempts - 1
   FROM unnest($1::varchar[], $2::bigint[]) AS b(user_id, window_started_at)
   WHERE s.user_id = b.user_id AND s.attempts > 0 AND s.window_started_at = b.window_started_at`;

/**
 * The codes of a batch used up, for EventStore.changeAndAppendEach (which appends each used code's
 * event in the same statement). Params: arrays of user_id and code hash, a pair per configured key.
 */
const USE_CODES_SQL = `DELETE FROM recovery_codes r USING unnest($1::varchar[], $2::varchar[]) AS b(user_id, code_hash)
   WHERE r.user_id = b.user_id AND r.code_hash = b.code_hash
   RETURNING r.user_id AS aggregate_id`;

/**
 * PostgreSQL: the checks that arrive together share one transaction (TransactionBatcher), with one
 * statement per step for all of them: the attempts taken, the right codes used up with their events,
 * their attempts given back.
 */
export class PostgresRecoveryCheck extends RecoveryCheckStrategy {
  private readonly checks: TransactionBatcher<CodeCheck, CheckOutcome>;

  constructor(
    runner: TransactionRunner,
    private readonly events: EventStore,
  ) {
    super();
    this.checks = runner.batched(
      (em, checks) => this.checkBatch(em, checks),
      (c) => c.userId,
    );
  }

  check(c: CodeCheck): Promise<CheckOutcome> {
    return this.checks.submit(c);
  }

  private async checkBatch(em: EntityManager, checks: CodeCheck[]): Promise<CheckOutcome[]> {
    const { rows } = await rawQuery<TakenRow>(em, TAKE_ATTEMPTS_SQL, [
      checks.map((c) => c.userId),
      checks.map((c) => c.now - c.windowMs),
      checks.map((c) => c.now),
      checks.map((c) => c.maxAttempts),
    ]);
    const byUser = new Map(rows.map((r) => [r.user_id, takenOf(r)]));
    const taken = checks.map((c) => byUser.get(c.userId));
    const tried = checks.flatMap((c, i) => (taken[i] ? [{ i, c, t: taken[i] }] : []));
    const pairs = tried.flatMap(({ c }) => c.hashes.map((hash) => [c.userId, hash]));
    const used = await this.events.changeAndAppendEach(
      em,
      { postgres: { sql: USE_CODES_SQL, params: [pairs.map((p) => p[0]), pairs.map((p) => p[1])] } },
      tried.map(({ c, t }) => usedEvent(c, t)),
    );
    const eventOf = new Array<AppendedEvent | undefined>(checks.length);
    tried.forEach(({ i }, n) => (eventOf[i] = used[n]));
    const refunds = tried.filter(({ i }) => eventOf[i]);
    if (refunds.length > 0)
      await rawQuery(em, REFUND_ALL_SQL, [
        refunds.map(({ c }) => c.userId),
        refunds.map(({ t }) => t.windowStartedAt),
      ]);
    const outcomes: CheckOutcome[] = [];
    for (const [i, c] of checks.entries()) {
      const t = taken[i];
      if (!t) {
        outcomes.push(refusal(c, (await rawQuery<SetRow>(em, FIND_SET_SQL, [c.userId])).rows[0]));
        continue;
      }
      const event = eventOf[i];
      outcomes.push(
        event ? { kind: 'used', event, remaining: remainingAfter(t) } : await this.wrong(em, c, t),
      );
    }
    return outcomes;
  }

  private async wrong(em: EntityManager, c: CodeCheck, t: TakenAttempt): Promise<CheckOutcome> {
    const wrong = wrongCode(c, t);
    for (const e of wrong.events) await this.events.append(em, e);
    return { kind: 'wrong', locked: wrong.locked };
  }
}
