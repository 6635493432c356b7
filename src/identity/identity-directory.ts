import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuthDirectory } from '../common/auth/auth-directory';
import { INSTANCE_ROLES, ORG_ROLES, Role } from '../common/auth/permissions';
import { Principal } from '../common/auth/principal';
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

/** The identity module's implementation of the auth port: tokens, users and memberships → Principal. */
@Injectable()
export class IdentityDirectory extends AuthDirectory {
  /** user id → organisation id. Users never change organisation, so only a removal ends an entry. */
  private readonly orgs = new Map<string, string>();

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly clock: Clock,
  ) {
    super();
  }

  async principalForTokenHash(tokenHash: string): Promise<Principal | undefined> {
    const { rows } = await rawQuery<UserRow & { token_id: string; expires_at: string | number | null }>(
      this.ds,
      `SELECT u.id, u.org_id, u.type, u.state, t.id AS token_id, t.expires_at
         FROM personal_access_tokens t JOIN users u ON u.id = t.user_id
        WHERE t.token_hash = $1`,
      [tokenHash],
    );
    const row = rows[0];
    if (!row) return undefined;
    if (row.expires_at !== null && Number(row.expires_at) <= this.clock.now()) return undefined;
    return this.toPrincipal(
      row,
      'pat',
      row.token_id,
      row.expires_at === null ? undefined : Number(row.expires_at),
    );
  }

  async principalForUser(userId: string): Promise<Principal | undefined> {
    if (!ID_PATTERN.test(userId)) return undefined;
    const { rows } = await rawQuery<UserRow>(
      this.ds,
      `SELECT id, org_id, type, state FROM users WHERE id = $1`,
      [userId],
    );
    return rows[0] ? this.toPrincipal(rows[0], 'jwt') : undefined;
  }

  /** The roles of a user whatever its state, as a Principal (for "may the caller act on this user"). */
  async rolesOfUser(userId: string): Promise<Principal | undefined> {
    if (!ID_PATTERN.test(userId)) return undefined;
    const { rows } = await rawQuery<UserRow>(
      this.ds,
      `SELECT id, org_id, type, state FROM users WHERE id = $1`,
      [userId],
    );
    return rows[0] ? this.buildPrincipal(rows[0], 'pat') : undefined;
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

  private async toPrincipal(
    user: UserRow,
    method: 'pat' | 'jwt',
    tokenId?: string,
    expiresAt?: number,
  ): Promise<Principal | undefined> {
    if (user.state !== 'ACTIVE') return undefined;
    return this.buildPrincipal(user, method, tokenId, expiresAt);
  }

  private async buildPrincipal(
    user: UserRow,
    method: 'pat' | 'jwt',
    tokenId?: string,
    expiresAt?: number,
  ): Promise<Principal> {
    const { rows } = await rawQuery<{ scope: string; roles: string }>(
      this.ds,
      `SELECT scope, roles FROM memberships WHERE user_id = $1`,
      [user.id],
    );
    let instanceRoles: Role[] = [];
    const orgRoles = new Map<string, Role[]>();
    for (const m of rows) {
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
