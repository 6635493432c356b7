import { Injectable } from '@nestjs/common';
import { AsyncLocalStorage } from 'node:async_hooks';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Database } from 'better-sqlite3';
import { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { currentScope, requestWork, RequestScope } from '../http/request-scope';
import { dialectOf, rawQuery } from './db-dialect';
import { sqliteConnection } from './driver-handle';
import { TransactionBatcher } from './transaction-batcher';

/** Units per SQLite group at most: a bound on how long the earliest unit of a group waits for its COMMIT. */
export const MAX_GROUP = 64;

interface Unit {
  work: (em: EntityManager) => Promise<unknown>;
  scope: RequestScope | undefined;
  /** Runs a function in the async context of the unit's caller (its request's scope, logger, trace). */
  inContext: <R>(fn: () => R) => R;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** The state of TypeORM's SQLite query runner that says whether (and how deep) a transaction is open. */
interface TransactionState {
  isTransactionActive: boolean;
  transactionDepth: number;
}

/**
 * Runs units of work in a transaction.
 *
 * PostgreSQL: one transaction per unit, in parallel on the pool.
 *
 * SQLite: TypeORM's better-sqlite3 driver has one connection for the whole process, so transactions
 * take turns in one queue. The units that arrive while a group waits for its turn or is running share
 * one transaction (group commit): they run one after the other, each in its own savepoint, so a unit
 * that throws undoes only its own writes; after the last unit comes one COMMIT, and only then is any
 * unit of the group settled, so an answer never reports what a crash could still lose, and with
 * `synchronous=full` the disk is synced once per group instead of once per unit. A failing COMMIT (or
 * an error that ended the whole transaction) fails every unit of the group: none of it is stored.
 * A unit sees the writes of the units before it in its group, as it would have after their commits.
 */
@Injectable()
export class TransactionRunner {
  private tail: Promise<unknown> = Promise.resolve();
  private readonly serial: boolean;
  private readonly pending: Unit[] = [];
  /** A group is waiting for its turn or taking units: a unit that arrives now joins it. */
  private gathering = false;
  /** The async context the runner was built in (no request's): groups run in it, each unit in its own. */
  private readonly outside = AsyncLocalStorage.snapshot();

  constructor(@InjectDataSource() private readonly ds: DataSource) {
    this.serial = dialectOf(ds) === 'sqlite';
  }

  /**
   * Work of a request is refused once the request's deadline has passed, also after waiting its turn
   * here, so a transaction (or a unit's savepoint) never starts for a request that was already
   * answered 503 (see requestWork).
   */
  run<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    const scope = currentScope();
    if (!this.serial) return requestWork(() => this.transaction(work), scope);
    return new Promise<T>((resolve, reject) => {
      const inContext = AsyncLocalStorage.snapshot();
      this.pending.push({ work, scope, inContext, resolve: resolve as (value: unknown) => void, reject });
      this.gather();
    });
  }

  /**
   * Work that writes with one statement at most, such as EventStore.changeAndAppend (a change and its
   * event in one statement on PostgreSQL) or a single UPDATE; it may read before or after. PostgreSQL:
   * that statement is atomic by itself, so the work runs on the pool in autocommit, without the two
   * round trips of BEGIN and COMMIT. SQLite: a unit of `run` like any other (its statements are
   * several there, and the group commit costs a unit no round trip).
   */
  oneStatement<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    if (!this.serial) return requestWork(() => work(this.ds.manager), currentScope());
    return this.run(work);
  }

  /**
   * PostgreSQL: `work` in a transaction of its own on a pooled connection, with no request deadline.
   * TypeORM's `transaction` sends BEGIN and COMMIT through its query runner's `query` (logging, timing,
   * query events, result objects); here they go to the driver as every statement of ours does
   * (rawQuery), which takes about a third off what a transaction adds to the statements in it. The
   * query runner still records the open transaction, so an entity manager call inside does not open
   * one of its own, and the transaction events still reach the subscribers (the outbox wakes its
   * worker after the COMMIT).
   */
  async transaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    const qr = this.ds.createQueryRunner();
    const state = qr as unknown as TransactionState;
    try {
      await qr.broadcaster.broadcast('BeforeTransactionStart');
      await rawQuery(qr.manager, 'BEGIN');
      state.isTransactionActive = true;
      state.transactionDepth = 1;
      await qr.broadcaster.broadcast('AfterTransactionStart');
      let result: T;
      try {
        result = await work(qr.manager);
        await qr.broadcaster.broadcast('BeforeTransactionCommit');
        await rawQuery(qr.manager, 'COMMIT');
      } catch (error) {
        await qr.broadcaster.broadcast('BeforeTransactionRollback').catch(() => undefined);
        // the original error counts, not one of the ROLLBACK (a connection that broke has none)
        await rawQuery(qr.manager, 'ROLLBACK').catch(() => undefined);
        state.isTransactionActive = false;
        state.transactionDepth = 0;
        await qr.broadcaster.broadcast('AfterTransactionRollback').catch(() => undefined);
        throw error;
      }
      state.isTransactionActive = false;
      state.transactionDepth = 0;
      await qr.broadcaster.broadcast('AfterTransactionCommit');
      return result;
    } finally {
      await qr.release();
    }
  }

  /**
   * Units of work written for a batch of items: on PostgreSQL the items that arrive together share one
   * transaction; on SQLite each is a unit of `run` (see TransactionBatcher).
   */
  batched<I, O>(
    work: (em: EntityManager, items: I[]) => Promise<O[]>,
    key: (item: I) => string,
  ): TransactionBatcher<I, O> {
    return new TransactionBatcher(this.ds, this, work, key);
  }

  /**
   * Runs `work` in the same queue as the SQLite transactions of `run`: after those queued before it,
   * and before any queued after it, so work that opens its own transaction on the one connection
   * (SqliteGroupCommit) never lands inside one of them. The queue is this runner's whatever the
   * database; on PostgreSQL only such work waits in it, `run` never does.
   */
  exclusive<T>(work: () => T | Promise<T>): Promise<T> {
    const next = this.tail.then(work);
    this.tail = next.catch(() => undefined);
    return next;
  }

  private gather(): void {
    if (this.gathering) return;
    this.gathering = true;
    // after the I/O callbacks of this turn, so that the units that arrived with this one join it
    this.outside(() => setImmediate(() => void this.exclusive(() => this.runGroup())));
  }

  /**
   * One group: BEGIN, the pending units one after the other (up to MAX_GROUP, also those that arrive
   * meanwhile), COMMIT; every unit that ran is settled after that COMMIT.
   */
  private async runGroup(): Promise<void> {
    const db = sqliteConnection(this.ds);
    const qr = this.ds.createQueryRunner();
    const em = qr.manager;
    let commitOk!: () => void;
    let commitFailed!: (error: unknown) => void;
    const committed = new Promise<void>((resolve, reject) => {
      commitOk = resolve;
      commitFailed = reject;
    });
    committed.catch(() => undefined);
    try {
      try {
        await qr.startTransaction();
      } catch (error) {
        // not one unit can run: the ones waiting fail with the reason instead of waiting for ever
        for (const unit of this.pending.splice(0, MAX_GROUP)) unit.reject(error);
        throw error;
      }
      for (let n = 0; this.pending.length > 0 && n < MAX_GROUP; n++) {
        const lost = await this.runUnit(qr, em, db, this.pending.shift()!, committed);
        if (lost) throw lost.error;
      }
      this.closeGathering();
      await qr.commitTransaction();
      commitOk();
    } catch (error) {
      this.closeGathering();
      this.abandon(qr, db);
      commitFailed(error);
    } finally {
      await qr.release();
    }
  }

  /**
   * Runs one unit in a savepoint of the group's transaction, within its request's deadline (checked
   * now that its turn has come: refused, it never runs). The unit is settled once `committed` is: with
   * its own value or error when the group committed, with the group's error when it did not. Answers,
   * once the unit's own work is over, the error that ended the whole transaction, if one did.
   */
  private runUnit(
    qr: QueryRunner,
    em: EntityManager,
    db: Database,
    unit: Unit,
    committed: Promise<void>,
  ): Promise<{ error: unknown } | undefined> {
    return new Promise((workDone) => {
      const answered = unit.inContext(() =>
        requestWork(async () => {
          let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
          try {
            await qr.startTransaction();
          } catch (error) {
            workDone({ error });
            throw error;
          }
          try {
            outcome = { ok: true, value: await unit.work(em) };
            await qr.commitTransaction();
            workDone(undefined);
          } catch (error) {
            outcome = { ok: false, error };
            // some errors (SQLITE_FULL, SQLITE_IOERR…) roll the whole transaction back: nothing of it is stored
            if (!db.inTransaction) workDone({ error });
            else
              await qr.rollbackTransaction().then(
                () => workDone(undefined),
                (rollbackError: unknown) => workDone({ error: rollbackError }),
              );
          }
          // the request's deadline waits for the COMMIT too: until then the unit may be stored or not
          if (!outcome.ok) {
            await committed.catch(() => undefined);
            throw outcome.error;
          }
          await committed;
          return outcome.value;
        }, unit.scope),
      );
      answered.then(unit.resolve, unit.reject);
      // refused by the deadline: the work never started
      answered.catch(() => workDone(undefined));
    });
  }

  private closeGathering(): void {
    this.gathering = false;
    if (this.pending.length > 0) this.gather();
  }

  /** Ends the group's transaction after a failure, and TypeORM's record of it, whatever state it is in. */
  private abandon(qr: QueryRunner, db: Database): void {
    try {
      if (db.inTransaction) db.prepare('ROLLBACK').run();
    } catch {
      // nothing more to do here: the next group's BEGIN fails and says why
    }
    const state = qr as unknown as TransactionState;
    state.isTransactionActive = false;
    state.transactionDepth = 0;
  }
}
