import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { InstantColumn } from '../../common/database/columns';
import { UserEntity } from './user.entity';

export const INSTANCE_SCOPE = 'INSTANCE';

/** The roles a user holds on the instance (`scope` = INSTANCE) or on one organisation (`scope` = its id). */
@Entity({ name: 'memberships' })
export class MembershipEntity {
  @PrimaryColumn({ type: 'varchar', length: 20, name: 'user_id' })
  userId: string;

  @PrimaryColumn({ type: 'varchar', length: 20 })
  scope: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: UserEntity;

  /** Comma separated role names. */
  @Column({ type: 'varchar', length: 500 })
  roles: string;

  @InstantColumn({ name: 'changed_at' })
  changedAt: number;
}
