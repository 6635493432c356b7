import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { IdColumn, InstantColumn, JsonTextColumn } from '../../common/database/columns';

export type OutboxState = 'PENDING' | 'SENT' | 'SKIPPED' | 'FAILED';

/**
 * Security notifications waiting for (or done with) delivery. A row is written in the transaction of
 * the event that asks for it (Outbox) and only ever updated by the delivery worker. Delivery times
 * (`next_attempt_at`, `lease_until`, `sent_at`) are real time, not the service clock.
 */
@Entity({ name: 'notification_outbox' })
@Index('ix_notification_outbox_due', ['state', 'nextAttemptAt'])
// The claim's order: only the pending rows, oldest first, so a claim reads as many rows as it takes
// (the due index would have it sort every pending row, and the primary key would pass every sent one).
@Index('ix_notification_outbox_pending', ['id'], { where: `"state" = 'PENDING'` })
export class NotificationOutboxEntity {
  @PrimaryGeneratedColumn({ name: 'id' })
  id: number;

  @IdColumn({ name: 'user_id' })
  userId: string;

  @IdColumn({ name: 'org_id' })
  orgId: string;

  /** One of NOTIFICATION_KINDS. */
  @Column({ type: 'varchar', length: 40 })
  kind: string;

  /** The event that asked for the notification (decides the factor named in the mail). */
  @Column({ type: 'varchar', length: 100, name: 'event_type' })
  eventType: string;

  /** The event's payload (never secrets or codes). */
  @JsonTextColumn({ name: 'payload', nullable: true })
  payload: Record<string, unknown> | null;

  /** When the event happened (service clock). */
  @InstantColumn({ name: 'created_at' })
  createdAt: number;

  @Column({ type: 'varchar', length: 10, default: 'PENDING' })
  state: OutboxState;

  /** Tries so far, counted when a worker claims the row. */
  @Column({ type: 'integer', default: 0 })
  attempts: number;

  /** Not tried again before then (epoch ms; 0 = at once). */
  @InstantColumn({ name: 'next_attempt_at', default: 0 })
  nextAttemptAt: number;

  /** Claimed by a worker until then (epoch ms; 0 = free). */
  @InstantColumn({ name: 'lease_until', default: 0 })
  leaseUntil: number;

  /** The claim's token: only its holder may settle the row. */
  @Column({ type: 'varchar', length: 32, name: 'lease_token', nullable: true })
  leaseToken: string | null;

  @InstantColumn({ name: 'sent_at', nullable: true })
  sentAt: number | null;
}
