import type { Database, Transaction } from 'better-sqlite3';
import { DataSource } from 'typeorm';
import { sqliteConnection } from './driver-handle';
import { MicroBatcher } from './micro-batcher';
import { TransactionRunner } from './transaction-runner';

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Units per group commit at most: a bound on how long one commit holds the event loop. */
const MAX_GROUP = 128;

/**
 * Group commit, for synchronous driver-level statements on a SQLite hot path. Units that arrive in
 * the same turn of the event loop run in one `BEGIN IMMEDIATE` transaction, each in its own
 * savepoint: a unit that throws undoes only its own writes and rejects with its error. Every unit
 * is settled only after the one COMMIT, so an answer never reports what a crash could still lose,
 * and the disk is synced once per group instead of once per unit. Groups wait their turn on the one
 * connection behind the TypeORM transactions of the TransactionRunner (and those behind them), so
 * they never land inside one.
 *
 * SQLite only: constructing it on PostgreSQL throws. There, concurrent transactions run in parallel on
 * the pool and a hot path batches its statements instead (MicroBatcher, one statement per batch).
 */
export class SqliteGroupCommit {
  private readonly db: Database;
  private readonly groups = new MicroBatcher<() => unknown, Outcome>(
    (units) => this.runner.exclusive(() => this.commitGroup(units)),
    { maxSize: MAX_GROUP },
  );
  private groupTx?: Transaction<(units: (() => unknown)[]) => Outcome[]>;

  constructor(
    ds: DataSource,
    private readonly runner: TransactionRunner,
  ) {
    this.db = sqliteConnection(ds);
  }

  /** Runs `work` (synchronous statements on the connection) in the next group; settles after its COMMIT. */
  async run<T>(work: () => T): Promise<T> {
    const outcome = await this.groups.submit(work);
    if (!outcome.ok) throw outcome.error;
    return outcome.value as T;
  }

  /** Throws (failing the whole group) when BEGIN or COMMIT fails or a unit's error ended the transaction. */
  private commitGroup(units: (() => unknown)[]): Outcome[] {
    if (!this.groupTx) {
      const db = this.db;
      // called inside the group's transaction, better-sqlite3 runs it in a savepoint
      const inSavepoint = db.transaction((work: () => unknown) => work());
      this.groupTx = db.transaction((group: (() => unknown)[]): Outcome[] =>
        group.map((work): Outcome => {
          try {
            return { ok: true, value: inSavepoint(work) };
          } catch (error) {
            // some errors (SQLITE_FULL, SQLITE_IOERR…) roll the whole transaction back: nothing of it is stored
            if (!db.inTransaction) throw error;
            return { ok: false, error };
          }
        }),
      );
    }
    return this.groupTx.immediate(units);
  }
}
