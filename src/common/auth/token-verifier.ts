import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, JWTVerifyGetKey } from 'jose';
import { AppConfig } from '../config/app-config';
import { Errors } from '../errors/domain-error';
import { Clock } from '../time/clock';
import { AuthDirectory } from './auth-directory';
import { Principal } from './principal';

export const TOKEN_INVALID = () => Errors.unauthenticated('AUTH-7fs1e', 'Token is invalid');

/** SHA-256 hex of a token: the only form in which tokens are stored or cached. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

interface CacheEntry {
  principal: Principal;
  expires: number;
}

/**
 * Turns an `Authorization` header into a Principal. PATs are looked up by hash; JWTs (when OIDC_* is
 * configured) are verified against the provider's JWKS (cached by jose). Results are cached for
 * TOKEN_CACHE_SECONDS (never beyond the credential's own expiry) so a hot path costs one map lookup;
 * concurrent first lookups of one token share one database query. Revocations, role changes and user
 * state changes drop the affected entries at once (and a lookup that was in flight during an
 * invalidation is not cached): in this process directly, in other instances on the same PostgreSQL
 * database through RevocationBus; while that bus is disconnected, other instances see them after the TTL.
 */
@Injectable()
export class TokenVerifier {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<{ principal: Principal; expiresAt?: number }>>();
  /** Bumped by every invalidation, so a lookup that raced with one is not cached. */
  private generation = 0;
  private readonly ttlMs: number;
  private readonly jwks?: JWTVerifyGetKey;

  constructor(
    private readonly config: AppConfig,
    private readonly directory: AuthDirectory,
    private readonly clock: Clock,
  ) {
    this.ttlMs = config.auth.tokenCacheSeconds * 1000;
    if (config.auth.oidc)
      this.jwks = createRemoteJWKSet(new URL(config.auth.oidc.jwksUrl), { cacheMaxAge: 10 * 60_000 });
  }

  async verify(authorization: string | undefined): Promise<Principal> {
    if (authorization === undefined || authorization === '') {
      throw Errors.unauthenticated(undefined, 'auth header missing');
    }
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
    if (!m) throw Errors.unauthenticated('AUTH-toLo1', 'invalid auth header');
    const token = m[1];
    if (token.length > 4096) throw TOKEN_INVALID();
    const key = hashToken(token);
    const hit = this.cache.get(key);
    if (hit && hit.expires > this.clock.now()) return hit.principal;
    if (hit) this.cache.delete(key);

    let lookup = this.inflight.get(key);
    if (!lookup) {
      const generation = this.generation;
      lookup = (token.split('.').length === 3 ? this.verifyJwt(token) : this.verifyPat(key)).finally(() => {
        if (this.inflight.get(key) === lookup) this.inflight.delete(key);
      });
      this.inflight.set(key, lookup);
      const { principal, expiresAt } = await lookup;
      const now = this.clock.now();
      if (this.ttlMs > 0 && generation === this.generation) {
        if (this.cache.size >= 10_000) this.cache.clear();
        this.cache.set(key, { principal, expires: Math.min(now + this.ttlMs, expiresAt ?? Infinity) });
      }
      return principal;
    }
    return (await lookup).principal;
  }

  /** Drop every cached principal of a user (revoked token, changed roles, locked or deleted user). */
  invalidateUser(userId: string): void {
    this.generation++;
    this.inflight.clear();
    for (const [k, v] of this.cache) if (v.principal.userId === userId) this.cache.delete(k);
  }

  /** Drop the cached principal of one personal access token (revoked). */
  invalidateToken(tokenId: string): void {
    this.generation++;
    this.inflight.clear();
    for (const [k, v] of this.cache) if (v.principal.tokenId === tokenId) this.cache.delete(k);
  }

  invalidateAll(): void {
    this.generation++;
    this.inflight.clear();
    this.cache.clear();
  }

  private async verifyPat(hash: string): Promise<{ principal: Principal; expiresAt?: number }> {
    const principal = await this.directory.principalForTokenHash(hash);
    if (!principal) throw TOKEN_INVALID();
    return { principal, expiresAt: principal.credentialExpiresAt };
  }

  private async verifyJwt(token: string): Promise<{ principal: Principal; expiresAt?: number }> {
    const oidc = this.config.auth.oidc;
    if (!oidc || !this.jwks) throw TOKEN_INVALID();
    let sub: string | undefined;
    let exp: number | undefined;
    try {
      const { payload } = await jwtVerify(token, this.jwks, {
        issuer: oidc.issuer,
        audience: oidc.audience,
        currentDate: new Date(this.clock.now()),
        requiredClaims: ['sub', 'exp'],
      });
      sub = payload.sub;
      exp = payload.exp;
    } catch {
      throw TOKEN_INVALID();
    }
    if (!sub) throw TOKEN_INVALID();
    const principal = await this.directory.principalForUser(sub);
    if (!principal) throw TOKEN_INVALID();
    return { principal, expiresAt: exp ? exp * 1000 : undefined };
  }
}
