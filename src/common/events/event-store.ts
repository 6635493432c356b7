import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { rawQuery } from '../database/db-dialect';
import { Clock } from '../time/clock';

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

/**
 * The two statements of an append, for modules that run them through prepared driver statements on
 * a hot path (same SQL, so the log cannot diverge). Params: aggregate_type, aggregate_id,
 * resource_owner, created_at, changed_at → RETURNING sequence, created_at.
 */
export const APPEND_AGGREGATE_SQL = `INSERT INTO aggregates (aggregate_type, aggregate_id, sequence, resource_owner, created_at, changed_at)
       VALUES ($1, $2, 1, $3, $4, $5)
       ON CONFLICT (aggregate_type, aggregate_id)
       DO UPDATE SET sequence = aggregates.sequence + 1, changed_at = excluded.changed_at, resource_owner = excluded.resource_owner
       RETURNING sequence, created_at`;

/** Params: aggregate_type, aggregate_id, sequence, event_type, resource_owner, creator, payload (JSON text or null), created_at. */
export const INSERT_EVENT_SQL = `INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, resource_owner, creator, payload, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`;

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

/** What the aggregate row says about an object: for the `details` of read answers. */
export interface AggregateInfo {
  sequence: number;
  createdAt: number;
  changedAt: number;
  resourceOwner: string;
}

/**
 * Appends events inside the caller's transaction. The per-aggregate sequence comes from one
 * atomic upsert on `aggregates`, which also serialises concurrent writers of one aggregate.
 */
@Injectable()
export class EventStore {
  constructor(private readonly clock: Clock) {}

  async append(em: EntityManager, e: NewEvent): Promise<AppendedEvent> {
    const now = this.clock.now();
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
      e.payload ? JSON.stringify(e.payload) : null,
      now,
    ]);
    return {
      aggregateId: e.aggregateId,
      resourceOwner: e.resourceOwner,
      sequence,
      createdAt: now,
      aggregateCreatedAt: Number(rows[0].created_at),
    };
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
