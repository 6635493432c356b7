import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { SecretBox } from '../../common/crypto/secret-box';
import { rawQuery, retryOnDeadlock } from '../../common/database/db-dialect';
import { postgresPool } from '../../common/database/driver-handle';
import { MicroBatcher } from '../../common/database/micro-batcher';
import { mayBeOneRowsFault } from '../../common/database/pg-errors';
import { TransactionRunner } from '../../common/database/transaction-runner';
import {
  AppendedEvent,
  AppendedRow,
  appendedEventOf,
  appendForEachRowSql,
  EventStore,
} from '../../common/events/event-store';
import { AttemptPlan, AttemptRequest, ReservedFactor, failurePayload } from './attempt-decision';
import { consumeSql, FactorRow, LOCK_SQL, REFUND_SQL, reserveSql } from './attempt.sql';
import { AttemptOutcome, AttemptStrategy, planAttempt, reservedFactorOf } from './attempt.strategy';

/** Reserves a batch of attempts (one per user) in one statement. Params: arrays of user_id, now, window cutoff, max attempts, required state. */
const RESERVE_BATCH_SQL = reserveSql(
  { userId: 'b.user_id', now: 'b.at', cutoff: 'b.cutoff', max: 'b.max_attempts', state: 'b.required_state' },
  `
   FROM unnest($1::varchar[], $2::bigint[], $3::bigint[], $4::int[], $5::varchar[])
     AS b(user_id, at, cutoff, max_attempts, required_state)`,
);

/**
 * Consumes a batch of accepted steps (one per user) and appends each one's event, in one statement
 * (one round trip, atomic). Params: arrays of user_id, step, new state, now, required state, event
 * type, creator.
 */
const CONSUME_AND_APPEND_BATCH_SQL = appendForEachRowSql(
  `b AS (
     SELECT * FROM unnest($1::varchar[], $2::bigint[], $3::varchar[], $4::bigint[], $5::varchar[], $6::varchar[], $7::varchar[])
       AS b(user_id, step, new_state, at, required_state, event_type, creator)
   ), consumed AS (
     ${consumeSql({ userId: 'b.user_id', step: 'b.step', newState: 'b.new_state', now: 'b.at', state: 'b.required_state' }, ' FROM b')}
     RETURNING 'user'::varchar AS aggregate_type, totp_factors.user_id AS aggregate_id, org_id AS resource_owner,
       b.event_type, b.creator, b.at AS created_at
   )`,
  'consumed',
);

/** Attempts per batch at most. */
const BATCH = 64;

interface Consumption {
  userId: string;
  request: AttemptRequest;
  consume: NonNullable<AttemptPlan['consume']>;
}

const byUser = <T extends { userId: string }>(items: T[]) =>
  [...items].sort((x, y) => (x.userId < y.userId ? -1 : 1));

/**
 * PostgreSQL: the attempts that arrive together are reserved in one statement and, once decided, the
 * accepted ones consumed with their events in another (MicroBatcher), so a busy service pays two
 * round trips per batch instead of two per attempt. A batch holds one attempt per user, sent in user id
 * order so that concurrent batches usually lock rows in one order; a statement that still loses a
 * deadlock is retried (retryOnDeadlock). A statement that fails for what one attempt held (a value
 * the database refuses) is run again per attempt, so that attempt alone fails, not its batch.
 * A refused attempt (replay or failure) runs in a transaction of its own.
 */
export class PostgresAttemptStrategy extends AttemptStrategy {
  private readonly pool: Pool;
  private readonly reserved = new MicroBatcher<AttemptRequest, FactorRow | undefined>(
    (batch) => this.reserveBatch(batch),
    { key: (r) => r.userId, maxSize: BATCH, isolate: mayBeOneRowsFault },
  );
  private readonly consumed = new MicroBatcher<Consumption, AppendedEvent | undefined>(
    (batch) => this.consumeBatch(batch),
    { key: (c) => c.userId, maxSize: BATCH, isolate: mayBeOneRowsFault },
  );

  constructor(
    ds: DataSource,
    private readonly runner: TransactionRunner,
    private readonly events: EventStore,
    private readonly box: SecretBox,
  ) {
    super();
    this.pool = postgresPool(ds);
  }

  async attempt(request: AttemptRequest): Promise<AttemptOutcome> {
    const row = await this.reserved.submit(request);
    if (!row) return { kind: 'unavailable' };
    const factor = reservedFactorOf(row);
    const plan = planAttempt(this.box, request, factor);
    if (plan.consume) {
      const event = await this.consumed.submit({ userId: request.userId, request, consume: plan.consume });
      if (event) return { kind: 'accepted', event };
    }
    return this.refuse(request, factor, plan);
  }

  /** Steps 2 and 3 of the plan, in one transaction. */
  private refuse(r: AttemptRequest, factor: ReservedFactor, plan: AttemptPlan): Promise<AttemptOutcome> {
    const { refund, lock } = plan;
    return this.runner.run(async (em): Promise<AttemptOutcome> => {
      const replayed =
        refund !== undefined &&
        (await rawQuery(em, REFUND_SQL, [r.userId, refund.step, refund.windowStartedAt])).rows.length > 0;
      let locked = false;
      if (!replayed && lock) {
        locked =
          (await rawQuery(em, LOCK_SQL, [r.userId, lock.until, r.now, lock.maxAttempts])).affected === 1;
      }
      if (plan.failureEventType) {
        await this.events.append(em, {
          aggregateType: 'user',
          aggregateId: factor.userId,
          resourceOwner: factor.orgId,
          creator: r.creator,
          eventType: plan.failureEventType,
          payload: failurePayload(replayed, locked),
        });
      }
      return replayed ? { kind: 'replayed' } : { kind: 'rejected', locked };
    });
  }

  private async reserveBatch(batch: AttemptRequest[]): Promise<(FactorRow | undefined)[]> {
    const sorted = byUser(batch);
    const rows = await this.query<FactorRow>('totp_reserve_batch', RESERVE_BATCH_SQL, [
      sorted.map((r) => r.userId),
      sorted.map((r) => r.now),
      sorted.map((r) => r.now - r.windowMs),
      sorted.map((r) => r.maxAttempts),
      sorted.map((r) => r.requiredState),
    ]);
    const found = new Map(rows.map((row) => [row.user_id, row]));
    return batch.map((r) => found.get(r.userId));
  }

  private async consumeBatch(batch: Consumption[]): Promise<(AppendedEvent | undefined)[]> {
    const sorted = byUser(batch);
    const rows = await this.query<AppendedRow>('totp_consume_append_batch', CONSUME_AND_APPEND_BATCH_SQL, [
      sorted.map((c) => c.userId),
      sorted.map((c) => c.consume.step),
      sorted.map((c) => c.consume.state),
      sorted.map((c) => c.request.now),
      sorted.map((c) => c.request.requiredState),
      sorted.map((c) => c.consume.eventType),
      sorted.map((c) => c.request.creator),
    ]);
    const appended = new Map(rows.map((row) => [row.aggregate_id, row]));
    return batch.map(({ userId }) => {
      const row = appended.get(userId);
      return row && appendedEventOf(row);
    });
  }

  /** A named (prepared once per connection) statement, run again when it lost a deadlock. */
  private query<T>(name: string, text: string, values: unknown[]): Promise<T[]> {
    return retryOnDeadlock(async () => (await this.pool.query({ name, text, values })).rows as T[]);
  }
}
