import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { PUBLIC_KEY } from '../auth/decorators';
import { TokenVerifier } from '../auth/token-verifier';
import { API_FAMILY_KEY, ApiFamily } from '../errors/api-family';
import { DomainError } from '../errors/domain-error';
import { runeLength } from './fields';

/** Longest id a ZITADEL request field takes (every id field of its protos: `max_len: 200`). */
export const MAX_PATH_ID_RUNES = 200;

/**
 * The length rule of ZITADEL's request messages for the ids the REST routes take from their path,
 * checked before the permission: ZITADEL answers an over-long id with 400
 * `invalid <Request>.<Field>: value length must be between 1 and 200 runes, inclusive` whoever
 * asks, where the permission check alone would answer 403 or 404 depending on the caller. As
 * there, an unauthenticated call is still told 401 first. The route handlers are named after the
 * RPCs, so `<Request>` is the handler's name plus `Request`; `<Field>` is the parameter, capitalised
 * as protoc-gen-validate writes it (`userId` → `UserId`). Only the ZITADEL API family.
 */
@Injectable()
export class PathIdGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: TokenVerifier,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    const family = this.reflector.getAllAndOverride<ApiFamily | undefined>(API_FAMILY_KEY, targets);
    if (family !== undefined && family !== 'zitadel') return true;
    const req = context.switchToHttp().getRequest<{
      params?: Record<string, unknown>;
      headers: Record<string, string | string[] | undefined>;
    }>();
    const tooLong = Object.entries(req.params ?? {}).find(
      ([, v]) => typeof v === 'string' && runeLength(v) > MAX_PATH_ID_RUNES,
    );
    if (!tooLong) return true;
    if (!this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) {
      const header = req.headers['authorization'];
      await this.verifier.verify(Array.isArray(header) ? header[0] : header);
    }
    const [name] = tooLong;
    const reason = `value length must be between 1 and ${MAX_PATH_ID_RUNES} runes, inclusive`;
    throw new DomainError(
      'INVALID_ARGUMENT',
      undefined,
      `invalid ${context.getHandler().name}Request.${name[0].toUpperCase()}${name.slice(1)}: ${reason}`,
      { fieldErrors: [{ field: name, message: reason }] },
    );
  }
}
