import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { IdColumn, InstantColumn } from '../../common/database/columns';
import { UserEntity } from '../../identity/entities/user.entity';

/** Stored statuses. EXPIRED is never stored: a PENDING challenge past `expiresAt` reads as EXPIRED. */
export const STORED_STATUSES = ['PENDING', 'VERIFIED', 'CONSUMED', 'LOCKED'] as const;
export type StoredStatus = (typeof STORED_STATUSES)[number];
/**
 * A challenge whose first mail is still being sent: no caller knows its id yet, no reader sees it.
 * It becomes PENDING once the mail went out, is deleted when the send fails, and the sweeper deletes
 * one left behind by a process that died during the send.
 */
export const UNSENT = 'SENDING';

/**
 * A step-up challenge: one subject user, one operation, one emailed code (only its keyed hash),
 * an attempt budget fixed at creation. The request context lives in its own table so that it can
 * be purged while the challenge row remains.
 */
@Entity({ name: 'email_challenges' })
@Index('ix_email_challenges_created', ['createdAt'])
export class EmailChallengeEntity {
  @PrimaryColumn({ type: 'varchar', length: 20 })
  id: string;

  @Index('ix_email_challenges_user')
  @IdColumn({ name: 'user_id' })
  userId: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: UserEntity;

  /** The subject's organisation (resource owner of the challenge's events). */
  @IdColumn({ name: 'org_id' })
  orgId: string;

  @Column({ type: 'varchar', length: 100 })
  operation: string;

  @Column({ type: 'varchar', length: 16 })
  status: StoredStatus | typeof UNSENT;

  /** HMAC of the current code (context: id + generation); null once verified or purged. */
  @Column({ type: 'varchar', length: 64, name: 'code_hash', nullable: true })
  codeHash: string | null;

  /** Incremented by every resend: binds the code hash to one sending. */
  @Column({ type: 'integer', default: 1 })
  generation: number;

  /** Wrong codes entered so far. */
  @Column({ type: 'integer', default: 0 })
  attempts: number;

  @Column({ type: 'integer', name: 'max_attempts' })
  maxAttempts: number;

  @Column({ type: 'integer', name: 'ttl_seconds' })
  ttlSeconds: number;

  @InstantColumn({ name: 'expires_at' })
  expiresAt: number;

  @InstantColumn({ name: 'last_sent_at' })
  lastSentAt: number;

  @InstantColumn({ name: 'verified_at', nullable: true })
  verifiedAt: number | null;

  @InstantColumn({ name: 'consumed_at', nullable: true })
  consumedAt: number | null;

  @InstantColumn({ name: 'created_at' })
  createdAt: number;
}
