import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { InstantColumn } from '../../common/database/columns';
import { UserEntity } from './user.entity';

/** A personal access token. Only its SHA-256 hash is stored; the token is shown once, at creation. */
@Entity({ name: 'personal_access_tokens' })
export class PersonalAccessTokenEntity {
  @PrimaryColumn({ type: 'varchar', length: 20 })
  id: string;

  @Index('ix_pat_user')
  @Column({ type: 'varchar', length: 20, name: 'user_id' })
  userId: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: UserEntity;

  @Column({ type: 'varchar', length: 64, name: 'token_hash', unique: true })
  tokenHash: string;

  @InstantColumn({ name: 'expires_at', nullable: true })
  expiresAt: number | null;

  @InstantColumn({ name: 'created_at' })
  createdAt: number;
}
