import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { currentScope, requestWork } from '../http/request-scope';
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

  /**
   * Work of a request is refused once the request's deadline has passed, also after waiting its turn
   * here, so a transaction never starts for a request that was already answered 503 (see requestWork).
   */
  run<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    const scope = currentScope();
    const unit = () => requestWork(() => this.ds.transaction(work), scope);
    if (!this.serial) return unit();
    return this.exclusive(unit);
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
}
