import { Errors } from './domain-error';

/**
 * Errors that more than one module answers with, in the ZITADEL family. A module's own errors live
 * in its `x.errors.ts`; these are the ones that must read the same wherever they are thrown.
 */
export const CommonErrors = {
  /** ZITADEL's permission miss; `reason` says why when the rule is one the caller cannot guess. */
  permissionDenied: (reason?: string) =>
    Errors.permissionDenied('AUTH-AWfge', `No matching permissions found${reason ? `: ${reason}` : ''}`),
  /** An unknown user (or one the request's scope does not reach), as ZITADEL's user commands say it. */
  userNotFound: () => Errors.notFound('COMMAND-bx2OLtgGNS', 'User could not be found'),
};
