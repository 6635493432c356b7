import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Database, Transaction } from 'better-sqlite3';
import { DataSource, EntityManager } from 'typeorm';
import { currentScope, requestWork } from '../http/request-scope';
import { dialectOf } from './db-dialect';
import { MicroBatcher } from './micro-batcher';

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Units per group commit at most: a bound on how long one commit holds the event loop. */
export const MAX_GROUP = 128;

/**
 * Runs units of work in a transaction. TypeORM's better-sqlite3 driver has one connection for the
 * whole process, so SQLite transactions are queued here (one at a time, in arrival order);
 * PostgreSQL transactions run in parallel on the pool.
 */
@Injectable()
export class TransactionRunner {
  private tail: Promise<unknown> = Promise.resolve();
  private readonly serial: boolean;
  private readonly groups = new MicroBatcher<() => unknown, Outcome>(
    (units) => this.queue(() => this.commitGroup(units)),
    { maxSize: MAX_GROUP },
  );
  private groupTx?: Transaction<(units: (() => unknown)[]) => Outcome[]>;

  constructor(@InjectDataSource() private readonly ds: DataSource) {
    this.serial = dialectOf(ds) === 'sqlite';
  }

  /**
   * Work of a request is refused once the request's deadline has passed, also after waiting its turn
   * here, so a transaction never starts for a request that was already answered 503 (see requestWork).
   */
  run<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    const scope = currentScope();
    const unit = () => requestWork(() => this.ds.transaction(work), scope);
    if (!this.serial) return unit();
    return this.queue(unit);
  }

  /**
   * Group commit, for synchronous driver-level statements on a SQLite hot path. Units that arrive in
   * the same turn of the event loop run in one `BEGIN IMMEDIATE` transaction, each in its own
   * savepoint: a unit that throws undoes only its own writes and rejects with its error. Every unit
   * is settled only after the one COMMIT, so an answer never reports what a crash could still lose,
   * and the disk is synced once per group instead of once per unit. Groups queue behind TypeORM
   * transactions like `run`, so they never land inside one on the shared connection.
   * On PostgreSQL `work` runs at once.
   */
  async grouped<T>(work: () => T): Promise<T> {
    if (!this.serial) return work();
    const outcome = await this.groups.submit(work);
    if (!outcome.ok) throw outcome.error;
    return outcome.value as T;
  }

  private queue<T>(work: () => T | Promise<T>): Promise<T> {
    const next = this.tail.then(work);
    this.tail = next.catch(() => undefined);
    return next;
  }

  /** Throws (failing the whole group) when BEGIN or COMMIT fails or a unit's error ended the transaction. */
  private commitGroup(units: (() => unknown)[]): Outcome[] {
    if (!this.groupTx) {
      const db = (this.ds.driver as unknown as { databaseConnection: Database }).databaseConnection;
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
