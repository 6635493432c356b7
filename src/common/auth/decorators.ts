import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiExtension } from '@nestjs/swagger';
import { Permission } from './permissions';
import { Principal } from './principal';

export const PUBLIC_KEY = 'mfa:public';
export const PERMISSION_KEY = 'mfa:permission';

/** Where the guard finds the object a route acts on. */
export type TargetRef =
  | { kind: 'user'; from: 'param' | 'body'; key: string }
  | { kind: 'org'; from: 'param' | 'body'; key: string };

export interface PermissionSpec {
  /** `authenticated`: any valid token; the service decides (e.g. "is this challenge yours"). */
  permission: Permission | 'authenticated';
  /** The caller acting on itself passes without the permission. */
  self?: boolean;
  /** The object whose organisation the permission is checked on; none = instance-wide permission. */
  target?: TargetRef;
}

export const userParam = (key = 'userId'): TargetRef => ({ kind: 'user', from: 'param', key });
export const userBody = (key = 'userId'): TargetRef => ({ kind: 'user', from: 'body', key });
export const orgParam = (key = 'orgId'): TargetRef => ({ kind: 'org', from: 'param', key });
export const orgBody = (key: string): TargetRef => ({ kind: 'org', from: 'body', key });

/** The route needs no token (health, docs). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

/**
 * The permission a route needs, read by the global AuthGuard. Also documents bearer auth and the
 * permission in OpenAPI (`x-permission`).
 */
export function RequirePermission(
  permission: PermissionSpec['permission'],
  opts: Omit<PermissionSpec, 'permission'> = {},
) {
  const spec: PermissionSpec = { permission, ...opts };
  return applyDecorators(
    SetMetadata(PERMISSION_KEY, spec),
    ApiBearerAuth('bearer'),
    ApiExtension('x-permission', { permission, self: !!opts.self }),
  );
}

/** The authenticated caller, as a handler parameter: `@Caller() caller: Principal`. */
export const Caller = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal => {
  const req = ctx.switchToHttp().getRequest<{ principal?: Principal }>();
  if (!req.principal) throw new Error('no principal on request: route is @Public()?');
  return req.principal;
});
