import { Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { InstantColumn } from '../database/columns';

/**
 * A user's OTP factor on one channel (`sms`: the user's verified phone; `email`: the user's verified
 * address), as ZITADEL's v2 OTP SMS / OTP Email: one per user and channel, ready once added. The
 * destination itself stays in the user's profile; pending codes live in `one_time_codes`.
 */
@Entity({ name: 'otp_channel_factors' })
export class OtpChannelFactorEntity {
  @PrimaryColumn({ type: 'varchar', length: 20, name: 'user_id' })
  userId: string;

  @PrimaryColumn({ type: 'varchar', length: 10 })
  channel: string;

  /** Goes with the user (named, not imported: common code knows no feature module). */
  @ManyToOne('UserEntity', { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: unknown;

  @InstantColumn({ name: 'created_at' })
  createdAt: number;
}
