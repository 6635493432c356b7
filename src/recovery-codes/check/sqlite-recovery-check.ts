import type { Database } from 'better-sqlite3';
import { DataSource } from 'typeorm';
import { sqliteQuery } from '../../common/database/db-dialect';
import { sqliteConnection } from '../../common/database/driver-handle';
import { SqliteGroupCommit } from '../../common/database/sqlite-group-commit';
import { TransactionRunner } from '../../common/database/transaction-runner';
import { EventStore, SqliteEventAppender } from '../../common/events/event-store';
import {
  CheckOutcome,
  CodeCheck,
  FIND_SET_SQL,
  RecoveryCheckStrategy,
  SetRow,
  refusal,
  REFUND_SQL,
  remainingAfter,
  TAKE_ATTEMPT_SQL,
  takenOf,
  TakenRow,
  useCodeSql,
  usedEvent,
  wrongCode,
} from './recovery-check';

/**
 * SQLite: a check is one synchronous run of prepared statements on the driver, in its own savepoint
 * of a group commit (SqliteGroupCommit), as the TOTP `_check` is: the checks that arrive together
 * share one transaction and one sync to disk, and no check pays for the ORM's transaction machinery.
 */
export class SqliteRecoveryCheck extends RecoveryCheckStrategy {
  private readonly db: Database;
  private readonly commits: SqliteGroupCommit;
  private readonly events: SqliteEventAppender;

  constructor(ds: DataSource, runner: TransactionRunner, events: EventStore) {
    super();
    this.db = sqliteConnection(ds);
    this.commits = new SqliteGroupCommit(ds, runner);
    this.events = events.sqliteAppender(this.db);
  }

  check(c: CodeCheck): Promise<CheckOutcome> {
    return this.commits.run(() => this.checkOne(c));
  }

  private checkOne(c: CodeCheck): CheckOutcome {
    const [row] = sqliteQuery<TakenRow>(this.db, TAKE_ATTEMPT_SQL, [
      c.userId,
      c.now - c.windowMs,
      c.now,
      c.maxAttempts,
    ]).rows;
    if (!row) return refusal(c, sqliteQuery<SetRow>(this.db, FIND_SET_SQL, [c.userId]).rows[0]);
    const taken = takenOf(row);
    if (sqliteQuery(this.db, useCodeSql(c.hashes.length), [c.userId, ...c.hashes]).affected === 1) {
      sqliteQuery(this.db, REFUND_SQL, [c.userId, taken.windowStartedAt]);
      const event = this.events.append(usedEvent(c, taken), c.now);
      return { kind: 'used', event, remaining: remainingAfter(taken) };
    }
    const wrong = wrongCode(c, taken);
    for (const e of wrong.events) this.events.append(e, c.now);
    return { kind: 'wrong', locked: wrong.locked };
  }
}
