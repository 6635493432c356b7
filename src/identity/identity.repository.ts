import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { rawQuery } from '../common/database/db-dialect';
import { ID_PATTERN } from '../common/database/id-generator';
import { INSTANCE_SCOPE, MembershipEntity } from './entities/membership.entity';
import { OrganizationEntity } from './entities/organization.entity';
import { PersonalAccessTokenEntity } from './entities/personal-access-token.entity';
import { UserEntity, UserState } from './entities/user.entity';

/**
 * Storage of organisations, users, tokens and memberships. Writes take the transaction's
 * EntityManager first (the service opens transactions through TransactionRunner); reads need none
 * (an optional last `em` reads inside one).
 */
@Injectable()
export class IdentityRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  async countOrganizations(em?: EntityManager): Promise<number> {
    return (em ?? this.ds.manager).count(OrganizationEntity);
  }

  async findOrganization(orgId: string, em?: EntityManager): Promise<OrganizationEntity | null> {
    if (!ID_PATTERN.test(orgId)) return null;
    return (em ?? this.ds.manager).findOneBy(OrganizationEntity, { id: orgId });
  }

  async organizationNameTaken(name: string, em?: EntityManager): Promise<boolean> {
    const { rows } = await rawQuery(
      em ?? this.ds,
      `SELECT 1 AS x FROM organizations WHERE lower(name) = lower($1)`,
      [name],
    );
    return rows.length > 0;
  }

  async domainTaken(domain: string, em?: EntityManager): Promise<boolean> {
    return (await (em ?? this.ds.manager).countBy(OrganizationEntity, { primaryDomain: domain })) > 0;
  }

  async insertOrganization(em: EntityManager, org: OrganizationEntity): Promise<void> {
    await em.insert(OrganizationEntity, org);
  }

  async findUser(userId: string, em?: EntityManager): Promise<UserEntity | null> {
    if (!ID_PATTERN.test(userId)) return null;
    return (em ?? this.ds.manager).findOneBy(UserEntity, { id: userId });
  }

  async insertUser(em: EntityManager, user: UserEntity): Promise<void> {
    await em.insert(UserEntity, user);
  }

  async setUserState(em: EntityManager, userId: string, state: UserState): Promise<void> {
    await em.update(UserEntity, { id: userId }, { state });
  }

  /** Deletes the user; tokens, memberships and every factor table referencing users.id cascade. */
  async deleteUser(em: EntityManager, userId: string): Promise<void> {
    await em.delete(UserEntity, { id: userId });
  }

  async insertToken(em: EntityManager, token: PersonalAccessTokenEntity): Promise<void> {
    await em.insert(PersonalAccessTokenEntity, token);
  }

  /** True when the token existed for that user and is now gone. */
  async deleteToken(em: EntityManager, userId: string, tokenId: string): Promise<boolean> {
    if (!ID_PATTERN.test(tokenId)) return false;
    const res = await em.delete(PersonalAccessTokenEntity, { id: tokenId, userId });
    return !!res.affected;
  }

  async findMembership(userId: string, scope: string, em?: EntityManager): Promise<MembershipEntity | null> {
    return (em ?? this.ds.manager).findOneBy(MembershipEntity, { userId, scope });
  }

  async saveMembership(
    em: EntityManager,
    userId: string,
    scope: string,
    roles: string[],
    now: number,
  ): Promise<void> {
    await em.upsert(MembershipEntity, { userId, scope, roles: roles.join(','), changedAt: now }, [
      'userId',
      'scope',
    ]);
  }

  /** True when there was a membership to remove. */
  async deleteMembership(em: EntityManager, userId: string, scope: string): Promise<boolean> {
    const res = await em.delete(MembershipEntity, { userId, scope });
    return !!res.affected;
  }

  /** Active users holding IAM_OWNER (for the "never lose the last IAM_OWNER" rule). */
  async activeInstanceOwners(em?: EntityManager): Promise<string[]> {
    const { rows } = await rawQuery<{ user_id: string; roles: string }>(
      em ?? this.ds,
      `SELECT m.user_id, m.roles FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.scope = $1 AND u.state = $2`,
      [INSTANCE_SCOPE, 'ACTIVE'],
    );
    return rows.filter((m) => m.roles.split(',').includes('IAM_OWNER')).map((m) => m.user_id);
  }
}
