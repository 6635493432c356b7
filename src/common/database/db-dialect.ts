import type { Database, Statement } from 'better-sqlite3';
import type { Pool, PoolClient } from 'pg';
import { DataSource, EntityManager, QueryFailedError, QueryRunnerAlreadyReleasedError } from 'typeorm';
import { retryBounded, TryAgain } from '../concurrency/bounded-retry';
import { postgresPool, sqliteConnection } from './driver-handle';

export type Dialect = 'sqlite' | 'postgres';

export function dialectOf(ds: DataSource | EntityManager): Dialect {
  const type = (ds instanceof DataSource ? ds : ds.connection).options.type;
  return type === 'postgres' ? 'postgres' : 'sqlite';
}

/**
 * SQL written with PostgreSQL's `$1..$n` placeholders, for SQLite's positional `?`: `order[i]` is the
 * index in the caller's parameters of the value the i-th `?` takes, so a placeholder used twice or out
 * of order (`SET a = $2 WHERE b = $1 AND c > $2`) gets its value once per occurrence.
 */
function positional(text: string): { sql: string; order: number[] } {
  const order: number[] = [];
  const sql = text.replace(/\$(\d+)/g, (_m, n: string) => {
    order.push(Number(n) - 1);
    return '?';
  });
  return { sql, order };
}

/** The SQL and parameters for a dialect (see `positional` for SQLite). */
export function portableQuery(
  dialect: Dialect,
  text: string,
  params: unknown[],
): { sql: string; params: unknown[] } {
  if (dialect === 'postgres') return { sql: text, params };
  const { sql, order } = positional(text);
  return { sql, params: order.map((i) => params[i]) };
}

export interface RawResult<T> {
  rows: T[];
  affected: number;
}

/**
 * Run raw SQL (written with `$1..$n`) on either driver. Returns rows (SELECT / RETURNING) and
 * `affected`: the rows an INSERT/UPDATE/DELETE changed (on PostgreSQL the row count of any statement).
 * Inside a transaction pass its EntityManager: the statement runs on the transaction's connection.
 *
 * The statement goes to the driver itself, not through TypeORM's query runner (its logging and
 * subscriber hooks, unused here, cost more than a prepared statement takes to run):
 * - SQLite: one prepared statement per SQL text and connection, kept (`sqliteStatement`); booleans are
 *   bound as 0/1, as TypeORM binds them;
 * - PostgreSQL: a named prepared statement per SQL text (`statementName`), so a connection parses it
 *   once; on the transaction's client, or on a client of the pool for that one statement.
 * Errors come as TypeORM's QueryFailedError around the driver's, as before: `code` and `driverError`
 * are what isUniqueViolation and the 503 classification (dependency-unavailable.ts) read.
 */
export async function rawQuery<T = Record<string, unknown>>(
  em: EntityManager | DataSource,
  text: string,
  params: unknown[] = [],
): Promise<RawResult<T>> {
  const ds = em instanceof DataSource ? em : em.connection;
  const qr = em instanceof DataSource ? undefined : em.queryRunner;
  if (qr?.isReleased) throw new QueryRunnerAlreadyReleasedError();
  if (dialectOf(ds) === 'sqlite') return sqliteQuery<T>(sqliteConnection(ds), text, params);
  if (qr) {
    const held = (qr as unknown as { databaseConnection?: PoolClient }).databaseConnection;
    return postgresQuery<T>(held ?? ((await qr.connect()) as PoolClient), text, params);
  }
  return postgresPoolQuery<T>(postgresPool(ds), text, params);
}

export interface SqliteStatement {
  stmt: Statement;
  /** Index into the caller's parameters for each `?`, in order. */
  order: number[];
}

/** Statements kept per connection at most; past it the oldest is dropped (the hot paths use a few dozen). */
const SQLITE_STATEMENTS_PER_CONNECTION = 500;
const sqliteStatements = new WeakMap<Database, Map<string, SqliteStatement>>();

/** The connection's prepared statement for `text`, prepared on first use. */
export function sqliteStatement(db: Database, text: string): SqliteStatement {
  let cache = sqliteStatements.get(db);
  if (!cache) sqliteStatements.set(db, (cache = new Map()));
  let entry = cache.get(text);
  if (!entry) {
    const { sql, order } = positional(text);
    entry = { stmt: db.prepare(sql), order };
    if (cache.size >= SQLITE_STATEMENTS_PER_CONNECTION) cache.delete(cache.keys().next().value as string);
    cache.set(text, entry);
  }
  return entry;
}

/**
 * `rawQuery` on a SQLite connection, synchronously: for work that runs as a unit of SqliteGroupCommit
 * (which takes synchronous statements only).
 */
export function sqliteQuery<T>(db: Database, text: string, params: unknown[] = []): RawResult<T> {
  let bound: unknown[] = params;
  try {
    const { stmt, order } = sqliteStatement(db, text);
    bound = order.map((i) => {
      const v = params[i];
      return typeof v === 'boolean' ? (v ? 1 : 0) : v;
    });
    if (stmt.reader) return { rows: stmt.all(...bound) as T[], affected: 0 };
    return { rows: [], affected: stmt.run(...bound).changes };
  } catch (e) {
    throw new QueryFailedError(text, bound, e as Error);
  }
}

/** Texts that get a named (server-side prepared) statement at most; later ones run unnamed. */
const NAMED_STATEMENTS = 1000;
const statementNames = new Map<string, string>();

/**
 * The name of the PostgreSQL prepared statement for `text`: the same for the life of the process, and
 * never the same for two texts (pg refuses a name prepared on a connection with another text).
 * Statements without parameters run unnamed: they may hold several statements, which only the simple
 * protocol accepts.
 */
export function statementName(text: string, params: unknown[]): string | undefined {
  if (params.length === 0) return undefined;
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < NAMED_STATEMENTS) {
    name = `raw_${statementNames.size + 1}`;
    statementNames.set(text, name);
  }
  return name;
}

async function postgresQuery<T>(client: PoolClient, text: string, params: unknown[]): Promise<RawResult<T>> {
  try {
    const result = await client.query({ name: statementName(text, params), text, values: params });
    return { rows: (result.rows ?? []) as T[], affected: result.rowCount ?? 0 };
  } catch (e) {
    throw new QueryFailedError(text, params, e as Error);
  }
}

/** Clients that have an 'error' listener of ours (see postgresPoolQuery). */
const guarded = new WeakSet<PoolClient>();
const ignoreClientError = () => undefined;

/**
 * One statement on a client of the pool. Not `pool.query`: it closes the connection after any error,
 * a unique violation included. A connection that broke is dropped by the pool on release (it is no
 * longer queryable); a client checked out has no listener of the pool's for 'error', so one of ours
 * keeps such an error from becoming an uncaught exception (the statement fails with it anyway).
 */
async function postgresPoolQuery<T>(pool: Pool, text: string, params: unknown[]): Promise<RawResult<T>> {
  const client = await pool.connect();
  if (!guarded.has(client)) {
    client.on('error', ignoreClientError);
    guarded.add(client);
  }
  try {
    return await postgresQuery<T>(client, text, params);
  } finally {
    client.release();
  }
}

/** Whether an error is a unique-constraint violation on either driver. */
export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; driverError?: { code?: string } };
  const code = err?.driverError?.code ?? err?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * Runs a single PostgreSQL statement again when it lost a deadlock (40P01): the statement was rolled
 * back whole, so running it again is safe. Other errors, and the last attempt's, go to the caller.
 */
export function retryOnDeadlock<T>(statement: () => Promise<T>, attempts = 3): Promise<T> {
  return retryBounded({
    rounds: attempts,
    attempt: () =>
      statement().catch((e: unknown) => {
        if ((e as { code?: string }).code !== '40P01') throw e;
        return new TryAgain(e);
      }),
    giveUp: (lastError) => {
      throw lastError;
    },
  });
}
