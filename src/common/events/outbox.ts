import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { rawQuery } from '../database/db-dialect';
import type { NewEvent } from './event-store';

/**
 * Which notification an event asks for (a kind name), or undefined for none. Registered once by the
 * notifications module; until then (and in apps without it) no event writes an outbox row.
 */
export type NotificationRouter = (
  eventType: string,
  payload: Record<string, unknown> | undefined,
) => string | undefined;

/** The columns an outbox row is written with (the rest take their defaults: pending, due at once). */
export const OUTBOX_COLUMNS = 'user_id, org_id, kind, event_type, payload, created_at';

/**
 * One outbox row, due at once. Params: user_id, org_id, kind, event_type, payload (JSON text or null),
 * created_at. A statement of its own so that a hot path can prepare it (same SQL, one table shape).
 */
export const INSERT_OUTBOX_SQL = `INSERT INTO notification_outbox (${OUTBOX_COLUMNS})
       VALUES ($1, $2, $3, $4, $5, $6)`;

/** Marks a TypeORM transaction that wrote an outbox row: its commit wakes the delivery worker. */
const WROTE_OUTBOX = 'wroteOutbox';

/**
 * The transactional outbox of security notifications: an event that asks for a notification gets its
 * outbox row in the same transaction as the event itself (EventStore.append, and the TOTP code path's
 * own statements), so a notification exists exactly when its event does. Once that transaction has
 * committed, the listeners (the delivery worker) are told, so delivery starts without polling.
 */
@Injectable()
export class Outbox {
  private router?: NotificationRouter;
  private readonly listeners: (() => void)[] = [];

  constructor(@InjectDataSource() ds: DataSource) {
    ds.subscribers.push({
      afterTransactionCommit: ({ queryRunner }: { queryRunner: QueryRunner }) => {
        // Only the outermost commit makes the row visible to other connections.
        if (queryRunner.isTransactionActive || !queryRunner.data) return;
        const data = queryRunner.data as Record<string, unknown>;
        if (!data[WROTE_OUTBOX]) return;
        delete data[WROTE_OUTBOX];
        this.committed();
      },
      afterTransactionRollback: ({ queryRunner }: { queryRunner: QueryRunner }) => {
        if (!queryRunner.isTransactionActive && queryRunner.data)
          delete (queryRunner.data as Record<string, unknown>)[WROTE_OUTBOX];
      },
    });
  }

  routeWith(router: NotificationRouter): void {
    this.router = router;
  }

  onCommitted(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** The notification an event asks for (its kind), or undefined when it notifies nobody. */
  kindOf(e: NewEvent): string | undefined {
    if (!this.router || e.aggregateType !== 'user') return undefined;
    return this.router(e.eventType, e.payload) || undefined;
  }

  /** The INSERT_OUTBOX_SQL params for an event, or undefined when it notifies nobody. */
  rowFor(e: NewEvent, now: number): unknown[] | undefined {
    const kind = this.kindOf(e);
    if (!kind) return undefined;
    return [
      e.aggregateId,
      e.resourceOwner,
      kind,
      e.eventType,
      e.payload ? JSON.stringify(e.payload) : null,
      now,
    ];
  }

  /** Writes the event's outbox row (if it asks for one) in the caller's transaction. */
  async write(em: EntityManager, e: NewEvent, now: number): Promise<void> {
    const row = this.rowFor(e, now);
    if (!row) return;
    await rawQuery(em, INSERT_OUTBOX_SQL, row);
    this.wrote(em);
  }

  /**
   * An outbox row was written through `em`: the listeners are told once it is committed (at the end of
   * the transaction, or now when `em` has none).
   */
  wrote(em: EntityManager): void {
    const qr = em.queryRunner;
    if (qr?.isTransactionActive) (qr.data as Record<string, unknown>)[WROTE_OUTBOX] = true;
    else this.committed();
  }

  /**
   * Tells the listeners that a row was committed. A synchronous SQLite transaction (the TOTP code
   * path's group commit) calls this while it runs: the listeners run on a later turn, after its COMMIT.
   */
  committed(): void {
    setImmediate(() => this.listeners.forEach((l) => l()));
  }
}
