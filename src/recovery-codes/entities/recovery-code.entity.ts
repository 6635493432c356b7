import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { InstantColumn } from '../../common/database/columns';
import { UserEntity } from '../../identity/entities/user.entity';

/**
 * A user's set of recovery codes: when it was generated, and the failed checks of the current
 * attempt window (OTP_MAX_ATTEMPTS per OTP_LOCKOUT_SECONDS; each attempt is spent before the comparison).
 */
@Entity({ name: 'recovery_code_sets' })
export class RecoveryCodeSetEntity {
  @PrimaryColumn({ type: 'varchar', length: 20, name: 'user_id' })
  userId: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: UserEntity;

  @Column({ type: 'integer', default: 0 })
  attempts: number;

  @InstantColumn({ name: 'window_started_at', default: 0 })
  windowStartedAt: number;

  @InstantColumn({ name: 'created_at' })
  createdAt: number;
}

/** One unused recovery code, only as a keyed hash bound to its user; deleted when used. */
@Entity({ name: 'recovery_codes' })
export class RecoveryCodeEntity {
  @PrimaryColumn({ type: 'varchar', length: 20, name: 'user_id' })
  userId: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: UserEntity;

  @PrimaryColumn({ type: 'varchar', length: 64, name: 'code_hash' })
  codeHash: string;
}
