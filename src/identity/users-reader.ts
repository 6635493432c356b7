import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { BatchedReads } from '../common/database/batched-reads';
import { rawQuery } from '../common/database/db-dialect';
import { ID_PATTERN } from '../common/database/id-generator';
import { CommonErrors } from '../common/errors/common-errors';
import { DomainError } from '../common/errors/domain-error';
import { DataSource } from 'typeorm';
import { UserState, UserType } from './entities/user.entity';

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

/** A row of USER_SQL: users joined with their organisation (SQLite answers booleans as 0/1). */
interface UserRow {
  id: string;
  org_id: string;
  org_domain: string;
  type: UserType;
  state: UserState;
  username: string;
  email: string | null;
  email_verified: boolean | number;
  phone: string | null;
  phone_verified: boolean | number;
  preferred_language: string | null;
}

/** The user and its organisation, by primary key (every factor request starts with it). */
const USER_COLUMNS = `SELECT u.id, u.org_id, o.primary_domain AS org_domain, u.type, u.state, u.username, u.email,
    u.email_verified, u.phone, u.phone_verified, u.preferred_language
  FROM users u JOIN organizations o ON o.id = u.org_id`;
const USER_SQL = `${USER_COLUMNS} WHERE u.id = $1`;
/** PostgreSQL: the users of the lookups that arrive together, in one statement (BatchedReads). */
const USERS_SQL = `${USER_COLUMNS} WHERE u.id = ANY($1::varchar[])`;

/**
 * What the identity module lets feature modules read about users and organisations. These reads run
 * on every factor request, so they are plain SQL through rawQuery, not the ORM.
 */
@Injectable()
export class UsersReader {
  private readonly users: BatchedReads<UserRow>;

  constructor(@InjectDataSource() private readonly ds: DataSource) {
    this.users = new BatchedReads<UserRow>(
      ds,
      async (id) => (await rawQuery<UserRow>(ds, USER_SQL, [id])).rows,
      async (ids) => (await rawQuery<UserRow>(ds, USERS_SQL, [ids])).rows,
      (row) => row.id,
    );
  }

  async findUser(userId: string): Promise<UserView | undefined> {
    if (!ID_PATTERN.test(userId)) return undefined;
    const [row] = await this.users.get(userId);
    return row ? toView(row) : undefined;
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
    const { rows } = await rawQuery<{ id: string; primary_domain: string }>(
      this.ds,
      `SELECT id, primary_domain FROM organizations WHERE primary_domain = $1`,
      [domain.toLowerCase()],
    );
    return rows[0] ? { id: rows[0].id, primaryDomain: rows[0].primary_domain } : undefined;
  }
}

function toView(r: UserRow): UserView {
  return {
    id: r.id,
    orgId: r.org_id,
    orgDomain: r.org_domain,
    type: r.type,
    state: r.state,
    username: r.username,
    loginName: `${r.username}@${r.org_domain}`,
    email: r.email,
    emailVerified: !!r.email_verified,
    phone: r.phone,
    phoneVerified: !!r.phone_verified,
    preferredLanguage: r.preferred_language,
  };
}
