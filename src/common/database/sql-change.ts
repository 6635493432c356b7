/**
 * A change that may or may not apply: one UPDATE or DELETE written with `$1..$n`, without RETURNING,
 * whose WHERE clause decides whether it applies (to at most one row). A repository names it; a caller
 * that must record it with an event hands it to EventStore.changeAndAppend, which runs both atomically.
 */
export interface SqlChange {
  sql: string;
  params: unknown[];
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
