import { Errors } from '../common/errors/domain-error';

/** ZITADEL's errors of AddOTPEmail / RemoveOTPEmail (ids and English texts). */
export const OtpEmailErrors = {
  alreadyExists: () =>
    Errors.alreadyExists('COMMAND-MKL2s', 'Multifactor OTP (OneTimePassword) is already set up'),
  emailNotVerified: () =>
    Errors.failedPrecondition('COMMAND-KLJ2d', "Multifactor OTP (OneTimePassword) isn't ready"),
  notFound: () => Errors.notFound('COMMAND-b312D', "Multifactor OTP (OneTimePassword) doesn't exist"),
};
