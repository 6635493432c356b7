/** Roles that apply to every organisation. */
export const INSTANCE_ROLES = ['IAM_OWNER', 'IAM_USER_MANAGER', 'MFA_CHALLENGE_ISSUER'] as const;
/** Roles that apply to one organisation. */
export const ORG_ROLES = ['ORG_OWNER', 'ORG_USER_MANAGER'] as const;
export type InstanceRole = (typeof INSTANCE_ROLES)[number];
export type OrgRole = (typeof ORG_ROLES)[number];
export type Role = InstanceRole | OrgRole;

export const PERMISSIONS = [
  'user.read',
  'user.write',
  'user.credential.write',
  'org.create',
  'org.member.write',
  'iam.member.write',
  'mfa.challenge.write',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** Role → permissions, after ZITADEL's InternalAuthZ.RolePermissionMappings (see README "Permissions"). */
export const ROLE_PERMISSIONS = {
  IAM_OWNER: [
    'user.read',
    'user.write',
    'user.credential.write',
    'org.create',
    'org.member.write',
    'iam.member.write',
    'mfa.challenge.write',
  ],
  IAM_USER_MANAGER: ['user.read', 'user.write'],
  MFA_CHALLENGE_ISSUER: ['mfa.challenge.write'],
  ORG_OWNER: ['user.read', 'user.write', 'user.credential.write', 'org.member.write'],
  ORG_USER_MANAGER: ['user.read', 'user.write'],
} as const satisfies Record<Role, readonly Permission[]>;
