import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuthDirectory } from '../common/auth/auth-directory';
import { INSTANCE_ROLES, ORG_ROLES, Role } from '../common/auth/permissions';
import { Principal } from '../common/auth/principal';
import { BatchedReads } from '../common/database/batched-reads';
import { rawQuery } from '../common/database/db-dialect';
import { ID_PATTERN } from '../common/database/id-generator';
import { Clock } from '../common/time/clock';
import { INSTANCE_SCOPE } from './entities/membership.entity';

interface UserRow {
  id: string;
  org_id: string;
  type: 'human' | 'machine';
  state: string;
}

/** A user's row joined with one of its memberships (scope and roles null when it has none). */
interface UserWithRoles extends UserRow {
  scope: string | null;
  roles: string | null;
}

/** A token's row joined with its user and one of the user's memberships. */
interface TokenRow extends UserWithRoles {
  token_hash: string;
  token_id: string;
  expires_at: string | number | null;
}

/** A token with its user, once per membership of the user; the WHERE clause picks the tokens. */
const TOKEN_SQL = `SELECT u.id, u.org_id, u.type, u.state, t.token_hash, t.id AS token_id, t.expires_at, m.scope, m.roles
  FROM personal_access_tokens t JOIN users u ON u.id = t.user_id
  LEFT JOIN memberships m ON m.user_id = u.id`;

/** A user once per membership (one row with nulls when it has none); the WHERE clause picks the users. */
const USER_SQL = `SELECT u.id, u.org_id, u.type, u.state, m.scope, m.roles
  FROM users u LEFT JOIN memberships m ON m.user_id = u.id`;

/** The identity module's implementation of the auth port: tokens, users and memberships → Principal. */
@Injectable()
export class IdentityDirectory extends AuthDirectory {
  /** user id → organisation id. Users never change organisation, so only a removal ends an entry. */
  private readonly orgs = new Map<string, string>();

  /** Tokens and users with their memberships; on PostgreSQL the lookups of one turn share a SELECT. */
  private readonly tokens: BatchedReads<TokenRow>;
  private readonly users: BatchedReads<UserWithRoles>;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly clock: Clock,
  ) {
    super();
    this.tokens = new BatchedReads<TokenRow>(
      ds,
      async (hash) => (await rawQuery<TokenRow>(ds, `${TOKEN_SQL} WHERE t.token_hash = $1`, [hash])).rows,
      async (hashes) =>
        (await rawQuery<TokenRow>(ds, `${TOKEN_SQL} WHERE t.token_hash = ANY($1::varchar[])`, [hashes])).rows,
      (row) => row.token_hash,
    );
    this.users = new BatchedReads<UserWithRoles>(
      ds,
      async (id) => (await rawQuery<UserWithRoles>(ds, `${USER_SQL} WHERE u.id = $1`, [id])).rows,
      async (ids) =>
        (await rawQuery<UserWithRoles>(ds, `${USER_SQL} WHERE u.id = ANY($1::varchar[])`, [ids])).rows,
      (row) => row.id,
    );
  }

  async principalForTokenHash(tokenHash: string): Promise<Principal | undefined> {
    const rows = await this.tokens.get(tokenHash);
    const row = rows[0];
    if (!row) return undefined;
    if (row.expires_at !== null && Number(row.expires_at) <= this.clock.now()) return undefined;
    if (row.state !== 'ACTIVE') return undefined;
    return this.principalOf(
      rows,
      'pat',
      row.token_id,
      row.expires_at === null ? undefined : Number(row.expires_at),
    );
  }

  async principalForUser(userId: string): Promise<Principal | undefined> {
    const rows = await this.userWithRoles(userId);
    return rows[0]?.state === 'ACTIVE' ? this.principalOf(rows, 'jwt') : undefined;
  }

  /** The roles of a user whatever its state, as a Principal (for "may the caller act on this user"). */
  async rolesOfUser(userId: string): Promise<Principal | undefined> {
    const rows = await this.userWithRoles(userId);
    return rows[0] ? this.principalOf(rows, 'pat') : undefined;
  }

  /** Asked by the guard on every call on another user: served from memory after the first lookup. */
  async orgOfUser(userId: string): Promise<string | undefined> {
    const cached = this.orgs.get(userId);
    if (cached !== undefined) return cached;
    if (!ID_PATTERN.test(userId)) return undefined;
    const { rows } = await rawQuery<{ org_id: string }>(this.ds, `SELECT org_id FROM users WHERE id = $1`, [
      userId,
    ]);
    const org = rows[0]?.org_id;
    if (org !== undefined) {
      if (this.orgs.size >= 50_000) this.orgs.clear();
      this.orgs.set(userId, org);
    }
    return org;
  }

  /** A removed user has no organisation any more (other instances keep theirs only until restart: harmless, the services answer 404). */
  forgetUser(userId: string): void {
    this.orgs.delete(userId);
  }

  /** The user's row once per membership (one row with no membership when it has none); none when unknown. */
  private async userWithRoles(userId: string): Promise<UserWithRoles[]> {
    if (!ID_PATTERN.test(userId)) return [];
    return this.users.get(userId);
  }

  /** The Principal of a user read with its memberships (one SELECT, one row per membership). */
  private principalOf(
    rows: UserWithRoles[],
    method: 'pat' | 'jwt',
    tokenId?: string,
    expiresAt?: number,
  ): Principal {
    const user = rows[0];
    let instanceRoles: Role[] = [];
    const orgRoles = new Map<string, Role[]>();
    for (const m of rows) {
      if (m.scope === null || m.roles === null) continue;
      const roles = m.roles.split(',').filter(Boolean) as Role[];
      if (m.scope === INSTANCE_SCOPE)
        instanceRoles = roles.filter((r) => (INSTANCE_ROLES as readonly string[]).includes(r));
      else
        orgRoles.set(
          m.scope,
          roles.filter((r) => (ORG_ROLES as readonly string[]).includes(r)),
        );
    }
    return new Principal(
      user.id,
      user.org_id,
      user.type,
      method,
      instanceRoles,
      orgRoles,
      tokenId,
      expiresAt,
    );
  }
}
