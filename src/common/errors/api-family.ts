import { SetMetadata } from '@nestjs/common';

/** The wire formats of the APIs this service speaks. */
export type ApiFamily = 'zitadel' | 'email-challenge';
export const API_FAMILY_KEY = 'mfa:api-family';

/**
 * Declares the error format (and unknown-field policy) of a controller's routes.
 * Controllers without it speak the ZITADEL format.
 */
export const UseApiFamily = (family: ApiFamily) => SetMetadata(API_FAMILY_KEY, family);
