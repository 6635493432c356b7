import { Column, Entity, PrimaryColumn } from 'typeorm';
import { InstantColumn } from '../../common/database/columns';

export type OrganizationState = 'ACTIVE' | 'INACTIVE';

@Entity({ name: 'organizations' })
export class OrganizationEntity {
  @PrimaryColumn({ type: 'varchar', length: 20 })
  id: string;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  /** Lower-case primary domain, used for login names and `organization.orgDomain` lookups. */
  @Column({ type: 'varchar', length: 253, name: 'primary_domain', unique: true })
  primaryDomain: string;

  @Column({ type: 'varchar', length: 16 })
  state: OrganizationState;

  @Column({ type: 'boolean', name: 'is_default', default: false })
  isDefault: boolean;

  @InstantColumn({ name: 'created_at' })
  createdAt: number;
}
