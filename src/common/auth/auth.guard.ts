import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { CommonErrors } from '../errors/common-errors';
import { AuthDirectory } from './auth-directory';
import { PERMISSION_KEY, PermissionSpec, PUBLIC_KEY, TargetRef } from './decorators';
import { Principal } from './principal';
import { TokenVerifier } from './token-verifier';

export interface GuardRequest {
  headers: Record<string, string | string[] | undefined>;
  params?: Record<string, string>;
  body?: unknown;
  principal?: Principal;
}

/**
 * The one global guard, deny by default. Answers "may this caller call this route":
 * - `@Public()` routes pass; every other route needs a valid bearer token (401 otherwise);
 * - a route without `@RequirePermission` is refused (403) – the route-permission test keeps that from happening;
 * - with `self`, a caller acting on itself passes;
 * - otherwise the caller needs the permission on the target's organisation (or instance-wide).
 * Policy for misses (README "Permissions"): a caller without the permission gets 403 whether or not
 * the target exists; only an instance-wide holder gets through to the service's 404 for an unknown
 * target, so organisation-scoped callers cannot probe other organisations.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: TokenVerifier,
    private readonly directory: AuthDirectory,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const req = context.switchToHttp().getRequest<GuardRequest>();
    const header = req.headers['authorization'];
    const principal = await this.verifier.verify(Array.isArray(header) ? header[0] : header);
    req.principal = principal;

    const spec = this.reflector.getAllAndOverride<PermissionSpec | undefined>(PERMISSION_KEY, targets);
    if (!spec) throw CommonErrors.permissionDenied();
    if (spec.permission === 'authenticated') return true;
    const permission = spec.permission;
    if (!spec.target) {
      if (principal.canOnInstance(permission)) return true;
      throw CommonErrors.permissionDenied();
    }
    const targetId = readTarget(req, spec.target);
    if (spec.target.kind === 'user') {
      if (spec.self && targetId !== undefined && targetId === principal.userId) return true;
      if (principal.canOnInstance(permission)) return true;
      const org = targetId === undefined ? undefined : await this.directory.orgOfUser(targetId);
      if (org !== undefined && principal.can(permission, org)) return true;
      throw CommonErrors.permissionDenied();
    }
    if (targetId !== undefined && principal.can(permission, targetId)) return true;
    if (principal.canOnInstance(permission)) return true;
    throw CommonErrors.permissionDenied();
  }
}

/** The id a route acts on, read from its path parameters or (raw, unvalidated) body. */
export function readTarget(req: GuardRequest, ref: TargetRef): string | undefined {
  if (ref.from === 'param') {
    const v = req.params?.[ref.key];
    return typeof v === 'string' && v.length > 0 ? v : undefined;
  }
  let cur: unknown = req.body;
  for (const part of ref.key.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return typeof cur === 'string' && cur.length > 0 ? cur : undefined;
}
