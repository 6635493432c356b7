import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { IdColumn, InstantColumn } from '../database/columns';

/**
 * The pending one-time code of one purpose (e.g. `otp-sms`, `otp-email`) of one user: at most one per
 * pair. The code is stored only as a keyed hash bound to `purpose:user:code_id` (a fresh random id per
 * code), so a hash copied to another row or left over from an older code does not verify.
 */
@Entity({ name: 'one_time_codes' })
export class OneTimeCodeEntity {
  @PrimaryColumn({ type: 'varchar', length: 20 })
  purpose: string;

  @PrimaryColumn({ type: 'varchar', length: 20, name: 'user_id' })
  userId: string;

  /** Goes with the user (named, not imported: common code knows no feature module). */
  @ManyToOne('UserEntity', { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: unknown;

  /** Random id of the current code; part of its hash context. */
  @IdColumn({ name: 'code_id' })
  codeId: string;

  /** Keyed hash of the pending code; null once used, exhausted or discarded. */
  @Column({ type: 'varchar', length: 64, name: 'code_hash', nullable: true })
  codeHash: string | null;

  @InstantColumn({ name: 'expires_at' })
  expiresAt: number;

  /** Attempts spent on the current code (each before its comparison). */
  @Column({ type: 'integer', default: 0 })
  attempts: number;

  /** When the current code was issued (send cooldown). */
  @InstantColumn({ name: 'sent_at' })
  sentAt: number;
}
