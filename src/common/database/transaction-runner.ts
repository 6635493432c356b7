import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { dialectOf } from './db-dialect';

/**
 * Runs units of work in a transaction. TypeORM's better-sqlite3 driver has one connection for the
 * whole process, so SQLite transactions are queued here (one at a time, in arrival order);
 * PostgreSQL transactions run in parallel on the pool.
 */
@Injectable()
export class TransactionRunner {
  private tail: Promise<unknown> = Promise.resolve();
  private readonly serial: boolean;

  constructor(@InjectDataSource() private readonly ds: DataSource) {
    this.serial = dialectOf(ds) === 'sqlite';
  }

  run<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    if (!this.serial) return this.ds.transaction(work);
    const next = this.tail.then(() => this.ds.transaction(work));
    this.tail = next.catch(() => undefined);
    return next;
  }

  /**
   * Runs `work` with the database to itself, for synchronous driver-level statements (e.g. a
   * better-sqlite3 transaction on a hot path): on SQLite it is queued like `run`, so it never lands
   * inside an open TypeORM transaction on the shared connection; on PostgreSQL it runs at once.
   */
  exclusive<T>(work: () => T | Promise<T>): Promise<T> {
    if (!this.serial) return Promise.resolve().then(work);
    const next = this.tail.then(work);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
