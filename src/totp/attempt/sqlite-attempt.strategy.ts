import { DataSource } from 'typeorm';
import { SecretBox } from '../../common/crypto/secret-box';
import { NumberedStatement, prepareNumbered, sqliteConnection } from '../../common/database/driver-handle';
import { SqliteGroupCommit } from '../../common/database/sqlite-group-commit';
import { TransactionRunner } from '../../common/database/transaction-runner';
import { EventStore, SqliteEventAppender } from '../../common/events/event-store';
import { AttemptRequest, failurePayload, ReservedFactor } from './attempt-decision';
import { consumeSql, FactorRow, LOCK_SQL, REFUND_SQL, reserveSql } from './attempt.sql';
import { AttemptOutcome, AttemptStrategy, planAttempt, reservedFactorOf } from './attempt.strategy';

/** Params: user_id, now, window cutoff, max attempts, required state. */
const RESERVE_SQL = reserveSql({ userId: '$1', now: '$2', cutoff: '$3', max: '$4', state: '$5' });

/** Params: user_id, step, new state, now, required state. */
const CONSUME_SQL = consumeSql({ userId: '$1', step: '$2', newState: '$3', now: '$4', state: '$5' });

interface Statements {
  reserve: NumberedStatement;
  consume: NumberedStatement;
  refund: NumberedStatement;
  lock: NumberedStatement;
}

/**
 * SQLite: an attempt is one synchronous run of prepared better-sqlite3 statements, in its own
 * savepoint of a group commit (SqliteGroupCommit): the attempts that arrive together share one
 * transaction and one sync to disk. Statements are prepared on first use.
 */
export class SqliteAttemptStrategy extends AttemptStrategy {
  private readonly commits: SqliteGroupCommit;
  private readonly events: SqliteEventAppender;
  private statements?: Statements;

  constructor(
    private readonly ds: DataSource,
    runner: TransactionRunner,
    events: EventStore,
    private readonly box: SecretBox,
  ) {
    super();
    this.commits = new SqliteGroupCommit(ds, runner);
    this.events = events.sqliteAppender(sqliteConnection(ds));
  }

  attempt(request: AttemptRequest): Promise<AttemptOutcome> {
    return this.commits.run(() => this.run(request));
  }

  private run(r: AttemptRequest): AttemptOutcome {
    const s = (this.statements ??= this.prepare());
    const row = s.reserve.get(r.userId, r.now, r.now - r.windowMs, r.maxAttempts, r.requiredState) as
      FactorRow | undefined;
    if (!row) return { kind: 'unavailable' };
    const factor = reservedFactorOf(row);
    const plan = planAttempt(this.box, r, factor);
    const { consume, refund, lock } = plan;
    if (
      consume &&
      s.consume.run(r.userId, consume.step, consume.state, r.now, r.requiredState).changes === 1
    ) {
      return { kind: 'accepted', event: this.append(r, factor, consume.eventType) };
    }
    if (refund && s.refund.get(r.userId, refund.step, refund.windowStartedAt)) {
      if (plan.failureEventType) this.append(r, factor, plan.failureEventType, failurePayload(true, false));
      return { kind: 'replayed' };
    }
    const locked =
      lock !== undefined && s.lock.run(r.userId, lock.until, r.now, lock.maxAttempts).changes === 1;
    if (plan.failureEventType) this.append(r, factor, plan.failureEventType, failurePayload(false, locked));
    return { kind: 'rejected', locked };
  }

  private append(
    r: AttemptRequest,
    factor: ReservedFactor,
    eventType: string,
    payload?: Record<string, unknown>,
  ) {
    return this.events.append(
      {
        aggregateType: 'user',
        aggregateId: factor.userId,
        resourceOwner: factor.orgId,
        creator: r.creator,
        eventType,
        payload,
      },
      r.now,
    );
  }

  private prepare(): Statements {
    const db = sqliteConnection(this.ds);
    return {
      reserve: prepareNumbered(db, RESERVE_SQL),
      consume: prepareNumbered(db, CONSUME_SQL),
      refund: prepareNumbered(db, REFUND_SQL),
      lock: prepareNumbered(db, LOCK_SQL),
    };
  }
}
