import type { Database } from 'better-sqlite3';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { dialectOf } from './db-dialect';

/**
 * The driver objects under a TypeORM data source, for the few paths that run prepared statements
 * themselves (the TOTP code path, SQLite group commit). TypeORM does not type them publicly: this is
 * the one place that reaches into its drivers, and it refuses the wrong database instead of handing
 * out `undefined`.
 */
export function sqliteConnection(ds: DataSource): Database {
  if (dialectOf(ds) !== 'sqlite') throw new Error('not a SQLite data source');
  return (ds.driver as unknown as { databaseConnection: Database }).databaseConnection;
}

/** The pg pool TypeORM's PostgreSQL driver queries through. */
export function postgresPool(ds: DataSource): Pool {
  if (dialectOf(ds) !== 'postgres') throw new Error('not a PostgreSQL data source');
  return (ds.driver as unknown as { master: Pool }).master;
}

/** A prepared better-sqlite3 statement taking `$1..$n` parameters, as written for PostgreSQL. */
export interface NumberedStatement {
  get(...params: unknown[]): unknown;
  run(...params: unknown[]): { changes: number };
}

/**
 * Prepares SQL written with `$1..$n` placeholders on a better-sqlite3 connection. To SQLite `$n` are
 * named parameters: they are bound by number, so a placeholder may repeat or come out of order.
 */
export function prepareNumbered(db: Database, sql: string): NumberedStatement {
  const stmt = db.prepare(sql);
  // One parameter object per statement, refilled on each call: better-sqlite3 reads it synchronously
  // during the call and keeps nothing of it (these run on every check; a new object each was garbage).
  const bag: Record<number, unknown> = {};
  const named = (params: unknown[]) => {
    for (let i = 0; i < params.length; i++) bag[i + 1] = params[i];
    return bag;
  };
  return {
    get: (...params) => stmt.get(named(params)),
    run: (...params) => stmt.run(named(params)),
  };
}
