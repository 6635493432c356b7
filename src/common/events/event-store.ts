import { Injectable, Optional } from '@nestjs/common';
import type { Database } from 'better-sqlite3';
import { EntityManager } from 'typeorm';
import { dialectOf, rawQuery } from '../database/db-dialect';
import { NumberedStatement, prepareNumbered } from '../database/driver-handle';
import { placeholderCount, SqlChange, SqlChangeBatch } from '../database/sql-change';
import { Clock } from '../time/clock';
import { INSERT_OUTBOX_SQL, OUTBOX_COLUMNS, Outbox } from './outbox';

export interface NewEvent {
  aggregateType: string;
  aggregateId: string;
  /** The organisation that owns the aggregate. */
  resourceOwner: string;
  /** The user who caused the change (the caller), or 'SYSTEM'. */
  creator: string;
  eventType: string;
  payload?: Record<string, unknown>;
}

/** What the aggregate row says about an object: for the `details` of read answers. */
export interface AggregateInfo {
  sequence: number;
  createdAt: number;
  changedAt: number;
  resourceOwner: string;
}

/** What an append yields: enough to build every flavour of `details`. */
export interface AppendedEvent {
  aggregateId: string;
  resourceOwner: string;
  sequence: number;
  /** When this event was written (epoch ms). */
  createdAt: number;
  /** When the aggregate's first event was written (epoch ms). */
  aggregateCreatedAt: number;
}

/*
 * Every statement that appends events is built here from the pieces below, so the log is written the
 * same way on every path: EventStore.append (TypeORM, in the caller's transaction), SqliteEventAppender
 * (prepared statements inside a synchronous SQLite transaction) and appendForEachRowSql (PostgreSQL,
 * many events in one statement).
 */
const AGGREGATE_COLUMNS = 'aggregate_type, aggregate_id, sequence, resource_owner, created_at, changed_at';
/**
 * An aggregate's first event gets sequence 1 (the row inserted); every later one the next sequence,
 * from one atomic upsert, which also serialises concurrent writers of one aggregate. `count` events
 * appended together take the next `count` sequences.
 */
const nextSequence = (count = 1) => `ON CONFLICT (aggregate_type, aggregate_id)
       DO UPDATE SET sequence = aggregates.sequence + ${count}, changed_at = excluded.changed_at, resource_owner = excluded.resource_owner`;
const NEXT_SEQUENCE = nextSequence();
const EVENT_COLUMNS =
  'aggregate_type, aggregate_id, sequence, event_type, resource_owner, creator, payload, created_at';

/**
 * Params: aggregate_type, aggregate_id, resource_owner, created_at, changed_at → RETURNING sequence, created_at
 * (the aggregate's).
 */
const APPEND_AGGREGATE_SQL = `INSERT INTO aggregates (${AGGREGATE_COLUMNS})
       VALUES ($1, $2, 1, $3, $4, $5)
       ${NEXT_SEQUENCE}
       RETURNING sequence, created_at`;

/** Params: aggregate_type, aggregate_id, sequence, event_type, resource_owner, creator, payload (JSON text or null), created_at. */
const INSERT_EVENT_SQL = `INSERT INTO events (${EVENT_COLUMNS})
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`;

const payloadText = (e: NewEvent): string | null => (e.payload ? JSON.stringify(e.payload) : null);

/**
 * PostgreSQL: one statement that appends events to one aggregate (aggregate upsert, event rows and, for
 * those with a notification, outbox rows) and, with `change`, only if that change applied: the change
 * runs as the first common table expression and gates the rest. One round trip, atomic without a
 * transaction. `outboxes` has one flag per event: whether it has an outbox row. The params follow the
 * change's: aggregate_type, aggregate_id, resource_owner, created_at, then for each event event_type,
 * creator, payload (JSON text or null) and, with an outbox row, the notification's kind. Returns the
 * aggregate's sequence (the last event's) and created_at, or no row when the change did not apply.
 */
function appendSql(change: SqlChange | undefined, outboxes: boolean[]): string {
  const pieces = change ? [...(change.before ?? []), change.sql] : [];
  const k = Math.max(0, ...pieces.map(placeholderCount));
  const p = (i: number) => `$${k + i}`;
  const [type, id, owner, at] = [1, 2, 3, 4].map(p);
  const count = outboxes.length;
  const rows: string[] = [];
  const notices: string[] = [];
  let next = 5;
  outboxes.forEach((outbox, i) => {
    const [eventType, creator, payload] = [next, next + 1, next + 2].map(p);
    rows.push(`(${i + 1 - count}, ${eventType}::varchar, ${creator}::varchar, ${payload}::text)`);
    if (outbox) notices.push(`(${p(next + 3)}::varchar, ${eventType}::varchar, ${payload}::text)`);
    next += outbox ? 4 : 3;
  });
  const before = (change?.before ?? []).map((sql, i) => `before_${i + 1} AS (${sql}), `).join('');
  const changed = change ? `${before}changed AS (${change.sql} RETURNING 1), ` : '';
  const gate = change ? ' WHERE EXISTS (SELECT 1 FROM changed)' : '';
  const outboxCte = notices.length
    ? `, notified AS (
     INSERT INTO notification_outbox (${OUTBOX_COLUMNS})
     SELECT ${id}, ${owner}, n.kind, n.event_type, n.payload, ${at}
     FROM appended, (VALUES ${notices.join(', ')}) AS n(kind, event_type, payload)
   )`
    : '';
  return `WITH ${changed}appended AS (
     INSERT INTO aggregates (${AGGREGATE_COLUMNS})
     SELECT ${type}::varchar, ${id}::varchar, ${count}, ${owner}::varchar, ${at}::bigint, ${at}::bigint${gate}
     ${nextSequence(count)}
     RETURNING sequence, created_at
   ), appended_event AS (
     INSERT INTO events (${EVENT_COLUMNS})
     SELECT ${type}, ${id}, a.sequence + e.offset_from_last, e.event_type, ${owner}, e.creator, e.payload, ${at}
     FROM appended a, (VALUES ${rows.join(', ')}) AS e(offset_from_last, event_type, creator, payload)
   )${outboxCte}
   SELECT sequence, created_at FROM appended`;
}

/** The composed statements, per change text and outbox flags (built once each). */
const appendStatements = new Map<string, string>();

function appendStatement(change: SqlChange | undefined, outboxes: boolean[]): string {
  const texts = change ? [...(change.before ?? []), change.sql] : [];
  const key = `${outboxes.map((o) => (o ? 1 : 0)).join('')}:${texts.length}:${texts.join('\u0000')}`;
  let sql = appendStatements.get(key);
  if (sql === undefined) appendStatements.set(key, (sql = appendSql(change, outboxes)));
  return sql;
}

/**
 * PostgreSQL: one statement that appends an event for each row of `source`, the last of the statement's
 * common table expressions `ctes` (written without the leading WITH). `source` has at most one row per
 * aggregate and the columns aggregate_type, aggregate_id, resource_owner, event_type, creator and
 * created_at; with `notify`, also payload (JSON text or null) and kind (the outbox notification's, or
 * null for none), and each row with a kind gets its outbox row too. The statement returns one row per
 * appended event, read by `appendedEventOf`. One round trip and atomic with what the CTEs themselves
 * change.
 */
export function appendForEachRowSql(ctes: string, source: string, notify = false): string {
  const outbox = notify
    ? `, notified AS (
     INSERT INTO notification_outbox (${OUTBOX_COLUMNS})
     SELECT s.aggregate_id, s.resource_owner, s.kind, s.event_type, s.payload, s.created_at
     FROM ${source} s WHERE s.kind IS NOT NULL
   )`
    : '';
  return `WITH ${ctes}, appended AS (
     INSERT INTO aggregates (${AGGREGATE_COLUMNS})
     SELECT s.aggregate_type, s.aggregate_id, 1, s.resource_owner, s.created_at, s.created_at FROM ${source} s
     ${NEXT_SEQUENCE}
     RETURNING aggregate_type, aggregate_id, resource_owner, sequence, created_at
   )${outbox}
   INSERT INTO events (${EVENT_COLUMNS})
   SELECT a.aggregate_type, a.aggregate_id, a.sequence, s.event_type, a.resource_owner, s.creator,
     ${notify ? 's.payload' : 'NULL'}, s.created_at
   FROM appended a JOIN ${source} s ON s.aggregate_type = a.aggregate_type AND s.aggregate_id = a.aggregate_id
   RETURNING aggregate_id, resource_owner, sequence, created_at,
     (SELECT a.created_at FROM appended a
       WHERE a.aggregate_type = events.aggregate_type AND a.aggregate_id = events.aggregate_id) AS aggregate_created_at`;
}

/**
 * PostgreSQL: `change` (a SqlChangeBatch's, which returns the aggregate_id of each event to write) and
 * the events of the rows it changed, with their outbox rows, in one statement. The events' params
 * follow the change's: arrays of aggregate_type, aggregate_id, resource_owner, event_type, creator,
 * payload, outbox kind; then created_at.
 */
function changeEachSql(change: string): string {
  const k = placeholderCount(change);
  const p = (i: number) => `$${k + i}`;
  return appendForEachRowSql(
    `changed AS (${change}), wanted AS (
     SELECT w.*, ${p(8)}::bigint AS created_at
     FROM unnest(${p(1)}::varchar[], ${p(2)}::varchar[], ${p(3)}::varchar[], ${p(4)}::varchar[], ${p(5)}::varchar[],
       ${p(6)}::text[], ${p(7)}::varchar[])
       AS w(aggregate_type, aggregate_id, resource_owner, event_type, creator, payload, kind)
     WHERE w.aggregate_id IN (SELECT aggregate_id FROM changed)
   )`,
    'wanted',
    true,
  );
}

/** The composed statements of changeAndAppendEach, per change text (built once each). */
const changeEachStatements = new Map<string, string>();

/** A row returned by an `appendForEachRowSql` statement (node-pg returns BIGINT as a string). */
export interface AppendedRow {
  aggregate_id: string;
  resource_owner: string;
  sequence: number | string;
  created_at: number | string;
  aggregate_created_at: number | string;
}

export function appendedEventOf(row: AppendedRow): AppendedEvent {
  return {
    aggregateId: row.aggregate_id,
    resourceOwner: row.resource_owner,
    sequence: Number(row.sequence),
    createdAt: Number(row.created_at),
    aggregateCreatedAt: Number(row.aggregate_created_at),
  };
}

/** An event of a user's aggregate (owned by the user's organisation), caused by `caller`. */
export function userEvent(
  caller: { userId: string },
  user: { id: string; orgId: string },
  eventType: string,
  payload?: Record<string, unknown>,
): NewEvent {
  return {
    aggregateType: 'user',
    aggregateId: user.id,
    resourceOwner: user.orgId,
    creator: caller.userId,
    eventType,
    payload,
  };
}

function appended(
  e: NewEvent,
  now: number,
  sequence: number,
  aggregateCreatedAt: number | string,
): AppendedEvent {
  return {
    aggregateId: e.aggregateId,
    resourceOwner: e.resourceOwner,
    sequence,
    createdAt: now,
    aggregateCreatedAt: Number(aggregateCreatedAt),
  };
}

/**
 * Appends synchronously through prepared statements on a better-sqlite3 connection, for a hot path
 * that runs inside a synchronous SQLite transaction (SqliteGroupCommit). Statements are prepared on
 * first use.
 */
export class SqliteEventAppender {
  private statements?: { aggregate: NumberedStatement; event: NumberedStatement; outbox: NumberedStatement };

  constructor(
    private readonly db: Database,
    /** Writes the security notification an event asks for, in the same transaction (as EventStore.append). */
    private readonly outbox?: Outbox,
  ) {}

  /** Appends `e` written at `now` (epoch ms). */
  append(e: NewEvent, now: number): AppendedEvent {
    this.statements ??= {
      aggregate: prepareNumbered(this.db, APPEND_AGGREGATE_SQL),
      event: prepareNumbered(this.db, INSERT_EVENT_SQL),
      outbox: prepareNumbered(this.db, INSERT_OUTBOX_SQL),
    };
    const agg = this.statements.aggregate.get(e.aggregateType, e.aggregateId, e.resourceOwner, now, now) as {
      sequence: number;
      created_at: number;
    };
    this.statements.event.run(
      e.aggregateType,
      e.aggregateId,
      agg.sequence,
      e.eventType,
      e.resourceOwner,
      e.creator,
      payloadText(e),
      now,
    );
    const outboxRow = this.outbox?.rowFor(e, now);
    if (outboxRow) {
      this.statements.outbox.run(...outboxRow);
      this.outbox?.committed();
    }
    return appended(e, now, agg.sequence, agg.created_at);
  }
}

/**
 * Appends events inside the caller's transaction. The per-aggregate sequence comes from one
 * atomic upsert on `aggregates`, which also serialises concurrent writers of one aggregate.
 */
@Injectable()
export class EventStore {
  constructor(
    private readonly clock: Clock,
    /** Writes the security notification an event asks for, in the same transaction. */
    @Optional() private readonly outbox?: Outbox,
  ) {}

  /** An appender for a synchronous SQLite hot path on `db`, writing notifications as `append` does. */
  sqliteAppender(db: Database): SqliteEventAppender {
    return new SqliteEventAppender(db, this.outbox);
  }

  /** Appends an event of a user's aggregate (owned by the user's organisation), caused by `caller`. */
  appendUserEvent(
    em: EntityManager,
    caller: { userId: string },
    user: { id: string; orgId: string },
    eventType: string,
    payload?: Record<string, unknown>,
  ): Promise<AppendedEvent> {
    return this.append(em, userEvent(caller, user, eventType, payload));
  }

  async append(em: EntityManager, e: NewEvent): Promise<AppendedEvent> {
    const now = this.clock.now();
    if (dialectOf(em) === 'postgres') return (await this.appendOnPostgres(em, undefined, [e], now))!;
    const { rows } = await rawQuery<{ sequence: number | string; created_at: number | string }>(
      em,
      APPEND_AGGREGATE_SQL,
      [e.aggregateType, e.aggregateId, e.resourceOwner, now, now],
    );
    const sequence = Number(rows[0].sequence);
    await rawQuery(em, INSERT_EVENT_SQL, [
      e.aggregateType,
      e.aggregateId,
      sequence,
      e.eventType,
      e.resourceOwner,
      e.creator,
      payloadText(e),
      now,
    ]);
    await this.outbox?.write(em, e, now);
    return appended(e, now, sequence, rows[0].created_at);
  }

  /**
   * Applies `change` and, only if it applied, appends `e` (one event, or several of one aggregate in
   * order), atomically: the events record exactly the changes that happened. PostgreSQL: one
   * statement, so `em` may be outside a transaction (the DataSource's manager). SQLite: several
   * statements, so `em` must be a transaction's. Answers the (last) event, or undefined when the
   * change did not apply (nothing written).
   */
  async changeAndAppend(
    em: EntityManager,
    change: SqlChange,
    e: NewEvent | NewEvent[],
  ): Promise<AppendedEvent | undefined> {
    const list = Array.isArray(e) ? e : [e];
    const [first] = list;
    if (
      list.some(
        (one) =>
          one.aggregateType !== first.aggregateType ||
          one.aggregateId !== first.aggregateId ||
          one.resourceOwner !== first.resourceOwner,
      )
    )
      throw new Error('events appended together belong to one aggregate');
    if (dialectOf(em) === 'postgres') return this.appendOnPostgres(em, change, list, this.clock.now());
    if (!em.queryRunner?.isTransactionActive)
      throw new Error('changeAndAppend on SQLite needs a transaction');
    for (const sql of change.before ?? []) await rawQuery(em, sql, change.params);
    const { affected } = await rawQuery(em, change.sql, change.params);
    if (affected === 0) return undefined;
    let last: AppendedEvent | undefined;
    for (const one of list) last = await this.append(em, one);
    return last;
  }

  /**
   * For a batch of items, one event each (of distinct aggregates): applies each item's change and, for
   * exactly the items whose change applied, appends its event, atomically. PostgreSQL: one statement
   * for the whole batch (`change.postgres`). SQLite: changeAndAppend per item, so `em` must be a
   * transaction's. One answer per event, in order: undefined where the change did not apply.
   */
  async changeAndAppendEach(
    em: EntityManager,
    change: SqlChangeBatch,
    events: NewEvent[],
  ): Promise<(AppendedEvent | undefined)[]> {
    if ('each' in change) {
      const out: (AppendedEvent | undefined)[] = [];
      for (let i = 0; i < events.length; i++)
        out.push(await this.changeAndAppend(em, change.each[i], events[i]));
      return out;
    }
    const now = this.clock.now();
    const kinds = events.map((e) => this.outbox?.kindOf(e) ?? null);
    let sql = changeEachStatements.get(change.postgres.sql);
    if (sql === undefined)
      changeEachStatements.set(change.postgres.sql, (sql = changeEachSql(change.postgres.sql)));
    const { rows } = await rawQuery<AppendedRow>(em, sql, [
      ...change.postgres.params,
      events.map((e) => e.aggregateType),
      events.map((e) => e.aggregateId),
      events.map((e) => e.resourceOwner),
      events.map((e) => e.eventType),
      events.map((e) => e.creator),
      events.map(payloadText),
      kinds,
      now,
    ]);
    const appendedRows = new Map(rows.map((r) => [r.aggregate_id, r]));
    const out = events.map((e) => {
      const row = appendedRows.get(e.aggregateId);
      return row && appendedEventOf(row);
    });
    if (out.some((a, i) => a !== undefined && kinds[i] !== null)) this.outbox!.wrote(em);
    return out;
  }

  /** One statement (appendSql) for events of one aggregate; undefined when `change` did not apply. */
  private async appendOnPostgres(
    em: EntityManager,
    change: SqlChange | undefined,
    events: NewEvent[],
    now: number,
  ): Promise<AppendedEvent | undefined> {
    const [first] = events;
    const last = events[events.length - 1];
    const kinds = events.map((e) => this.outbox?.kindOf(e));
    const params: unknown[] = [
      ...(change?.params ?? []),
      first.aggregateType,
      first.aggregateId,
      first.resourceOwner,
      now,
    ];
    events.forEach((e, i) => {
      params.push(e.eventType, e.creator, payloadText(e));
      if (kinds[i] !== undefined) params.push(kinds[i]);
    });
    const { rows } = await rawQuery<{ sequence: number | string; created_at: number | string }>(
      em,
      appendStatement(
        change,
        kinds.map((kind) => kind !== undefined),
      ),
      params,
    );
    if (!rows[0]) return undefined;
    if (kinds.some((kind) => kind !== undefined)) this.outbox!.wrote(em);
    return appended(last, now, Number(rows[0].sequence), rows[0].created_at);
  }

  /** The aggregate's sequence and dates, or undefined when it has no event yet. */
  async aggregate(em: EntityManager, type: string, id: string): Promise<AggregateInfo | undefined> {
    const { rows } = await rawQuery<{
      sequence: number | string;
      created_at: number | string;
      changed_at: number | string;
      resource_owner: string;
    }>(
      em,
      `SELECT sequence, created_at, changed_at, resource_owner FROM aggregates WHERE aggregate_type = $1 AND aggregate_id = $2`,
      [type, id],
    );
    const r = rows[0];
    if (!r) return undefined;
    return {
      sequence: Number(r.sequence),
      createdAt: Number(r.created_at),
      changedAt: Number(r.changed_at),
      resourceOwner: r.resource_owner,
    };
  }
}
