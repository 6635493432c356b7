import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { dialectOf, rawQuery, RawResult, sqliteQuery } from '../common/database/db-dialect';
import { sqliteConnection } from '../common/database/driver-handle';
import { SqliteGroupCommit } from '../common/database/sqlite-group-commit';
import { TransactionRunner } from '../common/database/transaction-runner';
import { OutboxState } from './entities/notification-outbox.entity';

/** A claimed outbox row: the worker holds it until `leaseUntil` and settles it with `token`. */
export interface ClaimedNotice {
  id: number;
  userId: string;
  kind: string;
  eventType: string;
  payload: Record<string, unknown> | null;
  createdAt: number;
  /** Tries including this one. */
  attempts: number;
  token: string;
}

interface Row {
  id: number | string;
  user_id: string;
  kind: string;
  event_type: string;
  payload: string | null;
  created_at: number | string;
  attempts: number | string;
}

/** The ids of the due, unleased pending rows, oldest first, `$4` at most (`$3`: now). */
const duePending = (indexHint = '') => `SELECT id FROM notification_outbox ${indexHint}
  WHERE state = 'PENDING' AND next_attempt_at <= $3 AND lease_until <= $3 ORDER BY id LIMIT $4`;
const CLAIM_SET = `SET lease_until = $1, lease_token = $2, attempts = attempts + 1`;
const CLAIM_RETURNING = `RETURNING id, user_id, kind, event_type, payload, created_at, attempts`;

const CLAIM_POSTGRES = `UPDATE notification_outbox ${CLAIM_SET}
  WHERE id = ANY (ARRAY(${duePending()} FOR UPDATE SKIP LOCKED))
    AND state = 'PENDING' AND lease_until <= $3
  ${CLAIM_RETURNING}`;

const CLAIM_SQLITE = `UPDATE notification_outbox NOT INDEXED ${CLAIM_SET}
  WHERE id IN (${duePending('INDEXED BY ix_notification_outbox_pending')})
    AND state = 'PENDING' AND lease_until <= $3
  ${CLAIM_RETURNING}`;

/**
 * The delivery side of the notification outbox (rows are written by Outbox, in the events' own
 * transactions). Claims are leases: a conditional UPDATE takes due, unleased rows and stamps them with
 * a fresh token, so two instances never hold one row at once (on PostgreSQL `FOR UPDATE SKIP LOCKED`
 * lets concurrent claims pass each other instead of waiting); a worker that dies leaves its lease to
 * expire, and the row is claimed again. Every settle names the token: a worker whose lease was taken
 * over cannot overwrite the new holder's outcome.
 */
@Injectable()
export class NotificationRepository {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly runner: TransactionRunner,
  ) {}

  /** SQLite only: the worker's statements as units of a group commit (see `query`). */
  private commits?: SqliteGroupCommit;

  /**
   * One statement, atomic on its own. PostgreSQL: straight on the pool (autocommit: no BEGIN and COMMIT
   * round trips around it). SQLite: a synchronous unit of a group commit on the one connection, queued
   * with the TransactionRunner's transactions: the statements of a batch's settles that arrive together
   * share one COMMIT, without an ORM transaction around each.
   */
  private async query<T>(text: string, params: unknown[] = []): Promise<RawResult<T>> {
    if (dialectOf(this.ds) === 'postgres') return rawQuery<T>(this.ds, text, params);
    const db = sqliteConnection(this.ds);
    this.commits ??= new SqliteGroupCommit(this.ds, this.runner);
    return this.commits.run(() => sqliteQuery<T>(db, text, params));
  }

  /**
   * Takes up to `limit` due rows, oldest first. The pending rows are read through their partial index
   * in id order and the read stops at `limit`, so a claim costs the same with a backlog of thousands
   * (a claim that sorted every pending row, or passed every sent one, made a backlog quadratic).
   * SQLite is told the indexes (its planner, without statistics, would sort instead); PostgreSQL takes
   * the claimed ids as an array, so the UPDATE looks each one up instead of joining every pending row.
   */
  async claim(now: number, leaseMs: number, limit: number): Promise<ClaimedNotice[]> {
    const token = randomBytes(16).toString('hex');
    const { rows } = await this.query<Row>(
      dialectOf(this.ds) === 'postgres' ? CLAIM_POSTGRES : CLAIM_SQLITE,
      [now + leaseMs, token, now, limit],
    );
    return rows
      .map((r) => ({
        id: Number(r.id),
        userId: r.user_id,
        kind: r.kind,
        eventType: r.event_type,
        payload: r.payload ? (JSON.parse(r.payload) as Record<string, unknown>) : null,
        createdAt: Number(r.created_at),
        attempts: Number(r.attempts),
        token,
      }))
      .sort((a, b) => a.id - b.id);
  }

  /** Ends a claimed row (SENT, SKIPPED or FAILED); false when the lease was lost meanwhile. */
  async settle(n: ClaimedNotice, state: Exclude<OutboxState, 'PENDING'>, now: number): Promise<boolean> {
    const { affected } = await this.query(
      `UPDATE notification_outbox SET state = $1, sent_at = $2, lease_until = 0, lease_token = NULL
       WHERE id = $3 AND lease_token = $4`,
      [state, state === 'SENT' ? now : null, n.id, n.token],
    );
    return affected === 1;
  }

  /** Gives a claimed row back for another try at `nextAttemptAt`. */
  async retryLater(n: ClaimedNotice, nextAttemptAt: number): Promise<void> {
    await this.query(
      `UPDATE notification_outbox SET next_attempt_at = $1, lease_until = 0, lease_token = NULL
       WHERE id = $2 AND lease_token = $3`,
      [nextAttemptAt, n.id, n.token],
    );
  }

  /** When the next pending row falls due (or its lease runs out), if any is pending. */
  async nextDue(): Promise<number | undefined> {
    const { rows } = await this.query<{ due: number | string | null }>(
      `SELECT MIN(CASE WHEN lease_until > next_attempt_at THEN lease_until ELSE next_attempt_at END) AS due
       FROM notification_outbox WHERE state = 'PENDING'`,
    );
    const due = rows[0]?.due;
    return due === null || due === undefined ? undefined : Number(due);
  }
}
