import { DomainError, Errors } from '../common/errors/domain-error';

/**
 * The errors of the TOTP module: ZITADEL's ids and English texts for its commands, plus our lockout.
 * The OpenAPI examples of the controller use the same ids and texts (TOTP_ERROR_TEXT).
 */
export const TOTP_ERROR_TEXT = {
  userNotFound: { id: 'COMMAND-SqyJz', message: 'User could not be found' },
  alreadySetUp: { id: 'COMMAND-do9se', message: 'Multifactor OTP (OneTimePassword) is already set up' },
  /** No factor to remove (`COMMAND-Hd9sd`) or to take a code (`COMMAND-3Mif9s`): upstream's two ids. */
  notExisting: {
    id: 'COMMAND-3Mif9s',
    removeId: 'COMMAND-Hd9sd',
    message: "Multifactor OTP (OneTimePassword) doesn't exist",
  },
  // Upstream's typo `Users` has no translation, so the raw key is the message.
  alreadyReady: { id: 'COMMAND-qx4ls', message: 'Errors.Users.MFA.OTP.AlreadyReady' },
  notReady: { id: 'COMMAND-3Mif9s', message: "Multifactor OTP (OneTimePassword) isn't ready" },
  invalidCode: { id: 'EVENT-8isk2', message: 'Invalid code' },
  locked: { id: 'TOTP-4ttmp', message: 'Too many failed attempts, try again later' },
} as const;

const T = TOTP_ERROR_TEXT;

export const TotpErrors = {
  userNotFound: (): DomainError => Errors.failedPrecondition(T.userNotFound.id, T.userNotFound.message),
  alreadySetUp: (): DomainError => Errors.alreadyExists(T.alreadySetUp.id, T.alreadySetUp.message),
  /** No factor to take a code. */
  notExisting: (): DomainError => Errors.notFound(T.notExisting.id, T.notExisting.message),
  /** No factor to remove. */
  nothingToRemove: (): DomainError => Errors.notFound(T.notExisting.removeId, T.notExisting.message),
  alreadyReady: (): DomainError => Errors.failedPrecondition(T.alreadyReady.id, T.alreadyReady.message),
  notReady: (): DomainError => Errors.failedPrecondition(T.notReady.id, T.notReady.message),
  invalidCode: (): DomainError => Errors.invalidArgument(T.invalidCode.id, T.invalidCode.message),
  locked: (retryAfterSeconds: number): DomainError =>
    Errors.resourceExhausted(T.locked.id, T.locked.message, { retryAfterSeconds }),
};
