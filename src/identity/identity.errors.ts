import { CommonErrors } from '../common/errors/common-errors';
import { Errors } from '../common/errors/domain-error';

/** Every error the identity routes answer with (ZITADEL family). */
export const IdentityErrors = {
  userNotFound: CommonErrors.userNotFound,
  permissionDenied: CommonErrors.permissionDenied,
  orgNotFound: () => Errors.notFound('COMMAND-55M9f', 'Organisation not found'),
  orgExists: () => Errors.alreadyExists('COMMAND-8ugTs', 'Organisation already exists'),
  userExists: () => Errors.alreadyExists('COMMAND-k2unb', 'User already exists'),
  lastOwner: () =>
    Errors.failedPrecondition(
      'IDENTITY-own01',
      'The last active IAM_OWNER cannot be removed, locked or deactivated',
    ),
  /** A state change the user's current state does not allow (ids and texts in STATE_CHANGES). */
  wrongUserState: (id: string, message: string) => Errors.failedPrecondition(id, message),
  expirationNotTimestamp: () =>
    Errors.invalidArgument(
      undefined,
      'invalid AddPersonalAccessTokenRequest.ExpirationDate: value must be an RFC 3339 timestamp',
    ),
  expirationInPast: () => Errors.invalidArgument('COMMAND-dv3t5', 'Expiration date must be in the future'),
  tokenNotFound: () => Errors.notFound('COMMAND-Dggw2', 'Personal Access Token not found'),
  memberNotFound: () => Errors.notFound('MEMBER-4n9fs', 'Member not found'),
  noValidRole: () => Errors.invalidArgument('IAM-4m0gf', 'At least one valid role is required'),
};
