import { Permission, ROLE_PERMISSIONS, Role } from './permissions';

/** Who is calling: the token's user and what it may do where. Immutable, cached per token. */
export class Principal {
  private readonly instancePerms: Set<Permission>;
  private readonly orgPerms: Map<string, Set<Permission>>;

  constructor(
    readonly userId: string,
    /** The caller's own organisation. */
    readonly orgId: string,
    readonly userType: 'human' | 'machine',
    readonly authMethod: 'pat' | 'jwt',
    readonly instanceRoles: readonly Role[],
    readonly orgRoles: ReadonlyMap<string, readonly Role[]>,
    /** The PAT id, when authenticated by a PAT. */
    readonly tokenId?: string,
    /** When the credential (PAT or JWT) stops being valid (epoch ms); undefined = no expiry. */
    readonly credentialExpiresAt?: number,
  ) {
    this.instancePerms = new Set(instanceRoles.flatMap((r) => ROLE_PERMISSIONS[r] as readonly Permission[]));
    this.orgPerms = new Map(
      [...orgRoles].map(([org, roles]) => [
        org,
        new Set(roles.flatMap((r) => ROLE_PERMISSIONS[r] as readonly Permission[])),
      ]),
    );
  }

  /** May the caller do `permission` on objects of organisation `orgId`? */
  can(permission: Permission, orgId: string): boolean {
    return this.instancePerms.has(permission) || (this.orgPerms.get(orgId)?.has(permission) ?? false);
  }

  /** Does the caller hold `permission` for the whole instance? */
  canOnInstance(permission: Permission): boolean {
    return this.instancePerms.has(permission);
  }

  /**
   * Does the caller hold every permission `other` holds, on the same scope? Used so nobody can act
   * on a more privileged user's credentials (e.g. mint a token for an IAM_OWNER) to gain its rights.
   */
  covers(other: Principal): boolean {
    for (const p of other.instancePerms) if (!this.canOnInstance(p)) return false;
    for (const [org, perms] of other.orgPerms) for (const p of perms) if (!this.can(p, org)) return false;
    return true;
  }
}
