import type { Database } from 'better-sqlite3';
import { DataSource } from 'typeorm';
import { sqliteConnection } from '../database/driver-handle';
import { SqliteGroupCommit } from '../database/sqlite-group-commit';
import { TransactionRunner } from '../database/transaction-runner';
import { EventStore, SqliteEventAppender } from './event-store';

/**
 * What a SQLite hot-path strategy works with: the driver's connection, the group commit its units run
 * in (SqliteGroupCommit: the units that arrive together share one transaction and one sync to disk,
 * each in its own savepoint) and an event appender on the same connection.
 */
export class SqliteUnits {
  readonly db: Database;
  readonly events: SqliteEventAppender;
  private readonly commits: SqliteGroupCommit;

  constructor(ds: DataSource, runner: TransactionRunner, events: EventStore) {
    this.db = sqliteConnection(ds);
    this.commits = new SqliteGroupCommit(ds, runner);
    this.events = events.sqliteAppender(this.db);
  }

  /** Runs `work` (synchronous statements on `db`) as a unit of the next group; settles after its COMMIT. */
  run<T>(work: () => T): Promise<T> {
    return this.commits.run(work);
  }
}
