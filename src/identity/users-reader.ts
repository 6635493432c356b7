import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { ID_PATTERN } from '../common/database/id-generator';
import { CommonErrors } from '../common/errors/common-errors';
import { DomainError } from '../common/errors/domain-error';
import { DataSource } from 'typeorm';
import { OrganizationEntity } from './entities/organization.entity';
import { UserEntity, UserState, UserType } from './entities/user.entity';

/** A user as other modules see it: a read model, never the entity. */
export interface UserView {
  id: string;
  orgId: string;
  orgDomain: string;
  type: UserType;
  state: UserState;
  username: string;
  /** `username@<org primary domain>` */
  loginName: string;
  email: string | null;
  emailVerified: boolean;
  phone: string | null;
  phoneVerified: boolean;
  preferredLanguage: string | null;
}

/** What the identity module lets feature modules read about users and organisations. */
@Injectable()
export class UsersReader {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  async findUser(userId: string): Promise<UserView | undefined> {
    if (!ID_PATTERN.test(userId)) return undefined;
    const user = await this.ds
      .getRepository(UserEntity)
      .findOne({ where: { id: userId }, relations: { org: true } });
    if (!user || !user.org) return undefined;
    return toView(user, user.org);
  }

  /**
   * The human user `userId` (the user every factor belongs to), or the module's "user not found" error
   * (default: CommonErrors.userNotFound) when there is none or it is a machine user.
   */
  async requireHuman(
    userId: string,
    notFound: () => DomainError = CommonErrors.userNotFound,
  ): Promise<UserView> {
    const user = await this.findUser(userId);
    if (!user || user.type !== 'human') throw notFound();
    return user;
  }

  async findOrgByDomain(domain: string): Promise<{ id: string; primaryDomain: string } | undefined> {
    const org = await this.ds
      .getRepository(OrganizationEntity)
      .findOne({ where: { primaryDomain: domain.toLowerCase() } });
    return org ? { id: org.id, primaryDomain: org.primaryDomain } : undefined;
  }
}

export function toView(user: UserEntity, org: OrganizationEntity): UserView {
  return {
    id: user.id,
    orgId: user.orgId,
    orgDomain: org.primaryDomain,
    type: user.type,
    state: user.state,
    username: user.username,
    loginName: `${user.username}@${org.primaryDomain}`,
    email: user.email,
    emailVerified: !!user.emailVerified,
    phone: user.phone,
    phoneVerified: !!user.phoneVerified,
    preferredLanguage: user.preferredLanguage,
  };
}
