import { DiscoveryService } from '@nestjs/core';

/** ZITADEL's `zitadel.user.v2.AuthenticationMethodType` values this service can hold, in enum order. */
export const AUTH_METHOD_TYPES = [
  'AUTHENTICATION_METHOD_TYPE_TOTP',
  'AUTHENTICATION_METHOD_TYPE_OTP_SMS',
  'AUTHENTICATION_METHOD_TYPE_OTP_EMAIL',
  'AUTHENTICATION_METHOD_TYPE_RECOVERY_CODE',
] as const;
export type AuthMethodType = (typeof AUTH_METHOD_TYPES)[number];

/**
 * The port through which a feature module tells which ready factors a user holds. Each module that
 * holds factors provides one implementation marked with `@AuthMethodSourceProvider()`; the factor
 * list finds them all through Nest's discovery, so no module imports another to be listed.
 */
export interface AuthMethodSource {
  /** The ready factors of the user that this module holds (none: empty). */
  readyMethods(userId: string): Promise<AuthMethodType[]>;
}

/** Marks a provider as an AuthMethodSource (Nest has no multi-providers; discovery finds the marked ones). */
export const AuthMethodSourceProvider = DiscoveryService.createDecorator<true>();
