import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import { IdColumn, InstantColumn, JsonTextColumn } from '../database/columns';

/** Append-only log of every state change; the source of `details` in every answer. */
@Entity({ name: 'events' })
@Index('uq_events_aggregate_sequence', ['aggregateType', 'aggregateId', 'sequence'], { unique: true })
@Index('ix_events_resource_owner', ['resourceOwner'])
export class EventEntity {
  /** Global position: the order events were written in (INTEGER: SQLite's rowid alias; int4 on PostgreSQL). */
  @PrimaryGeneratedColumn({ name: 'position' })
  position: number;

  @Column({ type: 'varchar', length: 40, name: 'aggregate_type' })
  aggregateType: string;

  @IdColumn({ name: 'aggregate_id' })
  aggregateId: string;

  @Column({ type: 'integer', name: 'sequence' })
  sequence: number;

  @Column({ type: 'varchar', length: 100, name: 'event_type' })
  eventType: string;

  @IdColumn({ name: 'resource_owner' })
  resourceOwner: string;

  @Column({ type: 'varchar', length: 20, name: 'creator' })
  creator: string;

  /** Never holds secrets or codes: only ids and non-sensitive facts. */
  @JsonTextColumn({ name: 'payload', nullable: true })
  payload: Record<string, unknown> | null;

  @InstantColumn({ name: 'created_at' })
  createdAt: number;
}

/** One row per aggregate: its latest sequence, incremented atomically by each append. */
@Entity({ name: 'aggregates' })
export class AggregateEntity {
  @PrimaryColumn({ type: 'varchar', length: 40, name: 'aggregate_type' })
  aggregateType: string;

  @PrimaryColumn({ type: 'varchar', length: 20, name: 'aggregate_id' })
  aggregateId: string;

  @Column({ type: 'integer', name: 'sequence' })
  sequence: number;

  @IdColumn({ name: 'resource_owner' })
  resourceOwner: string;

  @InstantColumn({ name: 'created_at' })
  createdAt: number;

  @InstantColumn({ name: 'changed_at' })
  changedAt: number;
}
