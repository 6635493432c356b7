import { DataSource, EntityManager } from 'typeorm';
import { retryBounded, TryAgain } from '../concurrency/bounded-retry';

export type Dialect = 'sqlite' | 'postgres';

export function dialectOf(ds: DataSource | EntityManager): Dialect {
  const type = (ds instanceof DataSource ? ds : ds.connection).options.type;
  return type === 'postgres' ? 'postgres' : 'sqlite';
}

/**
 * The SQL and parameters for a dialect. SQLite's `?` are positional, so a placeholder used twice or
 * out of order (`SET a = $2 WHERE b = $1 AND c > $2`) gets its value once per occurrence.
 */
export function portableQuery(
  dialect: Dialect,
  text: string,
  params: unknown[],
): { sql: string; params: unknown[] } {
  if (dialect === 'postgres') return { sql: text, params };
  const ordered: unknown[] = [];
  const sql = text.replace(/\$(\d+)/g, (_m, n: string) => {
    ordered.push(params[Number(n) - 1]);
    return '?';
  });
  return { sql, params: ordered };
}

/** Run raw SQL on either driver. Returns rows (SELECT / RETURNING) or, for UPDATE/DELETE, `affected`. */
export async function rawQuery<T = Record<string, unknown>>(
  em: EntityManager | DataSource,
  text: string,
  params: unknown[] = [],
): Promise<{ rows: T[]; affected: number }> {
  const { sql, params: bound } = portableQuery(dialectOf(em), text, params);
  const given = em instanceof DataSource ? undefined : em.queryRunner;
  const qr = given ?? (em instanceof DataSource ? em : em.connection).createQueryRunner();
  try {
    const result = await qr.query(sql, bound, true);
    return { rows: (result.records ?? []) as T[], affected: result.affected ?? 0 };
  } finally {
    if (!given) await qr.release();
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
