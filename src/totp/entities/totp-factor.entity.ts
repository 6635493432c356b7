import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { epochMs, InstantColumn } from '../../common/database/columns';
import { UserEntity } from '../../identity/entities/user.entity';

export type TotpState = 'NOT_READY' | 'READY';

/**
 * A user's one TOTP generator (upstream: one slot per user aggregate), its replay guard and its
 * attempt counter. Deleted with the user. The secret is only ever stored sealed (SecretBox, aad = user id).
 */
@Entity({ name: 'totp_factors' })
export class TotpFactorEntity {
  @PrimaryColumn({ type: 'varchar', length: 20, name: 'user_id' })
  userId: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: UserEntity;

  /** The user's organisation (fixed for a user's lifetime): the resource owner of the factor's events. */
  @Column({ type: 'varchar', length: 20, name: 'org_id' })
  orgId: string;

  @Column({ type: 'varchar', length: 10 })
  state: TotpState;

  /** `v1.<keyId>.<iv>.<tag>.<ciphertext>` of the base32 secret. */
  @Column({ type: 'varchar', length: 200, name: 'secret_sealed' })
  secretSealed: string;

  /** The RFC 6238 time step of the last accepted code; only later steps are accepted (0 = none yet). */
  @Column({ type: 'bigint', name: 'last_step', default: 0, transformer: epochMs })
  lastStep: number;

  /** Attempts counted in the current window (counted before a code is checked; a success resets). */
  @Column({ type: 'integer', name: 'failed_attempts', default: 0 })
  failedAttempts: number;

  /** When the current counting window began (epoch ms). */
  @InstantColumn({ name: 'window_started_at', default: 0 })
  windowStartedAt: number;

  /** Lockouts since the last success: each one doubles the next lockout. */
  @Column({ type: 'integer', default: 0 })
  lockouts: number;

  /** Codes are refused until then (epoch ms; 0 = not locked). */
  @InstantColumn({ name: 'locked_until', default: 0 })
  lockedUntil: number;

  @InstantColumn({ name: 'created_at' })
  createdAt: number;

  @InstantColumn({ name: 'updated_at' })
  updatedAt: number;
}
