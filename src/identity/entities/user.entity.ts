import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { InstantColumn } from '../../common/database/columns';
import { OrganizationEntity } from './organization.entity';

export type UserType = 'human' | 'machine';
export type UserState = 'ACTIVE' | 'INACTIVE' | 'LOCKED';

@Entity({ name: 'users' })
@Index('uq_users_org_username', ['orgId', 'username'], { unique: true })
export class UserEntity {
  @PrimaryColumn({ type: 'varchar', length: 20 })
  id: string;

  @Column({ type: 'varchar', length: 20, name: 'org_id' })
  orgId: string;

  @ManyToOne(() => OrganizationEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'org_id' })
  org?: OrganizationEntity;

  @Column({ type: 'varchar', length: 10 })
  type: UserType;

  @Column({ type: 'varchar', length: 16 })
  state: UserState;

  @Column({ type: 'varchar', length: 200 })
  username: string;

  @Column({ type: 'varchar', length: 200, name: 'given_name', nullable: true })
  givenName: string | null;

  @Column({ type: 'varchar', length: 200, name: 'family_name', nullable: true })
  familyName: string | null;

  @Column({ type: 'varchar', length: 10, name: 'preferred_language', nullable: true })
  preferredLanguage: string | null;

  @Column({ type: 'varchar', length: 200, nullable: true })
  email: string | null;

  @Column({ type: 'boolean', name: 'email_verified', default: false })
  emailVerified: boolean;

  @Column({ type: 'varchar', length: 20, nullable: true })
  phone: string | null;

  @Column({ type: 'boolean', name: 'phone_verified', default: false })
  phoneVerified: boolean;

  /** Machine users' display name. */
  @Column({ type: 'varchar', length: 200, name: 'machine_name', nullable: true })
  machineName: string | null;

  @InstantColumn({ name: 'created_at' })
  createdAt: number;
}
