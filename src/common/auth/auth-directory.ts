import { Principal } from './principal';

/**
 * The port through which common auth reads identity data. The identity module implements it;
 * the guard and the token verifier only know this contract.
 */
export abstract class AuthDirectory {
  /**
   * The principal of a PAT, by the SHA-256 hash of the token; undefined when unknown, expired, revoked or
   * the user is not active. Its `credentialExpiresAt` is the PAT's expiry, so a cached entry dies with it.
   */
  abstract principalForTokenHash(tokenHash: string): Promise<Principal | undefined>;
  /** The principal of a user id (for verified JWTs); undefined when the user is unknown or not active. */
  abstract principalForUser(userId: string): Promise<Principal | undefined>;
  /** The organisation of a user, or undefined when there is no such user. */
  abstract orgOfUser(userId: string): Promise<string | undefined>;
}
