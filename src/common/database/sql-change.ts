/**
 * A change that may or may not apply: one UPDATE or DELETE written with `$1..$n`, without RETURNING,
 * whose WHERE clause decides whether it applies (to at most one row). A repository names it; a caller
 * that must record it with an event hands it to EventStore.changeAndAppend, which runs both atomically.
 */
export interface SqlChange {
  sql: string;
  params: unknown[];
  /**
   * INSERT, UPDATE or DELETE statements that go with the change and run before it, written with the
   * same `$1..$n` (each may use any of them): on SQLite one after the other, then the change; on
   * PostgreSQL as common table expressions of the change's one statement. Whether the change applied
   * is the change's own affair: these run either way, so they are for rows the change needs (a
   * parent row its own INSERT refers to).
   */
  before?: string[];
}

/** The highest `$n` placeholder of a statement (the parameters it takes). */
export function placeholderCount(sql: string): number {
  let max = 0;
  for (const m of sql.matchAll(/\$(\d+)/g)) max = Math.max(max, Number(m[1]));
  return max;
}

/**
 * The changes of a batch of items (at most one row each), for EventStore.changeAndAppendEach:
 * - `postgres`: one UPDATE or DELETE over `unnest`ed arrays of the items' values, written with
 *   `$1..$n` (one array each), that RETURNS the `aggregate_id` of the aggregate each changed row's
 *   event belongs to;
 * - `each`: the items' changes one by one, in the items' order (SQLite).
 */
export type SqlChangeBatch = { postgres: SqlChange } | { each: SqlChange[] };
