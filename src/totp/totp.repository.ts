import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Database, Statement } from 'better-sqlite3';
import type { Pool } from 'pg';
import { DataSource, EntityManager } from 'typeorm';
import { dialectOf, rawQuery, retryOnDeadlock } from '../common/database/db-dialect';
import { MicroBatcher } from '../common/database/micro-batcher';
import { mayBeOneRowsFault } from '../common/database/pg-errors';
import { TransactionRunner } from '../common/database/transaction-runner';
import {
  APPEND_AGGREGATE_SQL,
  AppendedEvent,
  EventStore,
  INSERT_EVENT_SQL,
} from '../common/events/event-store';
import { INSERT_OUTBOX_SQL, Outbox } from '../common/events/outbox';
import { TotpFactorEntity, TotpState } from './entities/totp-factor.entity';

/** A factor as the service reads it. */
export interface TotpFactor {
  userId: string;
  orgId: string;
  state: TotpState;
  secretSealed: string;
  lastStep: number;
  failedAttempts: number;
  windowStartedAt: number;
  lockouts: number;
  lockedUntil: number;
}

/** What a counted attempt hands to the judge: the factor as the reservation left it. */
export interface ReservedFactor {
  userId: string;
  orgId: string;
  secretSealed: string;
  lastStep: number;
  /** Attempts in the window including this one. */
  failedAttempts: number;
  /** Start of the window this attempt was counted in. */
  windowStartedAt: number;
  lockouts: number;
}

/** One code attempt against a factor; see TotpRepository.attempt. */
export interface AttemptSpec {
  userId: string;
  now: number;
  /** Only a factor in this state takes codes on this path. */
  requiredState: TotpState;
  maxAttempts: number;
  windowMs: number;
  /**
   * The time step the code matches, or undefined. Synchronous: on SQLite it runs inside the
   * transaction. Only a step later than the last accepted one is accepted; the last accepted step
   * itself is a replay (see TotpRepository.attempt).
   */
  judge: (factor: ReservedFactor) => number | undefined;
  /** How long to lock after the max-th failure, given the lockouts so far. */
  lockMs: (lockouts: number) => number;
  creator: string;
  onSuccess: { state: TotpState; eventType: string };
  /** Event appended on a failed attempt (none: failures are only counted). */
  failureEventType?: string;
}

export type AttemptOutcome =
  /** No factor in the required state takes codes now (missing, other state, locked or at the limit). */
  | { kind: 'unavailable' }
  | { kind: 'accepted'; event: AppendedEvent }
  /** A wrong code; `locked` when it was the failure that locked the factor. */
  | { kind: 'rejected'; locked: boolean }
  /** The code of the step accepted last: refused, but the attempt was given back. */
  | { kind: 'replayed' };

/**
 * The payload of a failure event that is more than a wrong code: a replayed code (someone may have
 * seen it) and the failure that locked the factor. Both ask for a security notification (Outbox).
 */
const failurePayload = (replayed: boolean, locked: boolean) =>
  replayed ? { reason: 'replayed' } : locked ? { reason: 'invalid', locked: true } : undefined;

/** The operands of a statement: SQLite binds them as parameters, PostgreSQL reads a batch's from `unnest`ed rows. */
type Operands<K extends string> = Record<K, string>;

/**
 * Counts the attempt before the code is judged, in one conditional UPDATE: a new window starts when the
 * previous one is over (or after a success); a factor that is locked or has used up its attempts in
 * the window matches no row.
 */
const reserveSql = (
  o: Operands<'userId' | 'now' | 'cutoff' | 'max' | 'state'>,
  from = '',
) => `UPDATE totp_factors SET
     failed_attempts = CASE WHEN failed_attempts = 0 OR window_started_at <= ${o.cutoff} THEN 1 ELSE failed_attempts + 1 END,
     window_started_at = CASE WHEN failed_attempts = 0 OR window_started_at <= ${o.cutoff} THEN ${o.now} ELSE window_started_at END${from}
   WHERE totp_factors.user_id = ${o.userId} AND state = ${o.state} AND locked_until <= ${o.now}
     AND (failed_attempts < ${o.max} OR window_started_at <= ${o.cutoff})
   RETURNING totp_factors.user_id, org_id, secret_sealed, last_step, failed_attempts, window_started_at, lockouts`;

/**
 * Consumes the accepted step: only a later step than the last accepted one wins (replay protection),
 * and a success clears the attempt counter and the lockout history.
 */
const consumeSql = (
  o: Operands<'userId' | 'step' | 'newState' | 'now' | 'state'>,
  from = '',
) => `UPDATE totp_factors
   SET state = ${o.newState}, last_step = ${o.step}, failed_attempts = 0, window_started_at = 0, lockouts = 0,
     locked_until = 0, updated_at = ${o.now}${from}
   WHERE totp_factors.user_id = ${o.userId} AND last_step < ${o.step} AND state = ${o.state}`;

/** SQLite: params user_id, now, window cutoff, max attempts, required state. */
const RESERVE_SQL = reserveSql({ userId: '$1', now: '$2', cutoff: '$3', max: '$4', state: '$5' });

/** SQLite: params user_id, step, new state, now, required state. */
const CONSUME_SQL = consumeSql({ userId: '$1', step: '$2', newState: '$3', now: '$4', state: '$5' });

/**
 * A replay of the step accepted last (a client submitting one code twice, a double click) is no guess
 * at the secret: gives back the attempt the reservation counted. Matches only while `last_step` is that
 * step; the attempt is given back only while the window it was counted in is still the current one (a
 * success in between already reset the counter). Params: user_id, step, the reservation's window start.
 */
const REFUND_SQL = `UPDATE totp_factors SET
     failed_attempts = CASE WHEN failed_attempts > 0 AND window_started_at = $3 THEN failed_attempts - 1 ELSE failed_attempts END,
     window_started_at = CASE WHEN failed_attempts = 1 AND window_started_at = $3 THEN 0 ELSE window_started_at END
   WHERE user_id = $1 AND last_step = $2
   RETURNING user_id`;

/** Locks after the max-th failure (unless a success reset the counter meanwhile). Params: user_id, locked_until, now, max. */
const LOCK_SQL = `UPDATE totp_factors SET locked_until = $2, lockouts = lockouts + 1, failed_attempts = 0,
     window_started_at = 0, updated_at = $3
   WHERE user_id = $1 AND failed_attempts >= $4`;

/** PostgreSQL: reserves a batch of attempts (one per user) in one statement. Params: arrays of RESERVE_SQL's params. */
const PG_RESERVE_BATCH_SQL = reserveSql(
  { userId: 'b.user_id', now: 'b.at', cutoff: 'b.cutoff', max: 'b.max_attempts', state: 'b.required_state' },
  `
   FROM unnest($1::varchar[], $2::bigint[], $3::bigint[], $4::int[], $5::varchar[])
     AS b(user_id, at, cutoff, max_attempts, required_state)`,
);

/**
 * PostgreSQL: consumes a batch of accepted steps (one per user) and appends each one's event, in one
 * statement (one round trip, atomic). Params: arrays of user_id, step, new state, now, required state,
 * event type, creator.
 */
const PG_CONSUME_AND_APPEND_BATCH_SQL = `WITH b AS (
     SELECT * FROM unnest($1::varchar[], $2::bigint[], $3::varchar[], $4::bigint[], $5::varchar[], $6::varchar[], $7::varchar[])
       AS b(user_id, step, new_state, at, required_state, event_type, creator)
   ), f AS (
     ${consumeSql({ userId: 'b.user_id', step: 'b.step', newState: 'b.new_state', now: 'b.at', state: 'b.required_state' }, ' FROM b')}
     RETURNING totp_factors.user_id, org_id, b.at, b.event_type, b.creator
   ), a AS (
     INSERT INTO aggregates (aggregate_type, aggregate_id, sequence, resource_owner, created_at, changed_at)
     SELECT 'user', f.user_id, 1, f.org_id, f.at, f.at FROM f
     ON CONFLICT (aggregate_type, aggregate_id)
     DO UPDATE SET sequence = aggregates.sequence + 1, changed_at = excluded.changed_at, resource_owner = excluded.resource_owner
     RETURNING aggregate_id, resource_owner, sequence, created_at
   )
   INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, resource_owner, creator, payload, created_at)
   SELECT 'user', a.aggregate_id, a.sequence, f.event_type, a.resource_owner, f.creator, NULL, f.at
   FROM a JOIN f ON f.user_id = a.aggregate_id
   RETURNING aggregate_id, resource_owner, sequence,
     (SELECT a.created_at FROM a WHERE a.aggregate_id = events.aggregate_id) AS aggregate_created_at`;

/** Attempts per PostgreSQL batch at most. */
const PG_BATCH = 64;

interface FactorRow {
  user_id: string;
  org_id: string;
  secret_sealed: string;
  last_step: number | string;
  failed_attempts: number;
  window_started_at: number | string;
  lockouts: number;
}

const toReserved = (r: FactorRow): ReservedFactor => ({
  userId: r.user_id,
  orgId: r.org_id,
  secretSealed: r.secret_sealed,
  lastStep: Number(r.last_step),
  failedAttempts: Number(r.failed_attempts),
  windowStartedAt: Number(r.window_started_at),
  lockouts: Number(r.lockouts),
});

/** The code path of one dialect: prepared statements through the driver. */
interface HotPath {
  attempt(spec: AttemptSpec): Promise<AttemptOutcome>;
}

/**
 * TOTP factors. Life-cycle writes (register, remove) go through TypeORM in the caller's transaction;
 * the code path (verify, check) runs on prepared driver statements: on SQLite one synchronous
 * better-sqlite3 transaction, on PostgreSQL two round trips of named statements.
 */
@Injectable()
export class TotpRepository {
  private hotPath?: HotPath;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly runner: TransactionRunner,
    private readonly events: EventStore,
    private readonly outbox: Outbox,
  ) {}

  async find(userId: string): Promise<TotpFactor | undefined> {
    const e = await this.ds.getRepository(TotpFactorEntity).findOne({ where: { userId } });
    if (!e) return undefined;
    const {
      userId: id,
      orgId,
      state,
      secretSealed,
      lastStep,
      failedAttempts,
      windowStartedAt,
      lockouts,
      lockedUntil,
    } = e;
    return {
      userId: id,
      orgId,
      state,
      secretSealed,
      lastStep,
      failedAttempts,
      windowStartedAt,
      lockouts,
      lockedUntil,
    };
  }

  /**
   * Stores a new (not yet verified) secret, replacing an unverified one. Returns false, changing
   * nothing, when the user's TOTP is already ready. Atomic: a racing verify cannot be overwritten.
   */
  async saveUnverified(
    em: EntityManager,
    userId: string,
    orgId: string,
    secretSealed: string,
    now: number,
  ): Promise<boolean> {
    const { rows } = await rawQuery(
      em,
      `INSERT INTO totp_factors (user_id, org_id, state, secret_sealed, created_at, updated_at)
       VALUES ($1, $2, 'NOT_READY', $3, $4, $4)
       ON CONFLICT (user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, updated_at = excluded.updated_at
       WHERE totp_factors.state = 'NOT_READY'
       RETURNING user_id`,
      [userId, orgId, secretSealed, now],
    );
    return rows.length === 1;
  }

  /** Deletes the user's TOTP; its organisation, or undefined when there was none. */
  async remove(em: EntityManager, userId: string): Promise<{ orgId: string } | undefined> {
    const { rows } = await rawQuery<{ org_id: string }>(
      em,
      `DELETE FROM totp_factors WHERE user_id = $1 RETURNING org_id`,
      [userId],
    );
    return rows[0] ? { orgId: rows[0].org_id } : undefined;
  }

  /**
   * One code attempt, atomic against concurrent attempts in this and other processes:
   * 1. the attempt is counted (RESERVE_SQL) before the code is judged; no row → `unavailable`;
   * 2. the judge names the matching step; the step is consumed only if later than the last one (CONSUME_SQL),
   *    which also resets the counter, and the success event is appended with it → `accepted`;
   * 3. a code of the step accepted last (already consumed, also by a concurrent attempt) gets its attempt back
   *    (REFUND_SQL) and locks nothing; the failure event (if any) is appended → `replayed`;
   * 4. otherwise the attempt stays counted, the max-th failure locks the factor, the failure event
   *    (if any) is appended → `rejected`.
   */
  attempt(spec: AttemptSpec): Promise<AttemptOutcome> {
    this.hotPath ??= dialectOf(this.ds) === 'sqlite' ? this.sqlitePath() : this.postgresPath();
    return this.hotPath.attempt(spec);
  }

  private sqlitePath(): HotPath {
    const db = (this.ds.driver as unknown as { databaseConnection: Database }).databaseConnection;
    // `$n` are named parameters to SQLite: bind them by number, so repeated placeholders work.
    const prep = (sql: string) => {
      const stmt: Statement = db.prepare(sql);
      const named = (params: unknown[]) => Object.fromEntries(params.map((v, i) => [i + 1, v]));
      return {
        get: (...params: unknown[]) => stmt.get(named(params)),
        run: (...params: unknown[]) => stmt.run(named(params)),
      };
    };
    const reserve = prep(RESERVE_SQL);
    const consume = prep(CONSUME_SQL);
    const lock = prep(LOCK_SQL);
    const refund = prep(REFUND_SQL);
    const appendAggregate = prep(APPEND_AGGREGATE_SQL);
    const insertEvent = prep(INSERT_EVENT_SQL);
    const insertOutbox = prep(INSERT_OUTBOX_SQL);
    const append = (
      f: ReservedFactor,
      eventType: string,
      creator: string,
      now: number,
      payload?: Record<string, unknown>,
    ): AppendedEvent => {
      const agg = appendAggregate.get('user', f.userId, f.orgId, now, now) as {
        sequence: number;
        created_at: number;
      };
      const e = {
        aggregateType: 'user',
        aggregateId: f.userId,
        resourceOwner: f.orgId,
        creator,
        eventType,
        payload,
      };
      insertEvent.run(
        'user',
        f.userId,
        agg.sequence,
        eventType,
        f.orgId,
        creator,
        payload ? JSON.stringify(payload) : null,
        now,
      );
      // the event's notification (as EventStore.append writes it), in this same transaction
      const outboxRow = this.outbox.rowFor(e, now);
      if (outboxRow) {
        insertOutbox.run(...outboxRow);
        this.outbox.committed();
      }
      return {
        aggregateId: f.userId,
        resourceOwner: f.orgId,
        sequence: agg.sequence,
        createdAt: now,
        aggregateCreatedAt: agg.created_at,
      };
    };
    // one unit of a group commit (TransactionRunner.grouped): its own savepoint in a BEGIN IMMEDIATE transaction
    const work = (s: AttemptSpec): AttemptOutcome => {
      const row = reserve.get(s.userId, s.now, s.now - s.windowMs, s.maxAttempts, s.requiredState) as
        FactorRow | undefined;
      if (!row) return { kind: 'unavailable' };
      const f = toReserved(row);
      const step = s.judge(f);
      if (
        step !== undefined &&
        step > f.lastStep &&
        consume.run(s.userId, step, s.onSuccess.state, s.now, s.requiredState).changes === 1
      ) {
        return { kind: 'accepted', event: append(f, s.onSuccess.eventType, s.creator, s.now) };
      }
      if (step !== undefined && refund.get(s.userId, step, f.windowStartedAt)) {
        if (s.failureEventType) append(f, s.failureEventType, s.creator, s.now, failurePayload(true, false));
        return { kind: 'replayed' };
      }
      const locked =
        f.failedAttempts >= s.maxAttempts &&
        lock.run(s.userId, s.now + s.lockMs(f.lockouts), s.now, s.maxAttempts).changes === 1;
      if (s.failureEventType) append(f, s.failureEventType, s.creator, s.now, failurePayload(false, locked));
      return { kind: 'rejected', locked };
    };
    return { attempt: (spec) => this.runner.grouped(() => work(spec)) };
  }

  /**
   * PostgreSQL: the attempts that arrive together are reserved in one statement and, once judged, the
   * accepted ones consumed with their events in another (MicroBatcher), so a busy service pays two
   * round trips per batch instead of two per attempt. A batch holds one attempt per user, sent in user id
   * order so that concurrent batches usually lock rows in one order; a statement that still loses a
   * deadlock is retried (retryOnDeadlock). A statement that fails for what one attempt held (a value
   * the database refuses) is run again per attempt, so that attempt alone fails, not its batch.
   */
  private postgresPath(): HotPath {
    const pool = (this.ds.driver as unknown as { master: Pool }).master;
    const query = async <T>(name: string, text: string, values: unknown[]): Promise<T[]> =>
      retryOnDeadlock(async () => (await pool.query({ name, text, values })).rows as T[]);
    const byUser = <T extends { userId: string }>(items: T[]) =>
      [...items].sort((x, y) => (x.userId < y.userId ? -1 : 1));
    const reserved = new MicroBatcher<AttemptSpec, FactorRow | undefined>(
      async (batch) => {
        const sorted = byUser(batch);
        const rows = await query<FactorRow>('totp_reserve_batch', PG_RESERVE_BATCH_SQL, [
          sorted.map((s) => s.userId),
          sorted.map((s) => s.now),
          sorted.map((s) => s.now - s.windowMs),
          sorted.map((s) => s.maxAttempts),
          sorted.map((s) => s.requiredState),
        ]);
        const found = new Map(rows.map((r) => [r.user_id, r]));
        return batch.map((s) => found.get(s.userId));
      },
      { key: (s) => s.userId, maxSize: PG_BATCH, isolate: mayBeOneRowsFault },
    );
    const consumed = new MicroBatcher<
      { userId: string; spec: AttemptSpec; step: number },
      AppendedEvent | undefined
    >(
      async (batch) => {
        const sorted = byUser(batch);
        const rows = await query<{
          aggregate_id: string;
          resource_owner: string;
          sequence: number;
          aggregate_created_at: string;
        }>('totp_consume_append_batch', PG_CONSUME_AND_APPEND_BATCH_SQL, [
          sorted.map((c) => c.userId),
          sorted.map((c) => c.step),
          sorted.map((c) => c.spec.onSuccess.state),
          sorted.map((c) => c.spec.now),
          sorted.map((c) => c.spec.requiredState),
          sorted.map((c) => c.spec.onSuccess.eventType),
          sorted.map((c) => c.spec.creator),
        ]);
        const appended = new Map(rows.map((e) => [e.aggregate_id, e]));
        return batch.map(({ userId, spec }): AppendedEvent | undefined => {
          const e = appended.get(userId);
          return (
            e && {
              aggregateId: e.aggregate_id,
              resourceOwner: e.resource_owner,
              sequence: Number(e.sequence),
              createdAt: spec.now,
              aggregateCreatedAt: Number(e.aggregate_created_at),
            }
          );
        });
      },
      { key: (c) => c.userId, maxSize: PG_BATCH, isolate: mayBeOneRowsFault },
    );
    return {
      attempt: async (s) => {
        const row = await reserved.submit(s);
        if (!row) return { kind: 'unavailable' };
        const f = toReserved(row);
        const step = s.judge(f);
        if (step !== undefined && step > f.lastStep) {
          const event = await consumed.submit({ userId: s.userId, spec: s, step });
          if (event) return { kind: 'accepted', event };
        }
        return this.runner.run(async (em): Promise<AttemptOutcome> => {
          const replayed =
            step !== undefined &&
            (await rawQuery(em, REFUND_SQL, [s.userId, step, f.windowStartedAt])).rows.length > 0;
          let locked = false;
          if (!replayed && f.failedAttempts >= s.maxAttempts) {
            locked =
              (await rawQuery(em, LOCK_SQL, [s.userId, s.now + s.lockMs(f.lockouts), s.now, s.maxAttempts]))
                .affected === 1;
          }
          if (s.failureEventType) {
            await this.events.append(em, {
              aggregateType: 'user',
              aggregateId: f.userId,
              resourceOwner: f.orgId,
              creator: s.creator,
              eventType: s.failureEventType,
              payload: failurePayload(replayed, locked),
            });
          }
          return replayed ? { kind: 'replayed' } : { kind: 'rejected', locked };
        });
      },
    };
  }
}
