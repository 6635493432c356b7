import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { IdColumn, InstantColumn } from '../../common/database/columns';
import { SMS_NUMBER_HASH_CONTEXT } from '../../common/one-time-code/daily-send-counter';
import { UserEntity } from '../../identity/entities/user.entity';

export type OtpSmsState = 'PENDING' | 'READY';

/** The CodeHasher context of a number's keyed hash (`number_hash`). */
export const NUMBER_HASH_CONTEXT = SMS_NUMBER_HASH_CONTEXT;

/**
 * One OTP SMS authenticator (a phone number of a user). The number is sealed with SecretBox
 * (aad = authenticator id) and identified by a keyed hash, so neither a dump nor a log shows it.
 * At most one code is pending per authenticator; it is stored only as a keyed hash bound to
 * `id:codeGeneration`, so a hash copied to another row or generation does not verify.
 */
@Entity({ name: 'otp_sms_authenticators' })
@Index('uq_otp_sms_user_number', ['userId', 'numberHash'], { unique: true })
export class OtpSmsAuthenticatorEntity {
  @PrimaryColumn({ type: 'varchar', length: 20 })
  id: string;

  @IdColumn({ name: 'user_id' })
  userId: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: UserEntity;

  /** HMAC of the E.164 number (key derived from MASTER_KEY); also keys the daily counter. */
  @Column({ type: 'varchar', length: 64, name: 'number_hash' })
  numberHash: string;

  /** SecretBox ciphertext of the E.164 number, aad = id. */
  @Column({ type: 'text', name: 'number_sealed' })
  numberSealed: string;

  @Column({ type: 'varchar', length: 10 })
  state: OtpSmsState;

  /** Keyed hash of the pending code; null when none is pending (or it was used). */
  @Column({ type: 'varchar', length: 64, name: 'code_hash', nullable: true })
  codeHash: string | null;

  /** Counts the codes issued; part of the code hash context. */
  @Column({ type: 'integer', name: 'code_generation', default: 0 })
  codeGeneration: number;

  @InstantColumn({ name: 'code_expires_at', nullable: true })
  codeExpiresAt: number | null;

  /** Wrong (or used) attempts on the pending code. */
  @Column({ type: 'integer', name: 'code_attempts', default: 0 })
  codeAttempts: number;

  /** When the last code was issued (resend cooldown). */
  @InstantColumn({ name: 'last_code_at', nullable: true })
  lastCodeAt: number | null;

  @InstantColumn({ name: 'created_at' })
  createdAt: number;

  @InstantColumn({ name: 'changed_at' })
  changedAt: number;
}
